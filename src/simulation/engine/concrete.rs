//! The concrete run: the steps one input takes, assuming the given decisions and failures.
use super::*;

/// The concrete run: which steps run for this input, assuming the given decisions.
pub(super) fn run_concrete(
    c: &Compiled,
    input: &Value,
    decisions: &HashMap<String, ApprovalDecision>,
    fail: &HashSet<String>,
) -> (Trail, Vec<Visit>, SimulationStatus) {
    let n = c.steps.len();
    let mut trail = Vec::new();
    let mut detail = Vec::new();
    let mut runs = vec![0usize; n];
    let mut i = 0;
    let guard = max_visits(c);
    let mut status = SimulationStatus::Succeeded;
    while i < n && trail.len() < guard {
        let step = &c.steps[i];
        let cond = c.conditions[i].as_ref().map(|cd| {
            let (ok, cmp) = cd.explain(input);
            ConditionResult {
                expression: step.conditions.clone().unwrap_or(Value::Null),
                result: ok,
                comparisons: cmp.into_iter().map(Into::into).collect(),
            }
        });
        if cond.as_ref().is_some_and(|r| !r.result) {
            trail.push((i as u32, StepStatus::Skipped));
            detail.push((i, cond, None));
            i += 1;
            continue;
        }
        runs[i] += 1;
        if fail.contains(&step.name) {
            trail.push((i as u32, StepStatus::Failed));
            detail.push((i, cond, None));
            status = SimulationStatus::Failed;
            break;
        }
        trail.push((i as u32, StepStatus::Run));
        if step.approver.is_some()
            && decisions.get(&step.name).copied() == Some(ApprovalDecision::Rejected)
        {
            detail.push((i, cond, None));
            status = SimulationStatus::Rejected;
            break;
        }
        let (branch, _) = pick(c, i, input);
        detail.push((i, cond, branch));
        i = route(c, i, branch, &|t| runs[t]);
    }
    (trail, detail, status)
}

/// How the concrete run chose the way out of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Pick {
    /// A branch condition held on the input's fields (or the step has no branches).
    Input,
    /// The input decides nothing; the discovered choice's most likely branch for this input,
    /// with its share of the similar cases in the history and how many those were.
    Likely(f64, u32),
    /// The input decides nothing and nothing is known: the default route.
    Default,
}

/// The way out of step `i`: the first branch whose condition holds; else, for a discovered
/// choice, its most likely branch given the input; else none (the default route).
pub(super) fn pick(c: &Compiled, i: usize, input: &Value) -> (Option<usize>, Pick) {
    let branches = &c.branches[i];
    if let Some(j) = branches.iter().position(|(bc, _)| bc.matches(input)) {
        return (Some(j), Pick::Input);
    }
    let undecided = branches.iter().any(|(bc, _)| {
        bc.fields()
            .iter()
            .any(|f| crate::conditions::resolve(input, f).is_empty())
    });
    if !undecided {
        return (None, Pick::Input);
    }
    let model = c.steps[i].branch_model.as_ref();
    match model.filter(|m| m.counts.len() == branches.len()) {
        Some(m) => {
            let node = m.node(input);
            let (j, n) = node
                .counts
                .iter()
                .enumerate()
                .max_by_key(|(j, n)| (**n, std::cmp::Reverse(*j)))
                .map_or((0, 0), |(j, n)| (j, *n));
            let cases = node.cases();
            let share = if cases == 0 {
                0.0
            } else {
                n as f64 / cases as f64
            };
            (Some(j), Pick::Likely(share, cases))
        }
        None => (None, Pick::Default),
    }
}

/// A warning for a choice the input did not decide: which way the concrete run went, and why.
fn undecided_route(c: &Compiled, i: usize, branch: Option<usize>, how: Pick) -> Option<Issue> {
    let s = &c.steps[i];
    let target = |j: Option<usize>| {
        j.and_then(|j| s.branches.as_ref()?.get(j))
            .map(|b| b.next_step.clone())
            .or_else(|| s.default_next.clone())
            .unwrap_or_else(|| "the next step".into())
    };
    let how = match how {
        Pick::Input => return None,
        Pick::Likely(share, cases) => format!(
            "the run takes its most likely branch for this input, to {:?} ({:.0} % of the {cases} \
             similar cases in the history), and the forecast draws the branch",
            target(branch),
            100.0 * share
        ),
        Pick::Default => format!(
            "nothing in the history says how it depends on the input, so the run takes the \
             default route, to {:?}",
            target(branch)
        ),
    };
    Some(issue(
        "ROUTE_NOT_DECIDED",
        format!(
            "steps[{i}] ({}): the input does not decide this choice; {how}",
            s.name
        ),
        Some(&s.name),
        None,
    ))
}

/// The concrete run as the API shows it, and what its timing needs.
#[derive(Default)]
pub(super) struct ConcretePath {
    pub(super) steps: Vec<PathStep>,
    pub(super) approval_chain: Vec<ApprovalRequirement>,
    /// (step, p50) and (step, p95 or p50) of the steps that ran.
    pub(super) ran50: Vec<(usize, i64)>,
    pub(super) ran95: Vec<(usize, i64)>,
    /// Whether any step that ran has recorded durations.
    pub(super) any_history: bool,
}

/// Builds the path of the concrete run, checking each step on the way: conditions that read
/// missing fields, non-idempotent side effects, and each step's input against its action's
/// schema.
pub(super) fn concrete_path(
    c: &Compiled,
    req: &Request<'_>,
    visits: Vec<Visit>,
    found: &mut Found,
) -> ConcretePath {
    let mut path = ConcretePath::default();
    let mut missing_warned: HashSet<(String, String)> = HashSet::new();
    for (i, cond, branch) in visits {
        let s = &c.steps[i];
        let est = estimate(&s.name, &s.action, req);
        let skipped = cond.as_ref().is_some_and(|r| !r.result);
        let failed = !skipped && req.fail_steps.contains(&s.name);
        missing_fields(c, req, i, skipped, &mut missing_warned, &mut found.warnings);
        let status = match (skipped, failed) {
            (true, _) => StepStatus::Skipped,
            (false, true) => StepStatus::Failed,
            _ => StepStatus::Run,
        };
        let mut decision = None;
        if !skipped {
            path.ran50.push((i, est.p50));
            path.ran95.push((i, est.p95.unwrap_or(est.p50)));
            path.any_history |= est.p95.is_some();
            decision = approval(c, req, i, &mut path.approval_chain);
            action_checks(c, req, i, found);
            let (_, how) = pick(c, i, req.input);
            found.warnings.extend(undecided_route(c, i, branch, how));
        }
        path.steps.push(PathStep {
            index: i as i32,
            name: s.name.clone(),
            action: s.action.clone(),
            status,
            condition: cond,
            predicted_duration_ms: if skipped { 0 } else { est.p50 },
            predicted_duration_p95_ms: if skipped { None } else { est.p95 },
            duration_source: est.source,
            approver: s.approver.clone(),
            decision,
            branch_taken: branch.map(|b| b as i32),
        });
    }
    path
}

/// Warns (once per step and field) about conditions that read fields the input lacks: the
/// step's own, and its branches' when it ran.
fn missing_fields(
    c: &Compiled,
    req: &Request<'_>,
    i: usize,
    skipped: bool,
    warned: &mut HashSet<(String, String)>,
    warnings: &mut Vec<Issue>,
) {
    let s = &c.steps[i];
    let mut evaluated: Vec<&Cond> = c.conditions[i].iter().collect();
    if !skipped {
        evaluated.extend(c.branches[i].iter().map(|(b, _)| b));
    }
    for f in evaluated.into_iter().flat_map(|cd| cd.fields()) {
        if crate::conditions::resolve(req.input, &f).is_empty()
            && warned.insert((s.name.clone(), f.clone()))
        {
            warnings.push(issue(
                "MISSING_FIELD",
                format!(
                    "steps[{i}] ({}): a condition reads {f:?}, which is missing from the input",
                    s.name
                ),
                Some(&s.name),
                Some(f),
            ));
        }
    }
}

/// An approval step that ran: its requirement joins the chain, and its decision is the one
/// given (approved by default).
fn approval(
    c: &Compiled,
    req: &Request<'_>,
    i: usize,
    chain: &mut Vec<ApprovalRequirement>,
) -> Option<ApprovalDecision> {
    let s = &c.steps[i];
    let a = s.approver.as_ref()?;
    chain.push(ApprovalRequirement {
        step: s.name.clone(),
        step_index: i as i32,
        approver: a.clone(),
        condition: s.conditions.clone(),
    });
    Some(
        req.decisions
            .get(&s.name)
            .copied()
            .unwrap_or(ApprovalDecision::Approved),
    )
}

/// What the catalog says about a step that ran: a retry would repeat side effects of a
/// non-idempotent action, and the step's input must match the action's input schema.
fn action_checks(c: &Compiled, req: &Request<'_>, i: usize, found: &mut Found) {
    let s = &c.steps[i];
    let Some(entry) = req.catalog.get(&s.action) else {
        return;
    };
    let at = format!("steps[{i}] ({}): ", s.name);
    if !entry.is_idempotent && !entry.side_effects.is_empty() {
        found.warnings.push(issue(
            "NON_IDEMPOTENT_SIDE_EFFECTS",
            format!(
                "{at}{:?} is not idempotent and has side effects ({}); a retry would repeat them",
                s.action,
                entry.side_effects.join(", ")
            ),
            Some(&s.name),
            None,
        ));
    }
    if let Some(schema) = &entry.input_schema {
        let step_input = s
            .input
            .as_ref()
            .map(|t| render(t, req.input))
            .unwrap_or_else(|| req.input.clone());
        let doc = (schema, &step_input);
        let issues = schema_issues("STEP_INPUT_SCHEMA", &at, Some(&s.name), doc, None);
        found.errors.extend(issues);
    }
}

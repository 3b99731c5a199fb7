//! The simulation engine (pure: plain structs in, plain structs out, no I/O).
//!
//! Routing rules, shared by the concrete run and the exploration:
//! - a step whose `conditions` do not hold is SKIPPED and the next step in list order follows;
//! - after a step runs, its `branches` are tried in order and the first whose condition holds
//!   names the next step; when none holds, `default_next` does, else the next step in order;
//! - a branch back to an earlier step (a loop) is followed while the target has run fewer than
//!   `max_iterations` times (the smallest declared in the loop); after that, the next step in
//!   order follows;
//! - a REJECTED approval or a failed step ends the run.
use super::forecast::{self, Forecast};
use crate::catalog::schema::violations;
use crate::conditions::symbolic::{FieldConstraint, Region, Space};
use crate::conditions::{Comparison, Cond};
use crate::model::{ApprovalDecision, LatencyClass};
use crate::str_enum;
use crate::workflows::steps::{Compiled, GATEWAY, compile};
use async_graphql::SimpleObject;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What the catalog says about an action.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub latency_class: LatencyClass,
    pub avg_execution_time_ms: f64,
    pub execution_count: i64,
    pub is_idempotent: bool,
    pub side_effects: Vec<String>,
    pub input_schema: Option<Value>,
}

/// Past durations of one step.
#[derive(Clone, Debug)]
pub struct StepHistory {
    pub p50_ms: i64,
    pub p95_ms: i64,
    pub samples: usize,
    /// The durations themselves, sorted (a forecast draws from them).
    pub sorted_ms: Vec<i64>,
    /// Of the samples, how many ended their case: a rejection or a failure.
    pub ended: usize,
}

#[derive(Clone, Debug)]
pub struct SlaTarget {
    pub name: String,
    pub target_seconds: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most distinct paths reported.
    pub max_paths: usize,
    /// Most region splits performed while exploring.
    pub max_work: usize,
    /// Most regions kept per path.
    pub max_regions_per_path: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_paths: 64,
            max_work: 200_000,
            max_regions_per_path: 16,
        }
    }
}

/// Everything a simulation reads.
pub struct Request<'a> {
    pub steps: &'a Value,
    pub input: &'a Value,
    pub input_schema: Option<&'a Value>,
    pub catalog: &'a HashMap<String, CatalogEntry>,
    pub history: &'a HashMap<String, StepHistory>,
    pub slas: &'a [SlaTarget],
    pub decisions: &'a HashMap<String, ApprovalDecision>,
    pub fail_steps: &'a HashSet<String>,
    pub limits: Limits,
    /// Runs and seed of the Monte Carlo forecast. Without them, a forecast is made (with the
    /// defaults) only when some branch carries a probability.
    pub forecast: Option<(u32, u64)>,
}

str_enum!(
    /// How the simulated run ends.
    SimulationStatus {
        Succeeded => "succeeded",
        Failed => "failed",
        Rejected => "rejected",
        Invalid => "invalid",
    }
);

str_enum!(
    StepStatus { Run => "run", Skipped => "skipped", Failed => "failed" }
);

str_enum!(
    /// Where a predicted duration comes from.
    DurationSource {
        History => "history",
        Catalog => "catalog",
        LatencyClass => "latency_class",
        Default => "default",
        Routing => "routing",
    }
);

/// A condition as evaluated for the given input.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ConditionResult {
    pub expression: Value,
    pub result: bool,
    /// Each field comparison with the actual operand it saw.
    pub comparisons: Vec<FieldComparison>,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct FieldComparison {
    pub field: String,
    pub operator: Value,
    /// The input's value at that field; null when missing.
    pub actual: Option<Value>,
    pub missing: bool,
    pub result: bool,
}

impl From<Comparison> for FieldComparison {
    fn from(c: Comparison) -> Self {
        FieldComparison {
            field: c.field,
            operator: c.operator,
            missing: c.actual.is_none(),
            actual: c.actual,
            result: c.result,
        }
    }
}

/// One step of the simulated run.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct PathStep {
    pub index: i32,
    pub name: String,
    pub action: String,
    pub status: StepStatus,
    pub condition: Option<ConditionResult>,
    pub predicted_duration_ms: i64,
    pub predicted_duration_p95_ms: Option<i64>,
    pub duration_source: DurationSource,
    pub approver: Option<String>,
    pub decision: Option<ApprovalDecision>,
    /// The branch taken after this step, by index, when one matched.
    pub branch_taken: Option<i32>,
}

/// An approver the input requires.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequirement {
    pub step: String,
    pub step_index: i32,
    pub approver: String,
    /// The condition that made this approval required; null when it always is.
    pub condition: Option<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// A stable code, such as ACTION_NOT_IN_CATALOG.
    pub code: String,
    pub message: String,
    pub step: Option<String>,
    /// A JSON pointer or path where one applies.
    pub path: Option<String>,
}

fn issue(code: &str, message: String, step: Option<&str>, path: Option<String>) -> Issue {
    Issue {
        code: code.into(),
        message,
        step: step.map(str::to_string),
        path,
    }
}

/// One region of the input space, as per-field constraints.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct PathRegion {
    pub constraints: Vec<FieldConstraint>,
    pub description: String,
}

/// A distinct path through the workflow and the inputs that take it.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ExploredPath {
    /// The steps that run, in order.
    pub steps: Vec<String>,
    pub skipped_steps: Vec<String>,
    /// The inputs that select this path: the union of these regions.
    pub regions: Vec<PathRegion>,
    /// The regions as text, such as `10000 < amount <= 50000`.
    pub description: String,
    /// One input that takes this path.
    pub witness: Value,
    /// Whether the witness was re-run and took this path (false only around `$regex`).
    pub witness_verified: bool,
    pub approval_chain: Vec<String>,
    pub predicted_duration_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ConstantCondition {
    pub step: String,
    /// Null for the step's own `conditions`, else the branch index.
    pub branch: Option<i32>,
    pub always: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct BranchOverlap {
    pub step: String,
    pub branches: Vec<i32>,
    /// An input both branches match; the earlier branch wins for it.
    pub witness: Value,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct BranchGap {
    pub step: String,
    /// An input no branch matches (it falls through to the next step in order).
    pub witness: Value,
}

/// Every path across the input space, and what the exploration noticed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Exploration {
    pub paths: Vec<ExploredPath>,
    /// Whether the path cap or the work budget stopped the exploration early.
    pub truncated: bool,
    pub max_paths: i32,
    pub fields: Vec<String>,
    /// Steps no input reaches (empty when truncated, since it cannot be known).
    pub unreachable_steps: Vec<String>,
    pub constant_conditions: Vec<ConstantCondition>,
    pub overlapping_branches: Vec<BranchOverlap>,
    pub branch_gaps: Vec<BranchGap>,
}

/// The simulation's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: SimulationStatus,
    pub execution_path: Vec<PathStep>,
    pub approval_chain: Vec<ApprovalRequirement>,
    pub branch_explorations: Exploration,
    pub predicted_duration_ms: i64,
    pub predicted_duration_p95_ms: Option<i64>,
    pub validation_errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub forecast: Option<Forecast>,
}

#[derive(Clone, Copy, Debug)]
struct Estimate {
    p50: i64,
    p95: Option<i64>,
    source: DurationSource,
}

/// A step's duration when it has no recorded durations of its own (for forecasts).
pub fn fallback_ms(
    step: &str,
    action: &str,
    catalog: &HashMap<String, CatalogEntry>,
    history: &HashMap<String, StepHistory>,
) -> i64 {
    estimate_from(step, action, catalog, history).p50
}

fn estimate(step_name: &str, action: &str, req: &Request<'_>) -> Estimate {
    estimate_from(step_name, action, req.catalog, req.history)
}

fn estimate_from(
    step_name: &str,
    action: &str,
    catalog: &HashMap<String, CatalogEntry>,
    history: &HashMap<String, StepHistory>,
) -> Estimate {
    if action == GATEWAY {
        return Estimate {
            p50: 0,
            p95: None,
            source: DurationSource::Routing,
        };
    }
    if let Some(h) = history.get(step_name).filter(|h| h.samples > 0) {
        return Estimate {
            p50: h.p50_ms,
            p95: Some(h.p95_ms),
            source: DurationSource::History,
        };
    }
    match catalog.get(action) {
        Some(c) if c.execution_count > 0 => Estimate {
            p50: c.avg_execution_time_ms.round() as i64,
            p95: None,
            source: DurationSource::Catalog,
        },
        Some(c) => Estimate {
            p50: c.latency_class.default_duration_ms(),
            p95: None,
            source: DurationSource::LatencyClass,
        },
        None => Estimate {
            p50: LatencyClass::Medium.default_duration_ms(),
            p95: None,
            source: DurationSource::Default,
        },
    }
}

/// How long the steps that ran take, given each one's duration: the lanes of a parallel group
/// run at the same time, so a group takes as long as its slowest lane; everything else adds
/// up.
pub(super) fn elapsed(c: &Compiled, ran: &[(usize, i64)]) -> i64 {
    let mut total = 0i64;
    let mut lanes: HashMap<(&str, u32), i64> = HashMap::new();
    for (i, d) in ran {
        match &c.steps[*i].parallel {
            Some(l) => *lanes.entry((l.group.as_str(), l.lane)).or_default() += d,
            None => total += d,
        }
    }
    let mut slowest: HashMap<&str, i64> = HashMap::new();
    for ((group, _), d) in lanes {
        let g = slowest.entry(group).or_default();
        *g = (*g).max(d);
    }
    total + slowest.values().sum::<i64>()
}

/// How many step visits a run may make before it is cut off: every step as often as the
/// largest loop bound allows, plus slack (a guard against routing that never ends).
pub(super) fn max_visits(c: &Compiled) -> usize {
    let bound = c
        .steps
        .iter()
        .filter_map(|s| s.max_iterations)
        .max()
        .unwrap_or(1) as usize;
    c.steps.len().saturating_mul(bound + 1) + 8
}

/// The next step after step `i` ran, given which branch (if any) matched.
pub(super) fn route(
    c: &Compiled,
    i: usize,
    branch: Option<usize>,
    runs: &dyn Fn(usize) -> usize,
) -> usize {
    let target = match branch {
        Some(j) => c.branches[i][j].1,
        None => c.default_next[i].unwrap_or(i + 1),
    };
    if target <= i {
        let limit = c.steps[target..=i]
            .iter()
            .filter_map(|s| s.max_iterations)
            .min()
            .unwrap_or(1) as usize;
        if runs(target) >= limit {
            return i + 1;
        }
    }
    target
}

/// Substitutes `{{path}}` placeholders in a step's static input from the workflow input (a
/// path the input lacks is null).
fn render(template: &Value, input: &Value) -> Value {
    let lookup = |path: &str| {
        let found = crate::conditions::resolve(input, path)
            .first()
            .map(|v| (*v).clone());
        Some(found.unwrap_or(Value::Null))
    };
    crate::placeholders::substitute(template, &lookup)
}

type Trail = Vec<(u32, StepStatus)>;

/// Per visited step: its index, its condition's result, and the branch taken.
type Visit = (usize, Option<ConditionResult>, Option<usize>);

/// The concrete run: which steps run for this input, assuming the given decisions.
fn run_concrete(
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
        let branch = c.branches[i].iter().position(|(bc, _)| bc.matches(input));
        detail.push((i, cond, branch));
        i = route(c, i, branch, &|t| runs[t]);
    }
    (trail, detail, status)
}

struct Work {
    at: At,
    region: Region,
    trail_len: usize,
    push: Option<(u32, StepStatus)>,
}

#[derive(Clone, Copy)]
enum At {
    /// Arrive at a step (its conditions decide whether it runs).
    Step(usize),
    /// Step ran: route by its branches.
    Route(usize),
}

fn explore(c: &Compiled, space: &mut Space, limits: Limits) -> (Vec<(Trail, Vec<Region>)>, bool) {
    let n = c.steps.len();
    let mut paths: Vec<(Trail, Vec<Region>)> = Vec::new();
    let mut index: HashMap<Trail, usize> = HashMap::new();
    let mut truncated = false;
    let mut trail: Trail = Vec::new();
    let mut stack = vec![Work {
        at: At::Step(0),
        region: space.full(),
        trail_len: 0,
        push: None,
    }];
    let guard = max_visits(c);
    while let Some(w) = stack.pop() {
        if space.work > limits.max_work {
            truncated = true;
            break;
        }
        trail.truncate(w.trail_len);
        if let Some(e) = w.push {
            trail.push(e);
        }
        match w.at {
            At::Step(i) if i >= n || trail.len() >= guard => match index.get(&trail) {
                Some(&k) => {
                    if paths[k].1.len() < limits.max_regions_per_path {
                        paths[k].1.push(w.region);
                    }
                }
                None if paths.len() >= limits.max_paths => {
                    truncated = true;
                    break;
                }
                None => {
                    index.insert(trail.clone(), paths.len());
                    paths.push((trail.clone(), vec![w.region]));
                }
            },
            At::Step(i) => {
                let len = trail.len();
                match &c.conditions[i] {
                    None => stack.push(Work {
                        at: At::Route(i),
                        region: w.region,
                        trail_len: len,
                        push: Some((i as u32, StepStatus::Run)),
                    }),
                    Some(cond) => {
                        let (t, f) = space.split(&w.region, cond);
                        for r in f {
                            stack.push(Work {
                                at: At::Step(i + 1),
                                region: r,
                                trail_len: len,
                                push: Some((i as u32, StepStatus::Skipped)),
                            });
                        }
                        for r in t {
                            stack.push(Work {
                                at: At::Route(i),
                                region: r,
                                trail_len: len,
                                push: Some((i as u32, StepStatus::Run)),
                            });
                        }
                    }
                }
            }
            At::Route(i) => {
                let len = trail.len();
                let runs = |t: usize| {
                    trail
                        .iter()
                        .filter(|(s, st)| *s as usize == t && *st == StepStatus::Run)
                        .count()
                };
                let mut rest = vec![w.region];
                let mut next = Vec::new();
                for (j, (bc, _)) in c.branches[i].iter().enumerate() {
                    let mut remaining = Vec::new();
                    for r in &rest {
                        let (t, f) = space.split(r, bc);
                        let target = route(c, i, Some(j), &runs);
                        next.extend(t.into_iter().map(|r| (target, r)));
                        remaining.extend(f);
                    }
                    rest = remaining;
                }
                let fallback = route(c, i, None, &runs);
                next.extend(rest.into_iter().map(|r| (fallback, r)));
                for (target, r) in next.into_iter().rev() {
                    stack.push(Work {
                        at: At::Step(target),
                        region: r,
                        trail_len: len,
                        push: None,
                    });
                }
            }
        }
    }
    (paths, truncated)
}

/// Runs a simulation.
pub fn simulate(req: &Request<'_>) -> Outcome {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let compiled = match compile(req.steps) {
        Ok(c) => c,
        Err(e) => {
            errors.push(issue("INVALID_STEPS", e, None, None));
            return Outcome {
                status: SimulationStatus::Invalid,
                execution_path: vec![],
                approval_chain: vec![],
                branch_explorations: Exploration::default(),
                predicted_duration_ms: 0,
                predicted_duration_p95_ms: None,
                validation_errors: errors,
                warnings,
                forecast: None,
            };
        }
    };
    let c = &compiled;
    for (i, s) in c.steps.iter().enumerate() {
        // A step with a history of runs needs no catalog entry to be simulated.
        let has_history = req.history.get(&s.name).is_some_and(|h| h.samples > 0);
        if s.action != GATEWAY && !has_history && !req.catalog.contains_key(&s.action) {
            errors.push(issue(
                "ACTION_NOT_IN_CATALOG",
                format!(
                    "steps[{i}] ({}): action {:?} is not in the catalog",
                    s.name, s.action
                ),
                Some(&s.name),
                None,
            ));
            warnings.push(issue(
                "DEFAULT_DURATION",
                format!(
                    "steps[{i}] ({}): no catalog entry for {:?}, so its duration is the default {} ms",
                    s.name,
                    s.action,
                    LatencyClass::Medium.default_duration_ms()
                ),
                Some(&s.name),
                None,
            ));
        }
    }
    if let Some(schema) = req.input_schema {
        match violations(schema, req.input) {
            Ok(vs) => errors.extend(vs.into_iter().map(|v| {
                issue(
                    "INPUT_SCHEMA",
                    format!(
                        "input {}: {}",
                        if v.pointer.is_empty() {
                            "/"
                        } else {
                            &v.pointer
                        },
                        v.message
                    ),
                    None,
                    Some(v.pointer),
                )
            })),
            Err(e) => errors.push(issue(
                "INPUT_SCHEMA",
                format!("the workflow's inputSchema cannot be used: {e}"),
                None,
                None,
            )),
        }
    }

    // The concrete run.
    let (_, detail, mut status) = run_concrete(c, req.input, req.decisions, req.fail_steps);
    let mut execution_path = Vec::new();
    let mut approval_chain = Vec::new();
    let (mut ran50, mut ran95) = (Vec::new(), Vec::new());
    let mut any_history = false;
    let mut missing_warned: HashSet<(String, String)> = HashSet::new();
    for (i, cond, branch) in detail {
        let s = &c.steps[i];
        let est = estimate(&s.name, &s.action, req);
        let skipped = cond.as_ref().is_some_and(|r| !r.result);
        let failed = !skipped && req.fail_steps.contains(&s.name);
        // Warn about conditions that read fields the input lacks.
        let mut evaluated: Vec<&Cond> = c.conditions[i].iter().collect();
        if !skipped {
            evaluated.extend(c.branches[i].iter().map(|(b, _)| b));
        }
        for cd in evaluated {
            for f in cd.fields() {
                if crate::conditions::resolve(req.input, &f).is_empty()
                    && missing_warned.insert((s.name.clone(), f.clone()))
                {
                    warnings.push(issue(
                        "MISSING_FIELD",
                        format!("steps[{i}] ({}): a condition reads {f:?}, which is missing from the input", s.name),
                        Some(&s.name),
                        Some(f),
                    ));
                }
            }
        }
        let status_here = if skipped {
            StepStatus::Skipped
        } else if failed {
            StepStatus::Failed
        } else {
            StepStatus::Run
        };
        let mut decision = None;
        if !skipped {
            ran50.push((i, est.p50));
            ran95.push((i, est.p95.unwrap_or(est.p50)));
            any_history |= est.p95.is_some();
            if let Some(a) = &s.approver {
                decision = Some(
                    req.decisions
                        .get(&s.name)
                        .copied()
                        .unwrap_or(ApprovalDecision::Approved),
                );
                approval_chain.push(ApprovalRequirement {
                    step: s.name.clone(),
                    step_index: i as i32,
                    approver: a.clone(),
                    condition: s.conditions.clone(),
                });
            }
            if let Some(entry) = req.catalog.get(&s.action) {
                if !entry.is_idempotent && !entry.side_effects.is_empty() {
                    warnings.push(issue(
                        "NON_IDEMPOTENT_SIDE_EFFECTS",
                        format!(
                            "steps[{i}] ({}): {:?} is not idempotent and has side effects ({}); a retry would repeat them",
                            s.name,
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
                    if let Ok(vs) = violations(schema, &step_input) {
                        errors.extend(vs.into_iter().map(|v| {
                            issue(
                                "STEP_INPUT_SCHEMA",
                                format!(
                                    "steps[{i}] ({}): input {}: {}",
                                    s.name,
                                    if v.pointer.is_empty() {
                                        "/"
                                    } else {
                                        &v.pointer
                                    },
                                    v.message
                                ),
                                Some(&s.name),
                                Some(v.pointer),
                            )
                        }));
                    }
                }
            }
        }
        execution_path.push(PathStep {
            index: i as i32,
            name: s.name.clone(),
            action: s.action.clone(),
            status: status_here,
            condition: cond,
            predicted_duration_ms: if skipped { 0 } else { est.p50 },
            predicted_duration_p95_ms: if skipped { None } else { est.p95 },
            duration_source: est.source,
            approver: s.approver.clone(),
            decision,
            branch_taken: branch.map(|b| b as i32),
        });
    }
    let (total, total95) = (elapsed(c, &ran50), elapsed(c, &ran95));
    for sla in req.slas {
        if total > sla.target_seconds.saturating_mul(1000) {
            warnings.push(issue(
                "SLA_TARGET_EXCEEDED",
                format!(
                    "the predicted duration {:.1} s exceeds SLA {:?}'s target of {} s",
                    total as f64 / 1000.0,
                    sla.name,
                    sla.target_seconds
                ),
                None,
                None,
            ));
        }
    }
    if !errors.is_empty() {
        status = SimulationStatus::Invalid;
    }

    let branch_explorations = exploration(c, req);
    warnings.extend(exploration_warnings(&branch_explorations));
    let forecast = forecast(c, req);
    // When the input left choices to chance, the forecast's distribution is the prediction.
    let (p50, p95) = match &forecast {
        Some(f) if f.drawn_choices > 0 => (f.p50_ms, Some(f.p95_ms)),
        _ => (total, any_history.then_some(total95)),
    };
    Outcome {
        status,
        execution_path,
        approval_chain,
        branch_explorations,
        predicted_duration_ms: p50,
        predicted_duration_p95_ms: p95,
        validation_errors: errors,
        warnings,
        forecast,
    }
}

/// The Monte Carlo forecast, when asked for or when some branch carries a probability.
fn forecast(c: &Compiled, req: &Request<'_>) -> Option<Forecast> {
    let probabilistic = c
        .steps
        .iter()
        .flat_map(|s| s.branches.iter().flatten())
        .any(|b| b.probability.is_some());
    let (runs, seed) = req
        .forecast
        .or(probabilistic.then_some((forecast::DEFAULT_RUNS, 1)))?;
    let fallback = |i: usize| estimate(&c.steps[i].name, &c.steps[i].action, req).p50;
    let model = forecast::Model {
        compiled: c,
        history: req.history,
        fallback: &fallback,
    };
    Some(model.forecast(req.input, runs, seed))
}

/// What the branch exploration found, as warnings: the first place a user looks.
fn exploration_warnings(ex: &Exploration) -> Vec<Issue> {
    let mut out = Vec::new();
    for s in &ex.unreachable_steps {
        let m = format!("step {s:?} is unreachable: no input runs it");
        out.push(issue("UNREACHABLE_STEP", m, Some(s), None));
    }
    for c in &ex.constant_conditions {
        let (code, value) = match c.always {
            true => ("CONDITION_ALWAYS_TRUE", "true"),
            false => ("CONDITION_ALWAYS_FALSE", "false"),
        };
        let (what, path) = match c.branch {
            Some(b) => (
                format!("branch {b}'s condition"),
                format!("/branches/{b}/condition"),
            ),
            None => ("its condition".to_string(), "/conditions".to_string()),
        };
        let m = format!("step {:?}: {what} is {value} for every input", c.step);
        out.push(issue(code, m, Some(&c.step), Some(path)));
    }
    for o in &ex.overlapping_branches {
        let m = format!(
            "step {:?}: branches {:?} both match some inputs (for example {}); the earlier wins",
            o.step, o.branches, o.witness
        );
        out.push(issue("BRANCHES_OVERLAP", m, Some(&o.step), None));
    }
    for g in &ex.branch_gaps {
        let m = format!(
            "step {:?}: no branch matches some inputs (for example {}); they fall through",
            g.step, g.witness
        );
        out.push(issue("BRANCH_GAP", m, Some(&g.step), None));
    }
    if ex.truncated {
        let m = format!(
            "the exploration stopped at {} paths: unreachable steps cannot be known",
            ex.max_paths
        );
        out.push(issue("EXPLORATION_TRUNCATED", m, None, None));
    }
    out
}

fn exploration(c: &Compiled, req: &Request<'_>) -> Exploration {
    let all_conds: Vec<&Cond> = c
        .conditions
        .iter()
        .flatten()
        .chain(c.branches.iter().flatten().map(|(b, _)| b))
        .collect();
    let mut space = Space::new(all_conds.iter().copied(), req.input_schema);
    let (raw, truncated) = explore(c, &mut space, req.limits);
    let no_decisions = HashMap::new();
    let no_failures = HashSet::new();
    let mut paths = Vec::with_capacity(raw.len());
    let mut ran: HashSet<usize> = HashSet::new();
    for (trail, regions) in raw {
        let regions = space.merge(regions);
        let witness = space.witness(&regions[0]);
        let (concrete, _, _) = run_concrete(c, &witness, &no_decisions, &no_failures);
        let mut steps = Vec::new();
        let mut skipped = Vec::new();
        let mut chain = Vec::new();
        let mut durations = Vec::new();
        for (i, st) in &trail {
            let s = &c.steps[*i as usize];
            match st {
                StepStatus::Run | StepStatus::Failed => {
                    ran.insert(*i as usize);
                    steps.push(s.name.clone());
                    durations.push((*i as usize, estimate(&s.name, &s.action, req).p50));
                    if let Some(a) = &s.approver {
                        chain.push(a.clone());
                    }
                }
                StepStatus::Skipped => skipped.push(s.name.clone()),
            }
        }
        let described: Vec<PathRegion> = regions
            .iter()
            .map(|r| {
                let constraints = space.describe(r);
                let description = if constraints.is_empty() {
                    "any input".to_string()
                } else {
                    constraints
                        .iter()
                        .map(|x| x.description.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                };
                PathRegion {
                    constraints,
                    description,
                }
            })
            .collect();
        paths.push(ExploredPath {
            description: described
                .iter()
                .map(|r| r.description.as_str())
                .collect::<Vec<_>>()
                .join("; or "),
            steps,
            skipped_steps: skipped,
            regions: described,
            witness,
            witness_verified: concrete == trail,
            approval_chain: chain,
            predicted_duration_ms: elapsed(c, &durations),
        });
    }

    let full = space.full();
    let mut constant = Vec::new();
    let mut overlaps = Vec::new();
    let mut gaps = Vec::new();
    for (i, s) in c.steps.iter().enumerate() {
        if let Some(cd) = &c.conditions[i] {
            let (t, f) = space.split(&full, cd);
            if t.is_empty() || f.is_empty() {
                constant.push(ConstantCondition {
                    step: s.name.clone(),
                    branch: None,
                    always: f.is_empty(),
                });
            }
        }
        let bs = &c.branches[i];
        for (j, (bc, _)) in bs.iter().enumerate() {
            let (t, f) = space.split(&full, bc);
            if t.is_empty() || f.is_empty() {
                constant.push(ConstantCondition {
                    step: s.name.clone(),
                    branch: Some(j as i32),
                    always: f.is_empty(),
                });
            }
            for (k, (bk, _)) in bs.iter().enumerate().skip(j + 1) {
                let (both, _) = space.split(&full, &Cond::And(vec![bc.clone(), bk.clone()]));
                if let Some(r) = both.first() {
                    overlaps.push(BranchOverlap {
                        step: s.name.clone(),
                        branches: vec![j as i32, k as i32],
                        witness: space.witness(r),
                    });
                }
            }
        }
        if !bs.is_empty() && c.default_next[i].is_none() {
            let (_, none) = space.split(
                &full,
                &Cond::Or(bs.iter().map(|(b, _)| b.clone()).collect()),
            );
            if let Some(r) = none.first() {
                gaps.push(BranchGap {
                    step: s.name.clone(),
                    witness: space.witness(r),
                });
            }
        }
    }
    let unreachable = if truncated {
        Vec::new()
    } else {
        c.steps
            .iter()
            .enumerate()
            .filter(|(i, _)| !ran.contains(i))
            .map(|(_, s)| s.name.clone())
            .collect()
    };
    Exploration {
        paths,
        truncated,
        max_paths: req.limits.max_paths as i32,
        fields: space.fields.iter().map(|f| f.path.clone()).collect(),
        unreachable_steps: unreachable,
        constant_conditions: constant,
        overlapping_branches: overlaps,
        branch_gaps: gaps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> HashMap<String, CatalogEntry> {
        let e = |lc, idem, fx: &[&str]| CatalogEntry {
            latency_class: lc,
            avg_execution_time_ms: 0.0,
            execution_count: 0,
            is_idempotent: idem,
            side_effects: fx.iter().map(|s| s.to_string()).collect(),
            input_schema: None,
        };
        HashMap::from([
            (
                "validation".to_string(),
                e(LatencyClass::Instant, true, &[]),
            ),
            ("approval".to_string(), e(LatencyClass::Slow, true, &[])),
            (
                "send_email".to_string(),
                e(LatencyClass::Fast, false, &["email"]),
            ),
        ])
    }

    #[test]
    fn gateways_lanes_and_the_end_route_one_alternative_each() {
        let lane = |l: u32| json!({"group": "g", "lane": l});
        let steps = json!([
            {"name": "register", "action": "validation"},
            {"name": "exam?", "action": "gateway", "parallel": lane(1), "branches": [
                {"condition": {"route_exam": "thorough"}, "next_step": "examine thoroughly"}]},
            {"name": "examine casually", "action": "approval", "approver": "a", "parallel": lane(1),
             "default_next": "check ticket"},
            {"name": "examine thoroughly", "action": "approval", "approver": "a", "parallel": lane(1)},
            {"name": "check ticket", "action": "approval", "approver": "b", "parallel": lane(2)},
            {"name": "decide?", "action": "gateway", "branches": [
                {"condition": {"route_decide": "reject"}, "next_step": "reject request"}]},
            {"name": "pay compensation", "action": "send_email", "default_next": "$end"},
            {"name": "reject request", "action": "send_email"}
        ]);
        let ran = |o: &Outcome| -> Vec<String> {
            o.execution_path
                .iter()
                .filter(|p| p.status == StepStatus::Run)
                .map(|p| p.name.clone())
                .collect()
        };
        let o = run(&steps, json!({}));
        assert!(o.validation_errors.is_empty(), "{:?}", o.validation_errors);
        assert_eq!(
            ran(&o),
            [
                "register",
                "exam?",
                "examine casually",
                "check ticket",
                "decide?",
                "pay compensation"
            ]
        );
        let (slow, fast, instant) = (
            LatencyClass::Slow.default_duration_ms(),
            LatencyClass::Fast.default_duration_ms(),
            LatencyClass::Instant.default_duration_ms(),
        );
        // The two lanes overlap: one approval's time, not two.
        assert_eq!(o.predicted_duration_ms, instant + slow + fast);
        assert_eq!(o.execution_path[1].duration_source, DurationSource::Routing);
        let o = run(
            &steps,
            json!({"route_exam": "thorough", "route_decide": "reject"}),
        );
        assert_eq!(
            ran(&o),
            [
                "register",
                "exam?",
                "examine thoroughly",
                "check ticket",
                "decide?",
                "reject request"
            ]
        );
        let ex = &o.branch_explorations;
        assert_eq!(ex.paths.len(), 4, "two alternatives at each gateway");
        assert!(
            ex.paths
                .iter()
                .all(|p| p.predicted_duration_ms == instant + slow + fast)
        );
    }

    fn run(steps: &Value, input: Value) -> Outcome {
        let cat = catalog();
        let history = HashMap::new();
        let decisions = HashMap::new();
        let fail = HashSet::new();
        simulate(&Request {
            steps,
            input: &input,
            input_schema: None,
            catalog: &cat,
            history: &history,
            slas: &[],
            decisions: &decisions,
            fail_steps: &fail,
            limits: Limits::default(),
            forecast: None,
        })
    }

    fn approvers(o: &Outcome) -> Vec<String> {
        o.approval_chain
            .iter()
            .map(|a| a.approver.clone())
            .collect()
    }

    #[test]
    fn discount_approval_chains() {
        let steps = crate::seed::discount_steps();
        for (amount, want) in [
            (5000, vec!["manager"]),
            (10000, vec!["manager"]),
            (10001, vec!["manager", "director"]),
            (75000, vec!["manager", "director", "cfo"]),
        ] {
            let o = run(&steps, json!({"amount": amount}));
            assert_eq!(approvers(&o), want, "amount {amount}");
            assert_eq!(o.status, SimulationStatus::Succeeded);
        }
        let o = run(&steps, json!({"amount": 10001}));
        let director = &o.execution_path[2];
        assert_eq!(director.status, StepStatus::Run);
        let cmp = &director.condition.as_ref().unwrap().comparisons[0];
        assert_eq!(cmp.actual, Some(json!(10001)));
        assert_eq!(o.execution_path[3].status, StepStatus::Skipped);
        assert_eq!(
            o.approval_chain[1].condition,
            Some(json!({"amount": {"$gt": 10000}}))
        );
    }

    #[test]
    fn discount_exploration_has_three_paths() {
        let steps = crate::seed::discount_steps();
        let o = run(&steps, json!({"amount": 1}));
        let ex = &o.branch_explorations;
        assert!(!ex.truncated);
        assert_eq!(ex.paths.len(), 3, "{:#?}", ex.paths);
        let mut found: Vec<(String, Vec<String>)> = ex
            .paths
            .iter()
            .map(|p| {
                (
                    p.regions[0].constraints[0].description.clone(),
                    p.approval_chain.clone(),
                )
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                (
                    "10000 < amount <= 50000".to_string(),
                    vec!["manager".to_string(), "director".to_string()]
                ),
                (
                    "amount <= 10000 or amount is missing".to_string(),
                    vec!["manager".to_string()]
                ),
                (
                    "amount > 50000".to_string(),
                    vec![
                        "manager".to_string(),
                        "director".to_string(),
                        "cfo".to_string()
                    ]
                ),
            ]
        );
        for p in &ex.paths {
            assert!(p.witness_verified, "{p:?}");
            let w = run(&steps, p.witness.clone());
            assert_eq!(approvers(&w), p.approval_chain);
        }
        assert!(ex.unreachable_steps.is_empty());
    }

    #[test]
    fn missing_fields_warn() {
        let o = run(&crate::seed::discount_steps(), json!({"customer": "x"}));
        assert!(
            o.warnings
                .iter()
                .any(|w| w.code == "MISSING_FIELD" && w.message.contains("\"amount\"")),
            "{:?}",
            o.warnings
        );
        assert_eq!(approvers(&o), vec!["manager"]);
    }

    #[test]
    fn independent_branches_stop_at_the_cap() {
        let steps: Vec<Value> = (0..20)
            .map(|i| json!({"name": format!("s{i}"), "action": "validation", "conditions": {format!("f{i}"): true}}))
            .collect();
        let o = run(&Value::Array(steps), json!({}));
        let ex = &o.branch_explorations;
        assert!(ex.truncated);
        assert_eq!(ex.paths.len(), Limits::default().max_paths);
    }

    #[test]
    fn branches_overlaps_gaps_and_unreachable_steps() {
        let steps = json!([
            {"name": "triage", "action": "validation", "branches": [
                {"condition": {"priority": {"$gte": 3}}, "next_step": "escalate"},
                {"condition": {"priority": {"$gte": 5}}, "next_step": "page"}
            ]},
            {"name": "normal", "action": "send_email", "default_next": "done"},
            {"name": "escalate", "action": "approval", "approver": "lead", "default_next": "done"},
            {"name": "page", "action": "send_email", "default_next": "done"},
            {"name": "never", "action": "validation", "conditions": {"$and": [{"x": {"$gt": 5}}, {"x": {"$lt": 3}}]}},
            {"name": "done", "action": "validation"}
        ]);
        let o = run(&steps, json!({"priority": 4}));
        let names: Vec<_> = o
            .execution_path
            .iter()
            .filter(|p| p.status == StepStatus::Run)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["triage", "escalate", "done"]);
        assert_eq!(o.execution_path[0].branch_taken, Some(0));
        let ex = &o.branch_explorations;
        assert_eq!(ex.overlapping_branches.len(), 1);
        assert_eq!(ex.overlapping_branches[0].branches, vec![0, 1]);
        assert_eq!(ex.branch_gaps.len(), 1, "priority < 3 matches no branch");
        assert!(
            ex.unreachable_steps.contains(&"page".to_string()),
            "{:?}",
            ex.unreachable_steps
        );
        assert!(ex.unreachable_steps.contains(&"never".to_string()));
        assert!(
            ex.constant_conditions
                .iter()
                .any(|c| c.step == "never" && !c.always)
        );
        // The same findings are warnings, with codes.
        let codes: Vec<(&str, Option<&str>)> = o
            .warnings
            .iter()
            .map(|w| (w.code.as_str(), w.step.as_deref()))
            .collect();
        for expected in [
            ("UNREACHABLE_STEP", Some("page")),
            ("UNREACHABLE_STEP", Some("never")),
            ("CONDITION_ALWAYS_FALSE", Some("never")),
            ("BRANCHES_OVERLAP", Some("triage")),
            ("BRANCH_GAP", Some("triage")),
        ] {
            assert!(codes.contains(&expected), "{expected:?} in {codes:?}");
        }
        assert!(
            !o.warnings
                .iter()
                .any(|w| w.code == "NON_IDEMPOTENT_SIDE_EFFECTS"),
            "no email step runs"
        );
        let o = run(&steps, json!({"priority": 1}));
        assert!(o.warnings.iter().any(
            |w| w.code == "NON_IDEMPOTENT_SIDE_EFFECTS" && w.step.as_deref() == Some("normal")
        ));
    }

    #[test]
    fn decisions_failures_and_loops() {
        let steps = crate::seed::discount_steps();
        let cat = catalog();
        let history = HashMap::from([(
            "Manager Approval".to_string(),
            StepHistory {
                p50_ms: 1000,
                p95_ms: 5000,
                samples: 20,
                sorted_ms: vec![1000; 20],
                ended: 0,
            },
        )]);
        let decisions =
            HashMap::from([("Director Approval".to_string(), ApprovalDecision::Rejected)]);
        let fail = HashSet::new();
        let input = json!({"amount": 60000});
        let o = simulate(&Request {
            steps: &steps,
            input: &input,
            input_schema: None,
            catalog: &cat,
            history: &history,
            slas: &[SlaTarget {
                name: "fast".into(),
                target_seconds: 1,
            }],
            decisions: &decisions,
            fail_steps: &fail,
            limits: Limits::default(),
            forecast: None,
        });
        assert_eq!(o.status, SimulationStatus::Rejected);
        assert_eq!(o.execution_path.len(), 3, "stops at the rejection");
        assert_eq!(o.execution_path[1].duration_source, DurationSource::History);
        // validation (10) + manager (history p50 1000) + director (slow default 60000)
        assert_eq!(o.predicted_duration_ms, 10 + 1000 + 60_000);
        assert_eq!(o.predicted_duration_p95_ms, Some(10 + 5000 + 60_000));
        assert!(o.warnings.iter().any(|w| w.code == "SLA_TARGET_EXCEEDED"));

        let looping = json!([
            {"name": "try", "action": "validation", "max_iterations": 3},
            {"name": "check", "action": "validation", "branches": [{"condition": {"retry": true}, "next_step": "try"}]},
            {"name": "end", "action": "validation"}
        ]);
        let o = run(&looping, json!({"retry": true}));
        let tries = o.execution_path.iter().filter(|p| p.name == "try").count();
        assert_eq!(tries, 3);
        assert_eq!(o.execution_path.last().unwrap().name, "end");
        assert_eq!(o.branch_explorations.paths.len(), 2);
    }
}

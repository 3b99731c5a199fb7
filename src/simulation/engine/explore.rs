//! The exploration: every distinct path across the whole input space, the inputs that take
//! each one, and what it noticed (unreachable steps, constant conditions, overlapping and
//! gapped branches).
use super::*;

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

/// The paths found so far, each with the regions of input that take it.
#[derive(Default)]
struct Paths {
    list: Vec<(Trail, Vec<Region>)>,
    index: HashMap<Trail, usize>,
}

impl Paths {
    /// Records that `region` ends on `trail`; false when a new path would pass the cap.
    fn finish(&mut self, trail: &Trail, region: Region, limits: Limits) -> bool {
        match self.index.get(trail) {
            Some(&k) => {
                if self.list[k].1.len() < limits.max_regions_per_path {
                    self.list[k].1.push(region);
                }
                true
            }
            None if self.list.len() >= limits.max_paths => false,
            None => {
                self.index.insert(trail.clone(), self.list.len());
                self.list.push((trail.clone(), vec![region]));
                true
            }
        }
    }
}

/// Walks every route through the steps, splitting the input space at each condition and
/// branch, depth first. Returns the distinct paths and whether a cap stopped it early.
pub(super) fn explore(
    c: &Compiled,
    space: &mut Space,
    limits: Limits,
) -> (Vec<(Trail, Vec<Region>)>, bool) {
    let mut paths = Paths::default();
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
            return (paths.list, true);
        }
        trail.truncate(w.trail_len);
        trail.extend(w.push);
        match w.at {
            At::Step(i) if i >= c.steps.len() || trail.len() >= guard => {
                if !paths.finish(&trail, w.region, limits) {
                    return (paths.list, true);
                }
            }
            At::Step(i) => arrive(c, space, i, w.region, trail.len(), &mut stack),
            At::Route(i) => leave(c, space, i, w.region, &trail, &mut stack),
        }
    }
    (paths.list, false)
}

/// Arriving at step `i`: where its conditions hold it runs (and is routed), elsewhere it is
/// skipped and the next step follows.
fn arrive(
    c: &Compiled,
    space: &mut Space,
    i: usize,
    region: Region,
    len: usize,
    stack: &mut Vec<Work>,
) {
    let work = |at, region, status| Work {
        at,
        region,
        trail_len: len,
        push: Some((i as u32, status)),
    };
    let Some(cond) = &c.conditions[i] else {
        stack.push(work(At::Route(i), region, StepStatus::Run));
        return;
    };
    let (t, f) = space.split(&region, cond);
    stack.extend(
        f.into_iter()
            .map(|r| work(At::Step(i + 1), r, StepStatus::Skipped)),
    );
    stack.extend(
        t.into_iter()
            .map(|r| work(At::Route(i), r, StepStatus::Run)),
    );
}

/// Leaving step `i` after it ran: each branch takes the part of the region its condition
/// holds on (in order), and the default route takes the rest.
fn leave(
    c: &Compiled,
    space: &mut Space,
    i: usize,
    region: Region,
    trail: &Trail,
    stack: &mut Vec<Work>,
) {
    let runs = |t: usize| {
        trail
            .iter()
            .filter(|(s, st)| *s as usize == t && *st == StepStatus::Run)
            .count()
    };
    let mut rest = vec![region];
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
            trail_len: trail.len(),
            push: None,
        });
    }
}

/// What the branch exploration found, as warnings: the first place a user looks.
pub(super) fn exploration_warnings(ex: &Exploration) -> Vec<Issue> {
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

pub(super) fn exploration(c: &Compiled, req: &Request<'_>) -> Exploration {
    let all_conds: Vec<&Cond> = c
        .conditions
        .iter()
        .flatten()
        .chain(c.branches.iter().flatten().map(|(b, _)| b))
        .collect();
    let mut space = Space::new(all_conds.iter().copied(), req.input_schema);
    let (raw, truncated) = explore(c, &mut space, req.limits);
    let mut ran: HashSet<usize> = HashSet::new();
    let paths = raw
        .into_iter()
        .map(|(trail, regions)| explored_path(c, req, &space, (trail, regions), &mut ran))
        .collect();
    let (constant, overlaps, gaps) = findings(c, &mut space);
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

/// One explored path as the API shows it: its steps, the inputs that take it (described),
/// a witness re-run concretely, its approvers and its predicted duration. Marks its steps as
/// reached in `ran`.
fn explored_path(
    c: &Compiled,
    req: &Request<'_>,
    space: &Space,
    (trail, regions): (Trail, Vec<Region>),
    ran: &mut HashSet<usize>,
) -> ExploredPath {
    let regions = space.merge(regions);
    let witness = space.witness(&regions[0]);
    let (concrete, _, _) = run_concrete(c, &witness, &HashMap::new(), &HashSet::new());
    let (mut steps, mut skipped, mut chain, mut durations) = (vec![], vec![], vec![], vec![]);
    for (i, st) in &trail {
        let s = &c.steps[*i as usize];
        match st {
            StepStatus::Run | StepStatus::Failed => {
                ran.insert(*i as usize);
                steps.push(s.name.clone());
                durations.push((*i as usize, estimate(&s.name, &s.action, req).p50));
                chain.extend(s.approver.clone());
            }
            StepStatus::Skipped => skipped.push(s.name.clone()),
        }
    }
    let described = describe(space, &regions);
    ExploredPath {
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
    }
}

/// Each region as per-field constraints and as text ("any input" when unconstrained).
fn describe(space: &Space, regions: &[Region]) -> Vec<PathRegion> {
    regions
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
        .collect()
}

type Findings = (Vec<ConstantCondition>, Vec<BranchOverlap>, Vec<BranchGap>);

/// Over the whole input space: conditions that are always true or false, branches that
/// overlap, and inputs that no branch of a step without a default takes.
fn findings(c: &Compiled, space: &mut Space) -> Findings {
    let full = space.full();
    let (mut constant, mut overlaps, mut gaps) = (vec![], vec![], vec![]);
    let mut check_constant = |space: &mut Space, step: &str, branch: Option<i32>, cd: &Cond| {
        let (t, f) = space.split(&full, cd);
        if t.is_empty() || f.is_empty() {
            constant.push(ConstantCondition {
                step: step.to_string(),
                branch,
                always: f.is_empty(),
            });
        }
    };
    for (i, s) in c.steps.iter().enumerate() {
        if let Some(cd) = &c.conditions[i] {
            check_constant(space, &s.name, None, cd);
        }
        let bs = &c.branches[i];
        for (j, (bc, _)) in bs.iter().enumerate() {
            check_constant(space, &s.name, Some(j as i32), bc);
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
            let any = Cond::Or(bs.iter().map(|(b, _)| b.clone()).collect());
            if let Some(r) = space.split(&full, &any).1.first() {
                gaps.push(BranchGap {
                    step: s.name.clone(),
                    witness: space.witness(r),
                });
            }
        }
    }
    (constant, overlaps, gaps)
}

//! Routing and time (pure): where a run goes after a step, how long steps take (history,
//! else the catalog, else the latency class), and how long a path takes with its lanes.
use super::*;

/// A step's duration when it has no recorded durations of its own (for forecasts).
pub fn fallback_ms(
    step: &str,
    action: &str,
    catalog: &HashMap<String, CatalogEntry>,
    history: &HashMap<String, StepHistory>,
) -> i64 {
    estimate_from(step, action, catalog, history).p50
}

pub(super) fn estimate(step_name: &str, action: &str, req: &Request<'_>) -> Estimate {
    estimate_from(step_name, action, req.catalog, req.history)
}

pub(super) fn estimate_from(
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
pub(in crate::simulation) fn elapsed(c: &Compiled, ran: &[(usize, i64)]) -> i64 {
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
pub(in crate::simulation) fn max_visits(c: &Compiled) -> usize {
    let bound = c
        .steps
        .iter()
        .filter_map(|s| s.max_iterations)
        .max()
        .unwrap_or(1) as usize;
    c.steps.len().saturating_mul(bound + 1) + 8
}

/// The next step after step `i` ran, given which branch (if any) matched.
pub(in crate::simulation) fn route(
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
pub(super) fn render(template: &Value, input: &Value) -> Value {
    let lookup = |path: &str| {
        let found = crate::conditions::resolve(input, path)
            .first()
            .map(|v| (*v).clone());
        Some(found.unwrap_or(Value::Null))
    };
    crate::placeholders::substitute(template, &lookup)
}

pub(super) type Trail = Vec<(u32, StepStatus)>;

/// Per visited step: its index, its condition's result, and the branch taken.
pub(super) type Visit = (usize, Option<ConditionResult>, Option<usize>);

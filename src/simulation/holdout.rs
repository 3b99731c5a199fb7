//! The out-of-sample replay (pure): the model is fitted on the older 70 % of the completed
//! cases (each step's durations and how often it ended a case, each discovered choice's branch
//! probabilities and branch model) and replays the newest 30 %; the predicted median is
//! compared with the actual one over all of them and per input segment (each value of a field
//! with few values, each quartile of a number with many).
use super::engine::StepHistory;
use super::forecast::{Fallback, Model, quantile};
use crate::conformance;
use crate::discovery::branching;
use crate::workflows::conformance::routed_net;
use crate::workflows::steps::Compiled;
use async_graphql::SimpleObject;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The share of the cases, oldest first, the model is fitted on.
pub const FIT_SHARE: f64 = 0.7;
/// A segment is reported when it holds at least this many of the replayed cases.
pub const MIN_SEGMENT: usize = 30;

/// One completed case: input, duration, and its step runs in order (name, duration, whether
/// the run ended the case: a failure or a rejection).
pub struct Case {
    pub input: Value,
    pub duration_ms: i64,
    pub steps: Vec<(String, Option<i64>, bool)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Holdout {
    /// The older cases the model was fitted on, and the newest ones it replayed.
    pub fit_cases: u32,
    pub test_cases: u32,
    pub actual_p50_ms: i64,
    pub predicted_p50_ms: i64,
    /// `predictedP50Ms / actualP50Ms` over the replayed cases.
    pub p50_ratio: f64,
    /// Per input segment with at least 30 replayed cases.
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub field: String,
    /// The value, or the range (`[a, b)`) of a quartile.
    pub value: String,
    pub cases: u32,
    pub actual_p50_ms: i64,
    pub predicted_p50_ms: i64,
    pub p50_ratio: f64,
}

/// Fits on the older cases (in start order, oldest first) and replays the newest.
pub fn holdout(
    compiled: &Compiled,
    cases: &[Case],
    fallback: &Fallback<'_>,
    runs: u32,
    seed: u64,
) -> Holdout {
    let cut = ((cases.len() as f64) * FIT_SHARE).round() as usize;
    let (fit, test) = cases.split_at(cut.min(cases.len()));
    let history = durations(fit);
    let refitted = refit(compiled, fit);
    let model = Model {
        compiled: &refitted,
        history: &history,
        fallback,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let runs_of: Vec<Vec<i64>> = test
        .iter()
        .map(|c| model.durations(&c.input, runs, &mut rng))
        .collect();
    let all: Vec<usize> = (0..test.len()).collect();
    let overall = compare(test, &runs_of, &all);
    Holdout {
        fit_cases: fit.len() as u32,
        test_cases: test.len() as u32,
        actual_p50_ms: overall.0,
        predicted_p50_ms: overall.1,
        p50_ratio: ratio(overall.1, overall.0),
        segments: segments(test, &runs_of),
    }
}

fn ratio(predicted: i64, actual: i64) -> f64 {
    if actual > 0 {
        predicted as f64 / actual as f64
    } else {
        0.0
    }
}

/// (actual median, predicted median over all runs) of the cases `which`.
fn compare(test: &[Case], runs_of: &[Vec<i64>], which: &[usize]) -> (i64, i64) {
    let mut actual: Vec<i64> = which.iter().map(|i| test[*i].duration_ms).collect();
    let mut pooled: Vec<i64> = which.iter().flat_map(|i| runs_of[*i].clone()).collect();
    actual.sort_unstable();
    pooled.sort_unstable();
    (quantile(&actual, 0.5), quantile(&pooled, 0.5))
}

/// Each step's recorded durations in the fitted cases.
fn durations(fit: &[Case]) -> HashMap<String, StepHistory> {
    let mut by: HashMap<&str, (Vec<i64>, usize)> = HashMap::new();
    for c in fit {
        for (name, d, ended) in &c.steps {
            if let Some(d) = d {
                let e = by.entry(name.as_str()).or_default();
                e.0.push(*d);
                e.1 += *ended as usize;
            }
        }
    }
    by.into_iter()
        .map(|(name, (v, ended))| (name.to_string(), StepHistory::of(v, ended)))
        .collect()
}

/// The steps with each choice's branch probabilities, and the branch models of discovered
/// choices, counted again from the fitted cases only: each case's route through the choices is
/// read off replaying its steps on the workflow net.
fn refit(compiled: &Compiled, fit: &[Case]) -> Compiled {
    let (net, branch_of) = routed_net(compiled);
    // Per step: the cases (by index into `fit`) that took each branch.
    let mut taken: HashMap<usize, BTreeMap<usize, Vec<u32>>> = HashMap::new();
    let mut replayer = conformance::Replayer::new(&net);
    for (k, c) in fit.iter().enumerate() {
        let trace: Vec<String> = c.steps.iter().map(|s| s.0.clone()).collect();
        for t in replayer.fired(&trace) {
            if let Some((i, j)) = branch_of.get(&t) {
                taken
                    .entry(*i)
                    .or_default()
                    .entry(*j)
                    .or_default()
                    .push(k as u32);
            }
        }
    }
    let empty = Map::new();
    let inputs: Vec<&Map<String, Value>> = fit
        .iter()
        .map(|c| c.input.as_object().unwrap_or(&empty))
        .collect();
    let mut out = compiled.clone();
    for (i, by_branch) in taken {
        let step = &mut out.steps[i];
        let Some(branches) = step.branches.as_mut() else {
            continue;
        };
        let cases: Vec<&[u32]> = (0..branches.len())
            .map(|j| by_branch.get(&j).map_or(&[][..], Vec::as_slice))
            .collect();
        let total: usize = cases.iter().map(|c| c.len()).sum();
        for (b, c) in branches.iter_mut().zip(&cases) {
            if b.probability.is_some() && total > 0 {
                b.probability = Some(c.len() as f64 / total as f64);
            }
        }
        if step.branch_model.is_some() {
            step.branch_model = branching::fit(&inputs, &cases);
        }
    }
    out
}

/// The segments of the replayed cases: per input field, each value when the field has at
/// most 12, else each quartile of its numbers.
fn segments(test: &[Case], runs_of: &[Vec<i64>]) -> Vec<Segment> {
    let mut fields: Vec<&String> = test
        .iter()
        .filter_map(|c| c.input.as_object())
        .flat_map(|m| m.keys())
        .collect();
    fields.sort_unstable();
    fields.dedup();
    let mut out = Vec::new();
    for f in fields {
        for (value, which) in groups(test, f) {
            if which.len() < MIN_SEGMENT {
                continue;
            }
            let (a, p) = compare(test, runs_of, &which);
            out.push(Segment {
                field: f.clone(),
                value,
                cases: which.len() as u32,
                actual_p50_ms: a,
                predicted_p50_ms: p,
                p50_ratio: ratio(p, a),
            });
        }
    }
    out
}

/// The cases of each value (or quartile) of one field.
fn groups(test: &[Case], field: &str) -> Vec<(String, Vec<usize>)> {
    let mut by_value: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in test.iter().enumerate() {
        if let Some(v) = c.input.get(field).filter(|v| !v.is_null()) {
            by_value.entry(v.to_string()).or_default().push(i);
        }
    }
    let numbers: Vec<(f64, usize)> = test
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.input.get(field)?.as_f64().map(|x| (x, i)))
        .collect();
    if by_value.len() <= 12 || numbers.len() < by_value.values().map(Vec::len).sum() {
        return by_value.into_iter().collect();
    }
    let mut xs: Vec<f64> = numbers.iter().map(|n| n.0).collect();
    xs.sort_by(f64::total_cmp);
    let q = |p: f64| xs[((xs.len() - 1) as f64 * p).round() as usize];
    let bounds = [f64::NEG_INFINITY, q(0.25), q(0.5), q(0.75), f64::INFINITY];
    bounds
        .windows(2)
        .filter(|w| w[0] < w[1])
        .map(|w| {
            let which = numbers
                .iter()
                .filter(|(x, _)| *x >= w[0] && *x < w[1])
                .map(|(_, i)| *i)
                .collect();
            (format!("[{}, {})", w[0], w[1]), which)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::steps::compile;
    use serde_json::json;

    /// Small amounts mostly go the fast way (1 minute), large ones the slow way (100 minutes).
    fn cases() -> Vec<Case> {
        (0..1200)
            .map(|k| {
                let amount = if k % 3 == 0 { 5000 } else { 500 };
                let fast = (amount < 1000) != (k % 20 == 7);
                let (name, d) = if fast {
                    ("fast", 60_000)
                } else {
                    ("slow", 6_000_000)
                };
                Case {
                    input: json!({"amount": amount}),
                    duration_ms: 1_000 + d,
                    steps: vec![
                        ("start".into(), Some(1_000), false),
                        (name.into(), Some(d), false),
                    ],
                }
            })
            .collect()
    }

    fn steps(with_model: bool) -> Compiled {
        let mut choice = json!({"name": "choice 1", "action": "gateway", "default_next": "fast",
            "branches": [
                {"condition": {"route_choice_1": "fast"}, "next_step": "fast", "probability": 0.5},
                {"condition": {"route_choice_1": "slow"}, "next_step": "slow", "probability": 0.5}]});
        if with_model {
            choice["branch_model"] = json!({"counts": [1, 1]});
        }
        compile(&json!([
            {"name": "start", "action": "x"},
            choice,
            {"name": "fast", "action": "x", "default_next": "$end"},
            {"name": "slow", "action": "x"},
        ]))
        .unwrap()
    }

    fn ratios(h: &Holdout) -> Vec<(String, f64)> {
        h.segments
            .iter()
            .map(|s| (s.value.clone(), s.p50_ratio))
            .collect()
    }

    #[test]
    fn out_of_sample_segments_follow_the_input_through_the_refitted_branch_model() {
        let all = cases();
        let h = holdout(&steps(true), &all, &|_| 0, 32, 1);
        assert_eq!((h.fit_cases, h.test_cases), (840, 360));
        let r = ratios(&h);
        assert_eq!(r.len(), 2, "{r:?}");
        for (value, ratio) in &r {
            assert!(
                (0.9..=1.1).contains(ratio),
                "amount {value}: {ratio} ({h:?})"
            );
        }
        // Without a branch model the choice is drawn by its overall odds (refitted on the
        // older cases, about 62 % fast): every amount gets the same prediction, and the large
        // amounts' is far off.
        let h = holdout(&steps(false), &all, &|_| 0, 32, 1);
        let large = ratios(&h).into_iter().find(|(v, _)| v == "5000").unwrap().1;
        assert!(large < 0.5, "{h:?}");
    }
}

//! A Monte Carlo forecast (pure): many runs of one input through the workflow. A choice the
//! input decides (a branch condition holds, or every branch's fields are present) is
//! followed; a discovered choice with a branch model that no branch condition decides is
//! drawn from the model's counts for the deepest node the input reaches (the branches as the
//! history's cases like this input took them); any other choice it cannot decide (a branch
//! tests a field the input lacks) is drawn by the branches' observed probabilities. Each step's duration is drawn from its recorded
//! durations, and a run ends at a step as often as its recorded runs ended their case (a
//! rejection or a failure). Seeded, so the same request gives the same forecast.
use super::engine::{StepHistory, elapsed, max_visits, route};
use crate::workflows::steps::{Compiled, GATEWAY};
use async_graphql::SimpleObject;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// How many runs a forecast makes unless asked otherwise, and at most.
pub const DEFAULT_RUNS: u32 = 1_000;
pub const MAX_RUNS: u32 = 100_000;

/// One path the runs took, and how often.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ForecastPath {
    pub steps: Vec<String>,
    /// The share of runs that took this path.
    pub probability: f64,
    pub p50_ms: i64,
}

/// The forecast: the duration distribution over all runs, and the paths.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    pub runs: u32,
    pub seed: u64,
    pub p50_ms: i64,
    pub p90_ms: i64,
    pub p95_ms: i64,
    pub mean_ms: f64,
    /// Choices drawn at random, summed over all runs: those where more than one branch was
    /// possible for this input (0: the input decided every choice).
    pub drawn_choices: u64,
    /// The most frequent paths first (at most 20).
    pub paths: Vec<ForecastPath>,
}

/// Where a step's duration comes from when it has no recorded durations.
pub type Fallback<'a> = dyn Fn(usize) -> i64 + 'a;

pub struct Model<'a> {
    pub compiled: &'a Compiled,
    pub history: &'a HashMap<String, StepHistory>,
    pub fallback: &'a Fallback<'a>,
}

/// What one run did: the steps it ran (by index), its duration, and the choices it drew.
struct Run {
    path: Vec<u32>,
    duration: i64,
    drawn: u64,
}

impl Model<'_> {
    /// `runs` runs of `input` (clamped to 1..=MAX_RUNS).
    pub fn forecast(&self, input: &Value, runs: u32, seed: u64) -> Forecast {
        let runs = runs.clamp(1, MAX_RUNS);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut all: Vec<Run> = (0..runs).map(|_| self.run(input, &mut rng)).collect();
        let mut durations: Vec<i64> = all.iter().map(|r| r.duration).collect();
        durations.sort_unstable();
        let mut by_path: HashMap<Vec<u32>, Vec<i64>> = HashMap::new();
        for r in all.iter_mut() {
            by_path
                .entry(std::mem::take(&mut r.path))
                .or_default()
                .push(r.duration);
        }
        let mut paths: Vec<ForecastPath> = by_path
            .into_iter()
            .map(|(p, mut d)| {
                d.sort_unstable();
                ForecastPath {
                    steps: p
                        .iter()
                        .map(|i| self.compiled.steps[*i as usize].name.clone())
                        .collect(),
                    probability: d.len() as f64 / runs as f64,
                    p50_ms: quantile(&d, 0.5),
                }
            })
            .collect();
        paths.sort_by(|a, b| {
            b.probability
                .total_cmp(&a.probability)
                .then(a.steps.cmp(&b.steps))
        });
        paths.truncate(20);
        Forecast {
            runs,
            seed,
            p50_ms: quantile(&durations, 0.5),
            p90_ms: quantile(&durations, 0.9),
            p95_ms: quantile(&durations, 0.95),
            mean_ms: durations.iter().map(|d| *d as f64).sum::<f64>() / runs as f64,
            drawn_choices: all.iter().map(|r| r.drawn).sum(),
            paths,
        }
    }

    /// The durations of `runs` runs of `input`, sorted (for replaying history).
    pub fn durations(&self, input: &Value, runs: u32, rng: &mut StdRng) -> Vec<i64> {
        let mut d: Vec<i64> = (0..runs.clamp(1, MAX_RUNS))
            .map(|_| self.run(input, rng).duration)
            .collect();
        d.sort_unstable();
        d
    }

    fn run(&self, input: &Value, rng: &mut StdRng) -> Run {
        let c = self.compiled;
        let n = c.steps.len();
        let guard = max_visits(c);
        let mut runs = vec![0usize; n];
        let mut ran: Vec<(usize, i64)> = Vec::new();
        let mut drawn = 0;
        let mut i = 0;
        while i < n && ran.len() < guard {
            if c.conditions[i]
                .as_ref()
                .is_some_and(|cd| !cd.matches(input))
            {
                i += 1;
                continue;
            }
            runs[i] += 1;
            ran.push((i, self.duration(i, rng)));
            if self.ends_case(i, rng) {
                break;
            }
            let (branch, was_drawn) = self.choose(i, input, rng);
            drawn += was_drawn as u64;
            i = route(c, i, branch, &|t| runs[t]);
        }
        Run {
            path: ran.iter().map(|(i, _)| *i as u32).collect(),
            duration: elapsed(c, &ran),
            drawn,
        }
    }

    /// Whether this run of step `i` ends the case (a rejection or a failure), as often as its
    /// recorded runs did.
    fn ends_case(&self, i: usize, rng: &mut StdRng) -> bool {
        match self.history.get(&self.compiled.steps[i].name) {
            Some(h) if h.ended > 0 && h.samples > 0 => rng.random_range(0..h.samples) < h.ended,
            _ => false,
        }
    }

    fn duration(&self, i: usize, rng: &mut StdRng) -> i64 {
        let step = &self.compiled.steps[i];
        if step.action == GATEWAY {
            return 0;
        }
        match self.history.get(&step.name) {
            Some(h) if !h.sorted_ms.is_empty() => {
                h.sorted_ms[rng.random_range(0..h.sorted_ms.len())]
            }
            _ => (self.fallback)(i),
        }
    }

    /// The branch taken after step `i`: the first whose condition holds on fields the input
    /// has; else a draw among the branches whose fields the input lacks, by probability;
    /// else none (the default route).
    fn choose(&self, i: usize, input: &Value, rng: &mut StdRng) -> (Option<usize>, bool) {
        let c = self.compiled;
        let model = c.steps[i].branch_model.as_ref();
        if let Some(m) = model.filter(|m| m.counts.len() == c.branches[i].len())
            && !c.branches[i].iter().any(|(bc, _)| bc.matches(input))
        {
            return draw(&m.node(input).counts, rng);
        }
        let probability = |j: usize| {
            c.steps[i]
                .branches
                .as_ref()
                .and_then(|b| b.get(j))
                .and_then(|b| b.probability)
                .unwrap_or(0.0)
        };
        let mut open: Vec<(usize, f64)> = Vec::new();
        for (j, (cond, _)) in c.branches[i].iter().enumerate() {
            let (ok, cmp) = cond.explain(input);
            if cmp.iter().any(|x| x.actual.is_none()) {
                open.push((j, probability(j)));
            } else if ok {
                return (Some(j), false);
            }
        }
        let total: f64 = open.iter().map(|(_, p)| p).sum();
        if total <= 0.0 {
            return (None, false);
        }
        let mut x = rng.random_range(0.0..total);
        for (j, p) in &open {
            if x < *p {
                return (Some(*j), true);
            }
            x -= p;
        }
        (open.last().map(|(j, _)| *j), true)
    }
}

/// A branch drawn by the cases that took each one; drawn only when more than one was taken.
fn draw(counts: &[u32], rng: &mut StdRng) -> (Option<usize>, bool) {
    let total: u32 = counts.iter().sum();
    let taken = counts.iter().filter(|n| **n > 0).count();
    if total == 0 {
        return (None, false);
    }
    let mut x = rng.random_range(0..total);
    for (j, n) in counts.iter().enumerate() {
        if x < *n {
            return (Some(j), taken > 1);
        }
        x -= n;
    }
    (None, false)
}

pub use crate::stats::quantile;

/// Predicted against actual case durations over a workflow's history: every case's input
/// replayed through the model.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Replay {
    /// Completed cases replayed.
    pub cases: u32,
    pub runs_per_case: u32,
    pub seed: u64,
    pub actual_p50_ms: i64,
    pub actual_p90_ms: i64,
    /// Quantiles of all runs of all cases (the predicted distribution over this history).
    pub predicted_p50_ms: i64,
    pub predicted_p90_ms: i64,
    /// `predictedP50Ms / actualP50Ms` (1 is perfect; 0 when there is no history).
    pub p50_ratio: f64,
    /// The mean over cases of |the median of the case's runs − its actual duration|.
    pub mean_absolute_error_ms: f64,
    /// The same model fitted on the older 70 % of these cases only (step durations, branch
    /// probabilities, branch models) and replayed on the newest 30 %, overall and per input
    /// segment: the figure to trust for cases the model has not seen.
    pub out_of_sample: Option<super::holdout::Holdout>,
}

impl Model<'_> {
    /// Replays each `(input, actual duration)` case `runs` times.
    pub fn replay(&self, cases: &[(Value, i64)], runs: u32, seed: u64) -> Replay {
        let runs = runs.clamp(1, MAX_RUNS);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut pooled: Vec<i64> = Vec::with_capacity(cases.len() * runs as usize);
        let mut error = 0f64;
        for (input, actual) in cases {
            let d = self.durations(input, runs, &mut rng);
            error += (quantile(&d, 0.5) - actual).abs() as f64;
            pooled.extend(d);
        }
        pooled.sort_unstable();
        let mut actual: Vec<i64> = cases.iter().map(|(_, a)| *a).collect();
        actual.sort_unstable();
        let (a50, p50) = (quantile(&actual, 0.5), quantile(&pooled, 0.5));
        Replay {
            cases: cases.len() as u32,
            runs_per_case: runs,
            seed,
            actual_p50_ms: a50,
            actual_p90_ms: quantile(&actual, 0.9),
            predicted_p50_ms: p50,
            predicted_p90_ms: quantile(&pooled, 0.9),
            p50_ratio: if a50 > 0 {
                p50 as f64 / a50 as f64
            } else {
                0.0
            },
            mean_absolute_error_ms: if cases.is_empty() {
                0.0
            } else {
                error / cases.len() as f64
            },
            out_of_sample: None,
        }
    }
}

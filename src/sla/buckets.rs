//! SLO counts from rollups (pure). A span starts at `now - s` and takes every execution
//! completed after that: the raw executions of the second it starts in, then second buckets
//! up to the next minute, minute buckets up to the next hour, and hour buckets from there on.
//! So a report sums, per span, at most 59 second and 59 minute buckets and the span's hours,
//! and reads one second of executions, whatever the history holds, and still counts exactly
//! what a recount would. The store sums the buckets (one row back per span).
use super::slo::{Counts, Sample, Tally};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub const SECOND: i64 = 1;
pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;

/// The grains as stored: (grain, seconds per bucket), finest first.
pub const GRAINS: [(i16, i64); 3] = migration::ROLLUP_GRAINS;

/// The bucket of `t` at a grain of `width` seconds.
pub fn bucket(t: DateTime<Utc>, width: i64) -> i64 {
    t.timestamp().div_euclid(width)
}

/// The start of second `sec`.
fn second_start(sec: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(sec, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// How a span after `a` splits: raw executions in second `sa` after `a`, then buckets
/// `[from, to)` of each grain (`to` of the coarsest is open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub sa: i64,
    /// Per grain of [`GRAINS`]: the first bucket, and the bucket of the next grain up where
    /// this grain stops (in this grain's units).
    pub ranges: [(i64, i64); 3],
}

pub fn split(a: DateTime<Utc>) -> Split {
    let sa = bucket(a, SECOND);
    let (ma, ha) = (bucket(a, MINUTE), bucket(a, HOUR));
    Split {
        sa,
        ranges: [
            (sa + 1, (ma + 1) * MINUTE),
            (ma + 1, (ha + 1) * (HOUR / MINUTE)),
            (ha + 1, i64::MAX),
        ],
    }
}

/// What counting the spans after `now - s` needs, for each `s` in seconds: one split per
/// distinct start second, in order.
pub fn needs(now: DateTime<Utc>, spans: &[i64]) -> Vec<Split> {
    let mut out: Vec<Split> = spans
        .iter()
        .map(|&s| split(now - chrono::Duration::seconds(s.max(1))))
        .collect();
    out.sort_by_key(|x| x.sa);
    out.dedup();
    out
}

/// Rollup sums and edge executions, as read for some spans.
pub struct Rollups<'a> {
    /// Per split's start second: the sum of the rollup buckets in its ranges.
    pub sums: HashMap<i64, Counts>,
    /// Executions completed in the splits' start seconds, counted against `objective`.
    pub edges: Vec<Sample>,
    /// Executions still running past the target: each is a miss from the moment its target
    /// passed (its `completed_at` here), counted with its elapsed time so far.
    pub overdue: Vec<Sample>,
    pub objective: &'a super::slo::Objective,
}

impl Tally for Rollups<'_> {
    /// Counts after `after`, which must be the start of one of the spans that were read
    /// (a span that was not read counts only its edge second).
    fn counts(&self, after: DateTime<Utc>) -> Counts {
        let x = split(after);
        debug_assert!(self.sums.contains_key(&x.sa), "span after {after} not read");
        let mut c = self.sums.get(&x.sa).copied().unwrap_or_default();
        let end = second_start(x.sa + 1);
        let edges = self
            .edges
            .iter()
            .filter(|s| s.completed_at > after && s.completed_at < end);
        let overdue = self.overdue.iter().filter(|s| s.completed_at > after);
        for s in edges.chain(overdue) {
            c.add(Counts::of(s.duration_ms, self.objective));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::super::slo::{Objective, Samples, report, spans};
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn objective() -> Objective {
        Objective {
            target_seconds: 300.0,
            warning_seconds: 240.0,
            critical_seconds: 400.0,
            slo_target_percentage: 99.0,
        }
    }

    /// The rollups of `samples`, summed over each split's ranges, with its edge seconds.
    fn rolled<'a>(samples: &[Sample], splits: &[Split], o: &'a Objective) -> Rollups<'a> {
        let mut r = Rollups {
            sums: HashMap::new(),
            edges: Vec::new(),
            overdue: Vec::new(),
            objective: o,
        };
        for x in splits {
            let sum = r.sums.entry(x.sa).or_default();
            for s in samples {
                let inside = GRAINS
                    .iter()
                    .zip(&x.ranges)
                    .any(|(&(_, width), &(lo, hi))| {
                        (lo..hi).contains(&bucket(s.completed_at, width))
                    });
                if inside {
                    sum.add(Counts::of(s.duration_ms, o));
                }
            }
        }
        let edge_seconds: Vec<i64> = splits.iter().map(|x| x.sa).collect();
        r.edges = samples
            .iter()
            .filter(|s| edge_seconds.contains(&bucket(s.completed_at, SECOND)))
            .copied()
            .collect();
        r
    }

    #[test]
    fn reports_from_rollups_equal_reports_from_every_sample() {
        let mut rng = StdRng::seed_from_u64(7);
        let o = objective();
        for round in 0..200 {
            let now = DateTime::from_timestamp(1_780_000_000 + rng.random_range(0..86_400), 0)
                .unwrap()
                + chrono::Duration::milliseconds(rng.random_range(0..1000));
            let window: i32 = [1, 2, 24, 72, 720][round % 5];
            let back = window as i64 * 3600 + 7200;
            let samples: Vec<Sample> = (0..rng.random_range(0..400))
                .map(|_| Sample {
                    completed_at: now
                        - chrono::Duration::milliseconds(rng.random_range(0..back * 1000)),
                    duration_ms: rng.random_range(0..600_000),
                })
                .collect();
            let splits = needs(now, &spans(window));
            let r = rolled(&samples, &splits, &o);
            let want = report(&Samples(&samples, &o), &o, window, now);
            let got = report(&r, &o, window, now);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "round {round}");
        }
    }

    #[test]
    fn a_30_day_window_sums_its_hours_and_under_a_minute_and_an_hour_per_span() {
        let now = DateTime::from_timestamp(1_780_000_123, 0).unwrap();
        let spans = spans(720);
        let splits = needs(now, &spans);
        let distinct: std::collections::BTreeSet<_> = spans.iter().collect();
        assert_eq!(splits.len(), distinct.len(), "one split per distinct span");
        let first_hour = splits.iter().map(|x| x.ranges[2].0).min().unwrap();
        assert!(bucket(now, HOUR) - first_hour <= 720, "{first_hour}");
        for x in &splits {
            for g in 0..2 {
                let (lo, hi) = x.ranges[g];
                assert!(hi - lo <= 60, "grain {g}: {lo}..{hi}");
            }
        }
    }
}

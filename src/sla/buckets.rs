//! SLO counts from rollups (pure). A span starts at the start of a whole second, `now - s`
//! with `now` taken to the second ([`super::slo::report`]), and takes every execution completed
//! from then on: second buckets up to the next minute, minute buckets up to the next hour, hour
//! buckets up to the next day, and day buckets from there on. So a report sums, per span, at
//! most 59 second, 59 minute and 23 hour buckets and the span's days, whatever the history
//! holds, and still counts exactly what a recount would. The store sums the buckets (one row
//! back per span).
use super::slo::{Counts, Tally};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub const SECOND: i64 = 1;
pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// The grains as stored: (grain, seconds per bucket), finest first.
pub const GRAINS: [(i16, i64); 4] = migration::ROLLUP_GRAINS;

/// The bucket of `t` at a grain of `width` seconds.
pub fn bucket(t: DateTime<Utc>, width: i64) -> i64 {
    t.timestamp().div_euclid(width)
}

/// How a span from `a` (the start of second `sa`) splits: buckets `[from, to)` of each grain
/// (`to` of the coarsest is open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub sa: i64,
    /// Per grain of [`GRAINS`]: the first bucket, and the bucket of the next grain up where
    /// this grain stops (in this grain's units).
    pub ranges: [(i64, i64); 4],
}

/// The split of the span from `a`, taken to the start of its second.
pub fn split(a: DateTime<Utc>) -> Split {
    let sa = bucket(a, SECOND);
    let (ma, ha, da) = (bucket(a, MINUTE), bucket(a, HOUR), bucket(a, DAY));
    Split {
        sa,
        ranges: [
            (sa, (ma + 1) * MINUTE),
            (ma + 1, (ha + 1) * (HOUR / MINUTE)),
            (ha + 1, (da + 1) * (DAY / HOUR)),
            (da + 1, i64::MAX),
        ],
    }
}

/// What counting the spans from `now - s` needs, for each `s` in seconds: one split per
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

/// Rollup sums, as read for some spans.
pub struct Rollups<'a> {
    /// Per split's start second: the sum of the rollup buckets in its ranges.
    pub sums: HashMap<i64, Counts>,
    /// Per split's start second: the executions still running past the target, each a miss
    /// from the moment its target passed, counted with its elapsed time so far.
    pub overdue: super::overdue::Overdue,
    pub objective: &'a super::slo::Objective,
}

impl Tally for Rollups<'_> {
    /// Counts from `from`, which must be the start of one of the spans that were read: a
    /// whole second (a span that was not read counts nothing).
    fn counts(&self, from: DateTime<Utc>) -> Counts {
        let x = split(from);
        debug_assert!(self.sums.contains_key(&x.sa), "span from {from} not read");
        debug_assert_eq!(
            from.timestamp_subsec_nanos(),
            0,
            "{from} is not a whole second"
        );
        let mut c = self.sums.get(&x.sa).copied().unwrap_or_default();
        c.add(self.overdue.get(&x.sa).copied().unwrap_or_default());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::super::slo::{Objective, Sample, Samples, report, spans};
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
            overdue: HashMap::new(),
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
    fn a_30_day_window_sums_its_days_and_under_a_day_an_hour_and_a_minute_per_span() {
        let now = DateTime::from_timestamp(1_780_000_123, 0).unwrap();
        let spans = spans(720);
        let splits = needs(now, &spans);
        let distinct: std::collections::BTreeSet<_> = spans.iter().collect();
        assert_eq!(splits.len(), distinct.len(), "one split per distinct span");
        let first_day = splits.iter().map(|x| x.ranges[3].0).min().unwrap();
        assert!(bucket(now, DAY) - first_day <= 30, "{first_day}");
        for x in &splits {
            for (g, most) in [(0, 60), (1, 60), (2, 24)] {
                let (lo, hi) = x.ranges[g];
                assert!(hi - lo <= most, "grain {g}: {lo}..{hi}");
            }
        }
    }

    #[test]
    fn a_window_starts_at_a_whole_second_and_takes_all_of_it() {
        let o = objective();
        let now = DateTime::from_timestamp(1_780_000_123, 0).unwrap()
            + chrono::Duration::milliseconds(700);
        let start = DateTime::from_timestamp(1_780_000_123 - 3600, 0).unwrap();
        let at = |ms: i64| Sample {
            completed_at: start + chrono::Duration::milliseconds(ms),
            duration_ms: 1_000,
        };
        // At the start, 1 ms before it, and later in the request's own second.
        let samples = [at(0), at(-1), at(3_600_000 + 900)];
        let r = rolled(&samples, &needs(now, &spans(1)), &o);
        assert_eq!(report(&Samples(&samples, &o), &o, 1, now).total, 2);
        assert_eq!(report(&r, &o, 1, now).total, 2);
    }
}

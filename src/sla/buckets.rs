//! SLO counts from rollups (pure). A span starts at `now - s` and takes every execution
//! completed after that: the raw executions of the second it starts in, then second buckets
//! up to the next minute, minute buckets up to the next hour, and hour buckets from there on.
//! So a report reads, per span, at most 59 second and 59 minute buckets and one second of
//! executions, plus the hours of its longest span, whatever the history holds, and still
//! counts exactly what a recount would.
use super::slo::{Counts, Sample, Tally};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

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
struct Split {
    sa: i64,
    /// Per grain of [`GRAINS`]: the first bucket, and the bucket of the next grain up where
    /// this grain stops (in this grain's units).
    ranges: [(i64, i64); 3],
}

fn split(a: DateTime<Utc>) -> Split {
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

/// What must be read to count a set of spans: per grain of [`GRAINS`], the bucket ranges
/// (`[lo, hi)`), and the seconds whose executions are read one by one.
#[derive(Debug, Default, PartialEq)]
pub struct Needs {
    pub ranges: [BTreeSet<(i64, i64)>; 3],
    pub raw_seconds: BTreeSet<i64>,
}

/// What counting the spans after `now - s` needs, for each `s` in seconds.
pub fn needs(now: DateTime<Utc>, spans: &[i64]) -> Needs {
    let mut n = Needs::default();
    let mut from_hour = i64::MAX;
    for &s in spans {
        let x = split(now - chrono::Duration::seconds(s.max(1)));
        n.raw_seconds.insert(x.sa);
        n.ranges[0].insert(x.ranges[0]);
        n.ranges[1].insert(x.ranges[1]);
        from_hour = from_hour.min(x.ranges[2].0);
    }
    if from_hour < i64::MAX {
        n.ranges[2].insert((from_hour, i64::MAX));
    }
    n
}

/// Rollup rows and edge executions, as read for some spans.
pub struct Rollups<'a> {
    /// Per grain of [`GRAINS`]: bucket → counts.
    pub buckets: [HashMap<i64, Counts>; 3],
    /// Executions completed in the edge seconds, counted against `objective`.
    pub edges: Vec<Sample>,
    pub objective: &'a super::slo::Objective,
}

impl Tally for Rollups<'_> {
    fn counts(&self, after: DateTime<Utc>) -> Counts {
        let mut c = Counts::default();
        let x = split(after);
        let end = second_start(x.sa + 1);
        for s in self
            .edges
            .iter()
            .filter(|s| s.completed_at > after && s.completed_at < end)
        {
            c.add(Counts::of(s.duration_ms, self.objective));
        }
        for (g, &(lo, hi)) in x.ranges.iter().enumerate() {
            for (b, v) in &self.buckets[g] {
                if (lo..hi).contains(b) {
                    c.add(*v);
                }
            }
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

    /// The rollups of `samples`, keeping only what `needs` asks for.
    fn rolled<'a>(samples: &[Sample], n: &Needs, o: &'a Objective) -> Rollups<'a> {
        let mut r = Rollups {
            buckets: Default::default(),
            edges: Vec::new(),
            objective: o,
        };
        for s in samples {
            let c = Counts::of(s.duration_ms, o);
            for (g, &(_, width)) in GRAINS.iter().enumerate() {
                let b = bucket(s.completed_at, width);
                if n.ranges[g].iter().any(|(lo, hi)| (*lo..*hi).contains(&b)) {
                    r.buckets[g].entry(b).or_default().add(c);
                }
            }
            if n.raw_seconds.contains(&bucket(s.completed_at, SECOND)) {
                r.edges.push(*s);
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
            let n = needs(now, &spans(window));
            let r = rolled(&samples, &n, &o);
            let want = report(&Samples(&samples, &o), &o, window, now);
            let got = report(&r, &o, window, now);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "round {round}");
        }
    }

    #[test]
    fn a_30_day_window_reads_its_hours_and_under_a_minute_and_an_hour_per_span() {
        let now = DateTime::from_timestamp(1_780_000_123, 0).unwrap();
        let spans = spans(720);
        let n = needs(now, &spans);
        assert_eq!(n.ranges[2].len(), 1);
        let (from, _) = n.ranges[2].first().unwrap();
        assert!(bucket(now, HOUR) - from <= 720, "{from}");
        for g in 0..2 {
            let width: i64 = n.ranges[g].iter().map(|(a, b)| b - a).sum();
            assert!(width <= 60 * spans.len() as i64, "grain {g}: {width}");
        }
        assert!(n.raw_seconds.len() <= spans.len());
    }
}

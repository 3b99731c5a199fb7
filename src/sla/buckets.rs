//! SLO counts from rollups (pure): a span is counted from hour buckets where it covers whole
//! hours, minute buckets at its edges, and the raw executions of the two minutes it cuts. So a
//! report reads at most the hours in its window, plus under 120 minute buckets and 2 minutes
//! of executions per span, whatever the history holds, and still counts exactly what a
//! recount would.
use super::slo::{Counts, Sample, Tally};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;

/// The bucket of `t` at a grain of `width` seconds.
pub fn bucket(t: DateTime<Utc>, width: i64) -> i64 {
    t.timestamp().div_euclid(width)
}

/// The start of minute `m`.
fn minute_start(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(m * MINUTE, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// What must be read to count a set of spans: hour buckets in `hours`, minute buckets in the
/// ranges of `minutes` (each `[lo, hi)`, within one hour), and the executions completed in the
/// minutes of `raw_minutes`.
#[derive(Debug, Default, PartialEq)]
pub struct Needs {
    pub hours: Option<(i64, i64)>,
    pub minutes: BTreeSet<(i64, i64)>,
    pub raw_minutes: BTreeSet<i64>,
}

/// How a span `(after, upto]` splits: raw executions in the minutes of `after` and `upto`,
/// then whole minutes `[lo, hi)`, of which whole hours `[lo_h, hi_h)` (when `lo_h < hi_h`).
struct Split {
    ma: i64,
    mb: i64,
    lo: i64,
    hi: i64,
    lo_h: i64,
    hi_h: i64,
}

fn split(after: DateTime<Utc>, upto: DateTime<Utc>) -> Split {
    let (ma, mb) = (bucket(after, MINUTE), bucket(upto, MINUTE));
    let (lo, hi) = (ma + 1, mb);
    Split {
        ma,
        mb,
        lo,
        hi,
        lo_h: lo.div_euclid(60) + i64::from(lo.rem_euclid(60) != 0),
        hi_h: hi.div_euclid(60),
    }
}

/// What counting the spans `(now - s, now]` needs, for each `s` in seconds.
pub fn needs(now: DateTime<Utc>, spans: &[i64]) -> Needs {
    let mut n = Needs::default();
    for &s in spans {
        let x = split(now - chrono::Duration::seconds(s.max(1)), now);
        n.raw_minutes.extend([x.ma, x.mb]);
        if x.lo >= x.hi {
            continue;
        }
        if x.lo_h >= x.hi_h {
            n.minutes.insert((x.lo, x.hi));
            continue;
        }
        n.minutes.extend([(x.lo, x.lo_h * 60), (x.hi_h * 60, x.hi)]);
        n.hours = Some(match n.hours {
            Some((a, b)) => (a.min(x.lo_h), b.max(x.hi_h)),
            None => (x.lo_h, x.hi_h),
        });
    }
    n
}

/// Rollup rows and edge executions, as read for some spans.
pub struct Rollups<'a> {
    pub hours: HashMap<i64, Counts>,
    pub minutes: HashMap<i64, Counts>,
    /// Executions completed in the edge minutes, counted against `objective`.
    pub edges: Vec<Sample>,
    pub objective: &'a super::slo::Objective,
}

impl Rollups<'_> {
    fn minutes(&self, lo: i64, hi: i64, c: &mut Counts) {
        for m in lo..hi {
            if let Some(x) = self.minutes.get(&m) {
                c.add(*x);
            }
        }
    }

    fn raw(&self, keep: impl Fn(DateTime<Utc>) -> bool, c: &mut Counts) {
        for s in self.edges.iter().filter(|s| keep(s.completed_at)) {
            c.add(Counts::of(s.duration_ms, self.objective));
        }
    }
}

impl Tally for Rollups<'_> {
    fn counts(&self, after: DateTime<Utc>, upto: DateTime<Utc>) -> Counts {
        let mut c = Counts::default();
        let x = split(after, upto);
        if x.ma == x.mb {
            self.raw(|t| t > after && t <= upto, &mut c);
            return c;
        }
        let (end_a, start_b) = (minute_start(x.ma + 1), minute_start(x.mb));
        self.raw(|t| t > after && t < end_a, &mut c);
        self.raw(|t| t >= start_b && t <= upto, &mut c);
        if x.lo_h < x.hi_h {
            self.minutes(x.lo, x.lo_h * 60, &mut c);
            for h in x.lo_h..x.hi_h {
                if let Some(v) = self.hours.get(&h) {
                    c.add(*v);
                }
            }
            self.minutes(x.hi_h * 60, x.hi, &mut c);
        } else {
            self.minutes(x.lo, x.hi, &mut c);
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
            hours: HashMap::new(),
            minutes: HashMap::new(),
            edges: Vec::new(),
            objective: o,
        };
        for s in samples {
            let (m, h) = (bucket(s.completed_at, MINUTE), bucket(s.completed_at, HOUR));
            let c = Counts::of(s.duration_ms, o);
            if n.hours.is_some_and(|(a, b)| (a..b).contains(&h)) {
                r.hours.entry(h).or_default().add(c);
            }
            if n.minutes.iter().any(|(a, b)| (*a..*b).contains(&m)) {
                r.minutes.entry(m).or_default().add(c);
            }
            if n.raw_minutes.contains(&m) {
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
    fn a_30_day_window_reads_about_its_hours_and_a_few_minutes() {
        let now = DateTime::from_timestamp(1_780_000_123, 0).unwrap();
        let n = needs(now, &spans(720));
        let (a, b) = n.hours.unwrap();
        assert!((b - a) <= 721, "{a}..{b}");
        let minutes: i64 = n.minutes.iter().map(|(a, b)| b - a).sum();
        assert!(minutes <= 2 * 60 * spans(720).len() as i64, "{minutes}");
        assert!(n.raw_minutes.len() <= 2 * spans(720).len());
    }
}

//! SLO maths (pure): compliance, error budget and multi-window burn rates.
//!
//! Burn rates follow the SRE workbook's multi-window alerts for a 30-day SLO: 1h/5m at 14.4
//! and 6h/30m at 6 (fast burn: page) and 3d/6h at 1 (slow burn: ticket). Each window is
//! scaled by `window_hours / 720`, so a 24-hour SLO uses 2m/10s, 12m/1m and 2.4h/12m.
use async_graphql::SimpleObject;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Serialize;

/// One completed execution.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub completed_at: DateTime<Utc>,
    pub duration_ms: i64,
}

/// Executions completed in a span, by how each ended against an SLA's thresholds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: i64,
    /// Within the target.
    pub met: i64,
    /// Over the warning threshold, not over the critical one.
    pub warning: i64,
    /// Over the critical threshold.
    pub critical: i64,
}

impl Counts {
    /// One execution that took `duration_ms`.
    pub fn of(duration_ms: i64, o: &Objective) -> Counts {
        let over = |seconds: f64| duration_ms as f64 > seconds * 1000.0;
        Counts {
            total: 1,
            met: i64::from(!over(o.target_seconds)),
            warning: i64::from(over(o.warning_seconds) && !over(o.critical_seconds)),
            critical: i64::from(over(o.critical_seconds)),
        }
    }

    pub fn add(&mut self, c: Counts) {
        self.total += c.total;
        self.met += c.met;
        self.warning += c.warning;
        self.critical += c.critical;
    }
}

/// What a report reads: the executions completed at or after `from`. A window ends at the time
/// of the request and starts at a whole second (see [`report`]); a completion is never later
/// than the server's clock plus `CLOCK_SKEW_SECONDS`, and one reported that little ahead counts
/// as inside the window.
pub trait Tally {
    fn counts(&self, from: DateTime<Utc>) -> Counts;
}

/// Raw samples, counted one by one against an objective.
pub struct Samples<'a>(pub &'a [Sample], pub &'a Objective);

impl Tally for Samples<'_> {
    fn counts(&self, from: DateTime<Utc>) -> Counts {
        let mut c = Counts::default();
        for s in self.0 {
            if s.completed_at >= from {
                c.add(Counts::of(s.duration_ms, self.1));
            }
        }
        c
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Objective {
    pub target_seconds: f64,
    pub warning_seconds: f64,
    pub critical_seconds: f64,
    /// Percentage of executions that must finish within the target.
    pub slo_target_percentage: f64,
}

#[derive(Clone, Debug, Serialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct BurnRateWindow {
    /// The long window, in seconds (already scaled).
    pub long_window_seconds: i64,
    pub short_window_seconds: i64,
    pub long_burn_rate: f64,
    pub short_burn_rate: f64,
    /// Both windows must burn at least this fast to fire.
    pub threshold: f64,
    pub firing: bool,
}

#[derive(Clone, Debug, Serialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct SloReport {
    pub window_hours: i32,
    /// Executions completed in the window, and executions still running past the target (a
    /// certain miss, counted at once rather than at completion).
    pub total: i64,
    /// Of those, how many finished within the target.
    pub met: i64,
    /// Finished over the warning threshold but not over the critical one.
    pub breached_warning: i64,
    /// Finished over the critical threshold.
    pub breached_critical: i64,
    /// met / total × 100; 100 when nothing completed.
    pub compliance_percentage: f64,
    pub target_percentage: f64,
    pub meets_target: bool,
    /// Executions allowed to miss the target in this window: (100 − target)% of total.
    pub error_budget_total: f64,
    /// Executions that missed the target.
    pub error_budget_used: f64,
    /// What is left of the budget; never below 0 (see `errorBudgetOverspent`).
    pub error_budget_remaining: f64,
    /// More executions missed the target than the budget allows.
    pub error_budget_exhausted: bool,
    /// How many executions over the budget (used − total); 0 while it is not exhausted.
    pub error_budget_overspent: f64,
    /// Share of the budget used (1.0 = all of it over the whole window).
    pub burn_rate: f64,
    pub burn_rates: Vec<BurnRateWindow>,
    pub fast_burn: bool,
    pub slow_burn: bool,
}

/// The SRE workbook's (long, short, threshold) pairs for a 30-day window, in seconds.
const PAIRS: [(i64, i64, f64); 3] = [
    (3600, 300, 14.4),
    (21600, 1800, 6.0),
    (259_200, 21_600, 1.0),
];

/// The spans a report counts, in seconds back from now: the window itself, then each
/// burn-rate pair's long and short window, scaled to the SLO window.
pub fn spans(window_hours: i32) -> Vec<i64> {
    let scale = window_hours as f64 / 720.0;
    let mut out = vec![window_hours as i64 * 3600];
    for &(long, short, _) in &PAIRS {
        out.push(((long as f64) * scale).round() as i64);
        out.push(((short as f64) * scale).round() as i64);
    }
    out
}

fn burn(t: &impl Tally, now: DateTime<Utc>, seconds: i64, o: &Objective) -> f64 {
    let c = t.counts(now - Duration::seconds(seconds.max(1)));
    let bad = c.total - c.met;
    let allowed = (100.0 - o.slo_target_percentage) / 100.0;
    if c.total == 0 {
        return 0.0;
    }
    let error_rate = bad as f64 / c.total as f64;
    if allowed <= 0.0 {
        if bad > 0 { f64::INFINITY } else { 0.0 }
    } else {
        error_rate / allowed
    }
}

/// Computes the report over the executions `t` counts, for windows that end at `now`. Each
/// window starts at a whole second: its length back from `now` taken to the second, so it
/// holds up to a second more than its length (and the rollups need no raw executions).
pub fn report(t: &impl Tally, o: &Objective, window_hours: i32, now: DateTime<Utc>) -> SloReport {
    let now = now.trunc_subsecs(0);
    let seconds = window_hours as i64 * 3600;
    let c = t.counts(now - Duration::seconds(seconds));
    let compliance = if c.total == 0 {
        100.0
    } else {
        c.met as f64 * 100.0 / c.total as f64
    };
    let budget_total = (100.0 - o.slo_target_percentage) / 100.0 * c.total as f64;
    let used = (c.total - c.met) as f64;
    let spans = spans(window_hours);
    let burn_rates: Vec<BurnRateWindow> = PAIRS
        .iter()
        .zip(spans[1..].chunks(2))
        .map(|(&(_, _, threshold), w)| {
            let (l, s) = (w[0], w[1]);
            let lb = burn(t, now, l, o);
            let sb = burn(t, now, s, o);
            BurnRateWindow {
                long_window_seconds: l,
                short_window_seconds: s,
                long_burn_rate: lb,
                short_burn_rate: sb,
                threshold,
                firing: lb >= threshold && sb >= threshold,
            }
        })
        .collect();
    SloReport {
        window_hours,
        total: c.total,
        met: c.met,
        breached_warning: c.warning,
        breached_critical: c.critical,
        compliance_percentage: (compliance * 1000.0).round() / 1000.0,
        target_percentage: o.slo_target_percentage,
        meets_target: compliance >= o.slo_target_percentage,
        error_budget_total: budget_total,
        error_budget_used: used,
        error_budget_remaining: (budget_total - used).max(0.0),
        error_budget_exhausted: used > budget_total,
        error_budget_overspent: (used - budget_total).max(0.0),
        burn_rate: burn(t, now, seconds, o),
        fast_burn: burn_rates[0].firing || burn_rates[1].firing,
        slow_burn: burn_rates[2].firing,
        burn_rates,
    }
}

/// Most buckets a timeline may have.
pub const MAX_BUCKETS: u64 = 2_000;

/// Breaches per bucket over a span that ends now.
#[derive(Clone, Debug, Serialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct BreachTimeline {
    /// The first bucket's start (`to` − `hours`).
    pub from: DateTime<Utc>,
    /// The end of the last bucket: the time of the request.
    pub to: DateTime<Utc>,
    pub bucket_minutes: i32,
    /// Oldest first; every bucket is there, empty ones with zeros.
    pub buckets: Vec<TimelineBucket>,
    /// Breaches detected in the span (warning and critical ones each count).
    pub total: i32,
}

/// Breaches detected in `[start, start + bucketMinutes)` (the last bucket also holds `to`).
#[derive(Clone, Debug, Serialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct TimelineBucket {
    pub start: DateTime<Utc>,
    /// Warning and critical breaches together.
    pub count: i32,
    pub warning: i32,
    pub critical: i32,
}

/// Buckets `detections` (detection time, critical?) into `bucket_minutes` buckets covering
/// the `hours` before `now`; detections outside the span are left out. The first bucket
/// starts at `now − hours`, and the last one ends at `now` and includes it (a breach detected
/// at the moment of the request counts); when the span is not a whole number of buckets the
/// last one is cut short.
pub fn timeline(
    detections: &[(DateTime<Utc>, bool)],
    hours: i32,
    bucket_minutes: i32,
    now: DateTime<Utc>,
) -> BreachTimeline {
    let from = now - Duration::hours(hours as i64);
    let width = Duration::minutes(bucket_minutes as i64);
    let n = (hours.max(0) as u64 * 60).div_ceil(bucket_minutes.max(1) as u64);
    let mut buckets: Vec<TimelineBucket> = (0..n)
        .map(|i| TimelineBucket {
            start: from + width * i as i32,
            count: 0,
            warning: 0,
            critical: 0,
        })
        .collect();
    let mut total = 0;
    for &(at, critical) in detections {
        if at < from || at > now {
            continue;
        }
        let i = ((at - from).num_milliseconds() / width.num_milliseconds()) as usize;
        let last = buckets.len() - 1;
        let b = &mut buckets[i.min(last)];
        b.count += 1;
        if critical {
            b.critical += 1;
        } else {
            b.warning += 1;
        }
        total += 1;
    }
    BreachTimeline {
        from,
        to: now,
        bucket_minutes,
        buckets,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective(target_pct: f64) -> Objective {
        Objective {
            target_seconds: 300.0,
            warning_seconds: 240.0,
            critical_seconds: 400.0,
            slo_target_percentage: target_pct,
        }
    }

    #[test]
    fn seed_check_97_percent_meets_95() {
        let now = Utc::now();
        let samples: Vec<Sample> = (0..100)
            .map(|i| Sample {
                completed_at: now - Duration::minutes(i * 10),
                duration_ms: if i < 3 { 500_000 } else { 100_000 },
            })
            .collect();
        let o = objective(95.0);
        let r = report(&Samples(&samples, &o), &o, 24, now);
        assert_eq!(r.total, 100);
        assert_eq!(r.met, 97);
        assert_eq!(r.compliance_percentage, 97.0);
        assert!(r.meets_target);
        assert_eq!(r.breached_critical, 3);
        assert!((r.error_budget_total - 5.0).abs() < 1e-9);
        assert_eq!(r.error_budget_used, 3.0);
        assert!((r.error_budget_remaining - 2.0).abs() < 1e-9);
        assert!((r.burn_rate - 0.6).abs() < 1e-9, "3% bad over a 5% budget");
    }

    #[test]
    fn fast_burn_fires_on_a_recent_burst() {
        let now = Utc::now();
        // 20 recent executions all over target: burn rate 100 on a 99% SLO.
        let samples: Vec<Sample> = (0..20)
            .map(|i| Sample {
                completed_at: now - Duration::seconds(i),
                duration_ms: 1_000_000,
            })
            .collect();
        let o = objective(99.0);
        let r = report(&Samples(&samples, &o), &o, 24, now);
        assert!(r.fast_burn);
        assert!(r.slow_burn);
        assert_eq!(r.burn_rates[0].long_window_seconds, 120);
        assert_eq!(r.burn_rates[0].short_window_seconds, 10);
        let quiet = report(&Samples(&[], &o), &o, 24, now);
        assert!(!quiet.fast_burn && !quiet.slow_burn);
        assert_eq!(quiet.compliance_percentage, 100.0);
    }
    #[test]
    fn timeline_buckets_by_detection_time_and_keeps_empty_buckets() {
        let now: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
        let h = |x: i64| now - Duration::minutes(x);
        let det = [
            (h(1), true),           // last bucket
            (h(59), false),         // last bucket
            (h(61), false),         // second to last
            (h(24 * 60), true),     // the first instant of the span: first bucket
            (h(24 * 60 + 1), true), // before the span: left out
            (now, false),           // at the end: left out (buckets are half-open)
        ];
        let t = timeline(&det, 24, 60, now);
        assert_eq!(t.buckets.len(), 24);
        assert_eq!(t.total, 5);
        assert_eq!(t.buckets[0].start, now - Duration::hours(24));
        assert_eq!((t.buckets[0].count, t.buckets[0].critical), (1, 1));
        assert_eq!((t.buckets[23].count, t.buckets[23].warning), (3, 2));
        assert_eq!(t.buckets[22].count, 1);
        assert_eq!(t.buckets[1..22].iter().map(|b| b.count).sum::<i32>(), 0);
        // 90-minute buckets over 2 hours: the second is cut short at now.
        let t = timeline(&det, 2, 90, now);
        assert_eq!(t.buckets.len(), 2);
        assert_eq!((t.buckets[0].count, t.buckets[1].count), (2, 2));
    }
}

//! Executions still running past an SLA's target, counted for SLO reports: each is a certain
//! miss from the moment its target passed, with its elapsed time so far. Per span of a report
//! (a [`Split`]), how many there are by severity.
//!
//! For a wall-clock SLA that applies to every execution, in a workflow that was never paused,
//! they are counted from the counts of running executions by start time ([`in_store`],
//! [`super::running`]): a handful of start-time intervals decide how each one counts, and the
//! count in each is a difference of two sums of rollup buckets (and of the running
//! executions started in the bounds' own seconds). Its cost is bounded whatever the history
//! and however many are running: per bound, at most 59 second, 59 minute and 23 hour buckets
//! and the days after (it grows as those buckets fill, then stops). Otherwise (a calendar, a
//! condition or pauses) each one's deadline is worked out here ([`from_rows`]), reading each one's row and pauses: that grows with how
//! many are running past the target.
use super::buckets::Split;
use super::running::{self, Since};
use super::sla_time::SlaTime;
use super::slo::{Counts, Objective, Sample, Samples, Tally};
use crate::entity::{execution, sla};
use crate::error::AppResult;
use crate::model::ExecutionStatus;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;

/// Per split's start second: the overdue executions' counts from that second on.
pub type Overdue = HashMap<i64, Counts>;

/// The SLA's overdue executions at `now`, counted for each of `splits`.
pub async fn counts(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    o: &Objective,
    now: DateTime<Utc>,
    time: &SlaTime,
    splits: &[Split],
) -> AppResult<Overdue> {
    if time.is_wall()
        && s.applies_when.is_none()
        && !super::pauses::any_in_workflow(db, s.workflow_id).await?
    {
        return in_store(db, s, now, splits).await;
    }
    Ok(per_split(&from_rows(db, s, now, time).await?, o, splits))
}

/// Counts `samples` (overdue executions, each "completed" when its target passed) per split,
/// one by one ([`Samples`]).
pub fn per_split(samples: &[Sample], o: &Objective, splits: &[Split]) -> Overdue {
    let each = Samples(samples, o);
    splits
        .iter()
        .map(|x| (x.sa, each.counts(start_of(x))))
        .collect()
}

fn start_of(x: &Split) -> DateTime<Utc> {
    DateTime::from_timestamp(x.sa, 0).unwrap_or_default()
}

/// The SLA's workflow's executions still running past the target at `now`, as samples that
/// "completed" (became a certain miss) when their target passed, with their elapsed time, by
/// the SLA's time and less their pauses.
pub async fn from_rows(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    now: DateTime<Utc>,
    time: &SlaTime,
) -> AppResult<Vec<Sample>> {
    use execution::Column as C;
    let target = Duration::seconds(s.target_duration_seconds);
    // The (workflow_id, completed_at) index finds the unfinished ones. Business time is never
    // more than wall-clock time, so those past the target by the wall clock are the candidates.
    let rows: Vec<(uuid::Uuid, uuid::Uuid, DateTime<Utc>, serde_json::Value)> =
        execution::Entity::find()
            .select_only()
            .column(C::Id)
            .column(C::CompanyId)
            .column(C::StartedAt)
            .column(C::InputData)
            .filter(C::WorkflowId.eq(s.workflow_id))
            .filter(C::CompletedAt.is_null())
            .filter(C::Status.eq(ExecutionStatus::Running.as_str()))
            .into_tuple()
            .all(db)
            .await?;
    // The start is checked here, not in SQL: with `started_at < ?` there, SQLite took the
    // (workflow_id, started_at) index and read every execution of the workflow (3.2 s over
    // 1,000,000).
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.1 == s.company_id && r.2 < now - target)
        .filter(|r| super::service::applies(s, &r.3))
        .collect();
    let pauses = super::pauses::of_executions(db, rows.iter().map(|r| r.0)).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, _, started, _)| {
            let p = super::pauses::for_sla(pauses.get(&id), s.id);
            let elapsed = time.elapsed_paused(started, now, &p);
            let due = time.deadline_paused(started, s.target_duration_seconds, &p)?;
            (elapsed > target).then(|| Sample {
                completed_at: due,
                duration_ms: elapsed.num_milliseconds(),
            })
        })
        .collect())
}

/// One bound on the start time: "started before `at`", or "at or before" when `inclusive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Bound {
    at: DateTime<Utc>,
    inclusive: bool,
}

/// The bounds that decide how an overdue execution counts, for a wall-clock SLA: per split,
/// whether its deadline (start + target) falls in the span; and whether its elapsed time, in
/// whole milliseconds as [`Counts::of`] takes it, is over the target, the warning and the
/// critical threshold (over `x` seconds: at least `1000 x + 1` ms, so started at or before
/// `now - (1000 x + 1) ms`).
struct Bounds {
    /// Per split: "started before the span's start less the target" (then it does not count).
    before_span: Vec<Bound>,
    over_target: Bound,
    over_warning: Bound,
    over_critical: Bound,
}

impl Bounds {
    /// For an SLA's target, warning and critical thresholds, in seconds.
    fn new(seconds: [i64; 3], now: DateTime<Utc>, splits: &[Split]) -> Bounds {
        let [target_s, warning_s, critical_s] = seconds;
        let target = Duration::seconds(target_s);
        let over = |seconds: i64| Bound {
            at: now - Duration::milliseconds(seconds * 1000 + 1),
            inclusive: true,
        };
        Bounds {
            before_span: splits
                .iter()
                .map(|x| Bound {
                    at: start_of(x) - target,
                    inclusive: false,
                })
                .collect(),
            over_target: over(target_s),
            over_warning: over(warning_s),
            over_critical: over(critical_s),
        }
    }

    /// Every bound, sorted: each one's rows are a superset of the one before's.
    fn sorted(&self) -> Vec<Bound> {
        let mut all = self.before_span.clone();
        all.extend([self.over_target, self.over_warning, self.over_critical]);
        all.sort();
        all.dedup();
        all
    }
}

/// Overdue counts per split, counted by the store (see the module's documentation). Each
/// running execution falls in the interval before the first sorted bound it is under (or after
/// the last, up to the target passing), and every bound holds alike for the whole of an
/// interval. An interval's count is how many started from its lower bound on, less how many
/// from its upper bound on ([`running::started_from`]). The interval under the first bound is
/// left out: its executions' deadlines come before every split.
pub async fn in_store(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    now: DateTime<Utc>,
    splits: &[Split],
) -> AppResult<Overdue> {
    let seconds = [
        s.target_duration_seconds,
        s.warning_threshold_seconds,
        s.critical_threshold_seconds,
    ];
    let bounds = Bounds::new(seconds, now, splits);
    let sorted = bounds.sorted();
    let target = Duration::seconds(s.target_duration_seconds);
    let froms = froms(&sorted, now - target);
    let n = running::started_from(db, s.workflow_id, s.company_id, &froms).await?;
    let per_interval = differences(&n);
    Ok(classify(&bounds, &sorted, &per_interval, splits))
}

/// Each sorted bound's lower bound for the executions not under it (from `at` on when under is
/// before `at`, after `at` when it is at or before), then the target passing (`cutoff`:
/// running past the target means started before it).
fn froms(sorted: &[Bound], cutoff: DateTime<Utc>) -> Vec<Since> {
    let mut out: Vec<Since> = sorted
        .iter()
        .map(|b| Since {
            at: b.at,
            strict: b.inclusive,
        })
        .collect();
    out.push(Since {
        at: cutoff,
        strict: false,
    });
    out
}

/// Counts per interval `k >= 1` from how many started from each of [`froms`] on (the last:
/// from the target passing on). Only those started before the target passed count, and a
/// bound can come after it (a warning threshold under the target): from there on, none.
fn differences(n: &[i64]) -> Vec<(usize, i64)> {
    let Some((&cutoff, bounds)) = n.split_last() else {
        return Vec::new();
    };
    let overdue: Vec<i64> = bounds.iter().map(|&x| (x - cutoff).max(0)).collect();
    (1..=overdue.len())
        .map(|k| (k, overdue[k - 1] - overdue.get(k).copied().unwrap_or(0)))
        .collect()
}

/// Overdue counts per split from counts per interval (`k`: the first sorted bound the rows are
/// under, or past the last).
fn classify(
    bounds: &Bounds,
    sorted: &[Bound],
    per_interval: &[(usize, i64)],
    splits: &[Split],
) -> Overdue {
    let rank = |b: &Bound| sorted.binary_search(b).unwrap_or(sorted.len());
    // Rows of interval k are under bound m exactly when k <= m.
    let holds = |k: usize, b: &Bound| k <= rank(b);
    splits
        .iter()
        .zip(&bounds.before_span)
        .map(|(x, before)| {
            let mut c = Counts::default();
            for &(k, n) in per_interval.iter().filter(|(k, _)| !holds(*k, before)) {
                let critical = holds(k, &bounds.over_critical);
                c.add(Counts {
                    total: n,
                    met: n * i64::from(!holds(k, &bounds.over_target)),
                    warning: n * i64::from(holds(k, &bounds.over_warning) && !critical),
                    critical: n * i64::from(critical),
                });
            }
            (x.sa, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::buckets::needs;
    use super::super::slo::spans;
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// What the store gives for running executions started at `starts`: per interval of the
    /// sorted bounds, the differences of how many started from each bound on.
    fn intervals(
        starts: &[DateTime<Utc>],
        target: i64,
        now: DateTime<Utc>,
        sorted: &[Bound],
    ) -> Vec<(usize, i64)> {
        let n: Vec<i64> = froms(sorted, now - Duration::seconds(target))
            .iter()
            .map(|f| {
                let from = |at: &DateTime<Utc>| if f.strict { *at > f.at } else { *at >= f.at };
                starts.iter().filter(|at| from(at)).count() as i64
            })
            .collect();
        differences(&n)
    }

    #[test]
    fn counts_by_interval_equal_counts_of_every_overdue_execution() {
        let mut rng = StdRng::seed_from_u64(11);
        for round in 0..300 {
            let (t, w) = (rng.random_range(1..600), rng.random_range(1..900));
            let c = w + rng.random_range(0..900);
            let o = Objective {
                target_seconds: t as f64,
                warning_seconds: w as f64,
                critical_seconds: c as f64,
                slo_target_percentage: 99.0,
            };
            let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap()
                + Duration::nanoseconds(rng.random_range(0..86_400_000_000_000));
            let window = [1, 24, 720][round % 3];
            let splits = needs(now, &spans(window));
            let bounds = Bounds::new([t, w, c], now, &splits);
            // Random starts, and starts on and 1 ms or 1 ns either side of every bound.
            let mut starts: Vec<DateTime<Utc>> = (0..rng.random_range(0..300))
                .map(|_| {
                    now - Duration::milliseconds(
                        rng.random_range(0..window as i64 * 3_600_000 + 7_200_000),
                    )
                })
                .collect();
            for b in bounds.sorted() {
                for d in [
                    Duration::zero(),
                    Duration::milliseconds(1),
                    Duration::nanoseconds(1),
                ] {
                    starts.extend([b.at - d, b.at + d]);
                }
            }
            let samples: Vec<Sample> = starts
                .iter()
                .filter_map(|&started| {
                    let elapsed = now - started;
                    (elapsed > Duration::seconds(t)).then(|| Sample {
                        completed_at: started + Duration::seconds(t),
                        duration_ms: elapsed.num_milliseconds(),
                    })
                })
                .collect();
            let sorted = bounds.sorted();
            let got = classify(
                &bounds,
                &sorted,
                &intervals(&starts, t, now, &sorted),
                &splits,
            );
            let want = per_split(&samples, &o, &splits);
            for x in &splits {
                assert_eq!(got[&x.sa], want[&x.sa], "round {round}, span from {}", x.sa);
            }
        }
    }
}

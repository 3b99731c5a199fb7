//! How an SLA keeps time: wall-clock time, or the business time of its calendar. Every
//! duration an SLA is judged by (a live deadline, a completion, the SLO counts) goes through
//! here, so that they agree.
use super::calendar::{Calendar, Window};
use crate::entity::{calendar, sla};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};
use std::collections::HashMap;
use uuid::Uuid;

/// A pause of an execution's SLA clocks: from, and until (None while it lasts).
pub type Pause = (DateTime<Utc>, Option<DateTime<Utc>>);

#[derive(Clone, Debug)]
pub enum SlaTime {
    Wall,
    Business(Box<Calendar>),
}

impl SlaTime {
    /// The SLA time between `from` and `to`.
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        match self {
            SlaTime::Wall => to - from,
            SlaTime::Business(c) => c.business_time(from, to),
        }
    }

    /// The instant `seconds` of SLA time after `from`; None when the calendar never has that
    /// much.
    pub fn deadline(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        match self {
            SlaTime::Wall => Some(from + Duration::seconds(seconds)),
            SlaTime::Business(c) => c.add(from, Duration::seconds(seconds)),
        }
    }

    /// The instant `amount` of SLA time after `from`.
    pub fn after(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        match self {
            SlaTime::Wall => Some(from + amount),
            SlaTime::Business(c) => c.add(from, amount),
        }
    }

    /// SLA time between `from` and `to`, less the time of `pauses` (sorted, not overlapping;
    /// an open one lasts to `to`).
    pub fn elapsed_paused(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        pauses: &[Pause],
    ) -> Duration {
        let mut d = self.elapsed(from, to);
        for &(a, b) in pauses {
            let (a, b) = (a.max(from), b.unwrap_or(to).min(to));
            if b > a {
                d -= self.elapsed(a, b);
            }
        }
        d.max(Duration::zero())
    }

    /// The instant `seconds` of SLA time after `from` with `pauses` not counting; None while a
    /// pause is open before then (the deadline is armed again on resume), or when a calendar
    /// never has the time.
    pub fn deadline_paused(
        &self,
        from: DateTime<Utc>,
        seconds: i64,
        pauses: &[Pause],
    ) -> Option<DateTime<Utc>> {
        let mut left = Duration::seconds(seconds);
        let mut at = from;
        for &(a, b) in pauses.iter().filter(|p| p.1.is_none_or(|b| b > from)) {
            let a = a.max(at);
            if a > at {
                let run = self.elapsed(at, a);
                if run >= left {
                    return self.after(at, left);
                }
                left -= run;
            }
            at = at.max(b?);
        }
        self.after(at, left)
    }

    /// Milliseconds of SLA time between `from` and `to`.
    pub fn elapsed_ms(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.elapsed(from, to).num_milliseconds()
    }

    pub fn is_wall(&self) -> bool {
        matches!(self, SlaTime::Wall)
    }
}

/// Pauses sorted by start, with overlapping or touching ones merged into one (an open one
/// swallows every later one).
pub fn merge(mut pauses: Vec<Pause>) -> Vec<Pause> {
    pauses.sort_by_key(|p| p.0);
    let mut out: Vec<Pause> = Vec::with_capacity(pauses.len());
    for (a, b) in pauses {
        match out.last_mut() {
            Some(last) if last.1.is_none_or(|end| a <= end) => {
                last.1 = match (last.1, b) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                };
            }
            _ => out.push((a, b)),
        }
    }
    out
}

/// The engine's calendar of a stored one.
pub fn engine(c: &calendar::Model) -> AppResult<Calendar> {
    let windows: Vec<Window> = serde_json::from_value(c.weekly_hours.clone())
        .map_err(|e| AppError::Internal(format!("calendar {}: weekly hours: {e}", c.id)))?;
    let holidays: Vec<NaiveDate> = serde_json::from_value(c.holidays.clone())
        .map_err(|e| AppError::Internal(format!("calendar {}: holidays: {e}", c.id)))?;
    Calendar::new(&c.time_zone, &windows, &holidays)
}

/// How SLA `s` keeps time.
pub async fn of(db: &impl ConnectionTrait, s: &sla::Model) -> AppResult<SlaTime> {
    let Some(id) = s.calendar_id else {
        return Ok(SlaTime::Wall);
    };
    let c = calendar::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|c| c.company_id == s.company_id)
        .ok_or_else(|| AppError::Internal(format!("SLA {}: calendar {id} is gone", s.id)))?;
    Ok(SlaTime::Business(Box::new(engine(&c)?)))
}

/// How each of `slas` keeps time, by SLA id (each calendar read once).
pub async fn of_each(
    db: &impl ConnectionTrait,
    slas: &[&sla::Model],
) -> AppResult<HashMap<Uuid, SlaTime>> {
    let mut by_calendar: HashMap<Uuid, SlaTime> = HashMap::new();
    let mut out = HashMap::new();
    for s in slas {
        let t = match s.calendar_id {
            None => SlaTime::Wall,
            Some(c) => match by_calendar.get(&c) {
                Some(t) => t.clone(),
                None => {
                    let t = of(db, s).await?;
                    by_calendar.insert(c, t.clone());
                    t
                }
            },
        };
        out.insert(s.id, t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_pauses_merge_and_an_open_one_swallows_later_ones() {
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let merged = merge(vec![
            (t(50), Some(t(60))),
            (t(0), Some(t(20))),
            (t(10), Some(t(30))),
            (t(30), Some(t(40))),
            (t(70), None),
            (t(80), Some(t(90))),
        ]);
        assert_eq!(
            merged,
            vec![(t(0), Some(t(40))), (t(50), Some(t(60))), (t(70), None)]
        );
        // Counted once: 100 s less 40 + 10 + 30 paused.
        let w = SlaTime::Wall;
        assert_eq!(w.elapsed_paused(t(0), t(100), &merged).num_seconds(), 20);
    }

    #[test]
    fn paused_time_does_not_count_and_an_open_pause_has_no_deadline() {
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let w = SlaTime::Wall;
        let pauses = [(t(100), Some(t(1100))), (t(1200), Some(t(1300)))];
        // 0..100 runs, 1100..1200 runs, 1300.. runs: 240 s of SLA time is reached at 1340.
        assert_eq!(w.deadline_paused(t(0), 240, &pauses), Some(t(1340)));
        assert_eq!(
            w.elapsed_paused(t(0), t(1340), &pauses),
            Duration::seconds(240)
        );
        assert_eq!(w.deadline_paused(t(0), 50, &pauses), Some(t(50)));
        let open = [(t(100), None)];
        assert_eq!(w.deadline_paused(t(0), 240, &open), None);
        assert_eq!(
            w.elapsed_paused(t(0), t(5000), &open),
            Duration::seconds(100)
        );
    }
}

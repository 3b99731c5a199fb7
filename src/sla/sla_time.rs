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

    /// Milliseconds of SLA time between `from` and `to`.
    pub fn elapsed_ms(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.elapsed(from, to).num_milliseconds()
    }

    pub fn is_wall(&self) -> bool {
        matches!(self, SlaTime::Wall)
    }
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

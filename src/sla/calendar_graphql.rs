//! Business-hours calendars in the schema: a tenant object with its time zone, weekly hours and
//! holidays, and the SLAs that count by it.
use super::calendar::{Window, parse_minute, show_minute};
use crate::auth::CtxAuth;
use crate::entity::{calendar, sla};
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::pagination::{Page, paginate};
use crate::ids::parse_id;
use crate::tenancy;
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

pub type Calendar = calendar::Model;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

const DAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// Working hours on one weekday, in the calendar's local time: `start` to `end` ("09:00" to
/// "17:30"; "24:00" ends at midnight).
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "WorkingHoursInput")]
pub struct WorkingHours {
    pub day: Weekday,
    pub start: String,
    pub end: String,
}

#[ComplexObject]
impl Calendar {
    async fn weekly_hours(&self) -> Vec<WorkingHours> {
        hours_of(self)
    }
    async fn holidays(&self) -> Vec<String> {
        serde_json::from_value(self.holidays.clone()).unwrap_or_default()
    }
    /// Business seconds between two instants by this calendar.
    async fn business_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<f64> {
        let c = super::sla_time::engine(self)?;
        Ok(c.business_time(from, to).num_milliseconds() as f64 / 1e3)
    }
}

fn hours_of(c: &Calendar) -> Vec<WorkingHours> {
    let windows: Vec<Window> = serde_json::from_value(c.weekly_hours.clone()).unwrap_or_default();
    windows
        .into_iter()
        .map(|w| WorkingHours {
            day: DAYS[w.weekday as usize % 7],
            start: show_minute(w.start_minute),
            end: show_minute(w.end_minute),
        })
        .collect()
}

/// Checked windows and holidays as stored.
fn parse(
    time_zone: &str,
    hours: &[WorkingHours],
    holidays: &[String],
) -> Result<(serde_json::Value, serde_json::Value)> {
    let mut windows = Vec::new();
    for h in hours {
        let weekday = DAYS.iter().position(|d| *d == h.day).unwrap_or(0) as u8;
        windows.push(Window {
            weekday,
            start_minute: parse_minute(&h.start)?,
            end_minute: parse_minute(&h.end)?,
        });
    }
    let mut dates = Vec::new();
    for d in holidays {
        let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| AppError::bad(format!("holidays: {d:?} is not a date like 2026-12-25")))?;
        dates.push(date);
    }
    super::calendar::Calendar::new(time_zone, &windows, &dates)?;
    Ok((json!(windows), json!(dates)))
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The company's business-hours calendars.
    async fn calendars(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Calendar>> {
        let q = tenancy::scoped::<calendar::Entity>(ctx.auth()?);
        Ok(paginate(&ctx.state()?.db, q, first, after).await?)
    }
}

#[derive(InputObject)]
pub struct CreateCalendarInput {
    pub name: String,
    /// An IANA time zone name, like Europe/Berlin or America/New_York.
    pub time_zone: String,
    pub weekly_hours: Vec<WorkingHours>,
    #[graphql(default)]
    pub holidays: Vec<String>,
}

#[derive(InputObject)]
pub struct UpdateCalendarInput {
    pub id: ID,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub weekly_hours: Option<Vec<WorkingHours>>,
    pub holidays: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct DeleteCalendarInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CalendarPayload {
    pub calendar: Calendar,
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    async fn create_calendar(
        &self,
        ctx: &Context<'_>,
        input: CreateCalendarInput,
    ) -> Result<CalendarPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let name = input.name.trim().to_string();
        if name.is_empty() {
            return Err(AppError::bad("name must not be empty").into());
        }
        let (hours, holidays) = parse(&input.time_zone, &input.weekly_hours, &input.holidays)?;
        let now = st.clock.now();
        let m = calendar::Model {
            id: Uuid::now_v7(),
            company_id: auth.company_id,
            name,
            time_zone: input.time_zone,
            weekly_hours: hours,
            holidays,
            created_at: now,
            updated_at: now,
        };
        let m = calendar::Entity::insert(m.into_active_model())
            .exec_with_returning(&st.db)
            .await
            .map_err(AppError::from)?;
        Ok(CalendarPayload { calendar: m })
    }

    /// Changes a calendar; the SLAs that count by it recount their SLO figures and re-arm
    /// their deadlines.
    async fn update_calendar(
        &self,
        ctx: &Context<'_>,
        input: UpdateCalendarInput,
    ) -> Result<CalendarPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let id = parse_id(&input.id, "calendar")?;
        let txn = crate::db::begin_write(&st.db).await?;
        let m = tenancy::get::<calendar::Entity>(&txn, auth, id).await?;
        let tz = input.time_zone.unwrap_or_else(|| m.time_zone.clone());
        let hours = match input.weekly_hours {
            Some(h) => h,
            None => hours_of(&m),
        };
        let holidays = input
            .holidays
            .unwrap_or_else(|| serde_json::from_value(m.holidays.clone()).unwrap_or_default());
        let (hours, holidays) = parse(&tz, &hours, &holidays)?;
        let mut am = m.into_active_model();
        if let Some(n) = input.name {
            am.name = Set(n.trim().to_string());
        }
        am.time_zone = Set(tz);
        am.weekly_hours = Set(hours);
        am.holidays = Set(holidays);
        am.updated_at = Set(st.clock.now());
        let m = am.update(&txn).await.map_err(AppError::from)?;
        for s in users(&txn, id).await? {
            super::rollups::rebuild(&txn, s.id).await?;
        }
        txn.commit().await.map_err(AppError::from)?;
        st.sla.slas_changed(st).await;
        Ok(CalendarPayload { calendar: m })
    }

    /// Deletes a calendar no SLA counts by (else CONFLICT, naming them).
    async fn delete_calendar(
        &self,
        ctx: &Context<'_>,
        input: DeleteCalendarInput,
    ) -> Result<crate::graphql_base::types::DeletePayload> {
        let auth = ctx.writer()?;
        let db = &ctx.state()?.db;
        let id = parse_id(&input.id, "calendar")?;
        tenancy::get::<calendar::Entity>(db, auth, id).await?;
        let used = users(db, id).await?;
        if !used.is_empty() {
            let names: Vec<&str> = used.iter().map(|s| s.name.as_str()).collect();
            return Err(AppError::conflict(format!(
                "calendar {id} is used by SLA {}; give them another calendar first",
                names.join(", ")
            ))
            .into());
        }
        tenancy::delete::<calendar::Entity>(db, auth, id).await?;
        Ok(crate::graphql_base::types::DeletePayload {
            deleted_id: input.id,
        })
    }
}

/// The SLAs that count by calendar `id`.
async fn users(db: &impl ConnectionTrait, id: Uuid) -> Result<Vec<sla::Model>, AppError> {
    Ok(sla::Entity::find()
        .filter(sla::Column::CalendarId.eq(id))
        .all(db)
        .await?)
}

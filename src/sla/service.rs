//! SLA definitions, breach recording and acknowledgement. Every query is scoped to the
//! caller's company.
use super::escalation::{self, Alerting, Level};
use super::slo::{self, Objective, SloReport};
use super::{BreachEventKind, Severity};
use crate::auth::AuthContext;
use crate::entity::{alert_channel, breach, breach_count, execution, sla, workflow};
use crate::error::{AppError, AppResult};
use crate::model::ExecutionStatus;
use crate::tenancy;
use async_graphql::InputObject;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Set, TransactionSession, TransactionTrait,
};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// The fields a caller may set on an SLA; on an update, a field left out keeps its value.
#[derive(Clone, Debug, Default, InputObject)]
#[graphql(name = "SlaFieldsInput")]
pub struct SlaFields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub target_duration_seconds: Option<i64>,
    pub warning_threshold_seconds: Option<i64>,
    pub critical_threshold_seconds: Option<i64>,
    pub slo_window_hours: Option<i32>,
    pub slo_target_percentage: Option<f64>,
    pub alert_recipients: Option<Vec<String>>,
    pub is_active: Option<bool>,
    /// The company's alert channels a breach is sent through, besides email.
    pub alert_channel_ids: Option<Vec<async_graphql::ID>>,
    /// Escalation levels, in order of their delay.
    pub escalation: Option<Vec<EscalationLevelInput>>,
    /// The business-hours calendar its durations count by; null: wall-clock time.
    pub calendar_id: async_graphql::MaybeUndefined<async_graphql::ID>,
    /// Which executions it applies to: a condition over their input, such as
    /// `{"priority": "high"}`; null: all of its workflow's. Every applicable SLA is attached.
    pub applies_when: async_graphql::MaybeUndefined<async_graphql::Json<serde_json::Value>>,
    /// While which steps its clock stops: a condition over the recorded step (`step.name`,
    /// `step.actionType`, `step.approver`) and the execution's `input`; null: only
    /// `pauseExecutionSla` pauses it.
    pub pause_when: async_graphql::MaybeUndefined<async_graphql::Json<serde_json::Value>>,
}

/// Whether SLA `s` applies to an execution with this input (an SLA whose stored condition no
/// longer parses applies to none).
pub fn applies(s: &sla::Model, input: &serde_json::Value) -> bool {
    match &s.applies_when {
        None => true,
        Some(c) => crate::conditions::parse(c).is_ok_and(|c| c.matches(input)),
    }
}

/// One escalation level: after `afterMinutes` unacknowledged, tell these recipients (by
/// email) and these channels.
#[derive(Clone, Debug, InputObject)]
pub struct EscalationLevelInput {
    pub after_minutes: i64,
    #[graphql(default)]
    pub recipients: Vec<String>,
    #[graphql(default)]
    pub channel_ids: Vec<async_graphql::ID>,
}

/// The channel ids, each one of the caller's company's channels (else NOT_FOUND).
async fn own_channels(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    ids: &[async_graphql::ID],
) -> AppResult<Vec<Uuid>> {
    let mut out = Vec::new();
    for id in ids {
        let id = crate::ids::parse_id(id, "alert channel")?;
        tenancy::get::<alert_channel::Entity>(db, auth, id).await?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Sets a stored condition from a given one, parsed first (a BAD_REQUEST names `field`).
fn set_condition(
    to: &mut Option<serde_json::Value>,
    given: &async_graphql::MaybeUndefined<async_graphql::Json<serde_json::Value>>,
    field: &str,
) -> AppResult<()> {
    match given {
        async_graphql::MaybeUndefined::Value(c) => {
            crate::conditions::parse(&c.0).map_err(|e| AppError::bad(format!("{field}: {e}")))?;
            *to = Some(c.0.clone());
        }
        async_graphql::MaybeUndefined::Null => *to = None,
        async_graphql::MaybeUndefined::Undefined => {}
    }
    Ok(())
}

/// Sets what `f` gives of the SLA's policies on `m`, checked: its channels, escalation levels,
/// calendar and applicability condition.
async fn set_policies(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    m: &mut sla::Model,
    f: &SlaFields,
) -> AppResult<()> {
    if let Some(ids) = &f.alert_channel_ids {
        m.alert_channel_ids = json!(own_channels(db, auth, ids).await?);
    }
    set_condition(&mut m.applies_when, &f.applies_when, "appliesWhen")?;
    set_condition(&mut m.pause_when, &f.pause_when, "pauseWhen")?;
    match &f.calendar_id {
        async_graphql::MaybeUndefined::Value(id) => {
            let id = crate::ids::parse_id(id, "calendar")?;
            tenancy::get::<crate::entity::calendar::Entity>(db, auth, id).await?;
            m.calendar_id = Some(id);
        }
        async_graphql::MaybeUndefined::Null => m.calendar_id = None,
        async_graphql::MaybeUndefined::Undefined => {}
    }
    if let Some(levels) = &f.escalation {
        let mut out = Vec::new();
        for l in levels {
            out.push(Level {
                after_minutes: l.after_minutes,
                recipients: l
                    .recipients
                    .iter()
                    .map(|r| r.trim().to_ascii_lowercase())
                    .collect(),
                channel_ids: own_channels(db, auth, &l.channel_ids).await?,
            });
        }
        escalation::validate(&out)?;
        m.escalation = json!(out);
    }
    Ok(())
}

/// The longest target or threshold an SLA may have: 100 years, in seconds.
pub const MAX_SLA_SECONDS: i64 = 100 * 366 * 86_400;
/// The longest SLO window: 10 years, in hours.
pub const MAX_WINDOW_HOURS: i32 = 10 * 366 * 24;

/// Checks 0 < warning ≤ critical, target > 0, 0 < slo target ≤ 100 and window > 0, and
/// that no duration is longer than the limits above.
pub fn validate(m: &sla::Model) -> AppResult<()> {
    let bad = |msg: String| Err(AppError::BadInput(msg));
    if m.name.trim().is_empty() {
        return bad("name must not be empty".into());
    }
    // (field, value, most, the most in words, whether it must be above 0). The critical
    // threshold is above 0 through warning ≤ critical.
    let (secs, hours) = (MAX_SLA_SECONDS, MAX_WINDOW_HOURS.into());
    let limits = [
        (
            "targetDurationSeconds",
            m.target_duration_seconds,
            secs,
            "100 years",
            true,
        ),
        (
            "warningThresholdSeconds",
            m.warning_threshold_seconds,
            secs,
            "100 years",
            true,
        ),
        (
            "criticalThresholdSeconds",
            m.critical_threshold_seconds,
            secs,
            "100 years",
            false,
        ),
        (
            "sloWindowHours",
            m.slo_window_hours.into(),
            hours,
            "10 years",
            true,
        ),
    ];
    for (field, v, most, words, positive) in limits {
        if v > most {
            return bad(format!("{field} must be at most {most} ({words}), got {v}"));
        }
        if positive && v <= 0 {
            return bad(format!("{field} must be greater than 0, got {v}"));
        }
    }
    if m.warning_threshold_seconds > m.critical_threshold_seconds {
        return bad(format!(
            "warningThresholdSeconds ({}) must not exceed criticalThresholdSeconds ({})",
            m.warning_threshold_seconds, m.critical_threshold_seconds
        ));
    }
    if !(m.slo_target_percentage > 0.0 && m.slo_target_percentage <= 100.0) {
        return bad(format!(
            "sloTargetPercentage must be above 0 and at most 100, got {}",
            m.slo_target_percentage
        ));
    }
    let recipients: Vec<String> =
        serde_json::from_value(m.alert_recipients.clone()).unwrap_or_default();
    if let Some(r) = recipients.iter().find(|r| !escalation::is_email(r)) {
        return bad(format!("alertRecipients: {r:?} is not an email address"));
    }
    Ok(())
}

pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    workflow_id: Uuid,
    f: SlaFields,
    now: DateTime<Utc>,
) -> AppResult<sla::Model> {
    tenancy::get::<workflow::Entity>(db, auth, workflow_id).await?;
    let policies = SlaFields {
        alert_channel_ids: f.alert_channel_ids.clone(),
        escalation: f.escalation.clone(),
        calendar_id: f.calendar_id.clone(),
        applies_when: f.applies_when.clone(),
        pause_when: f.pause_when.clone(),
        ..Default::default()
    };
    let target = f.target_duration_seconds.unwrap_or(0);
    let mut m = sla::Model {
        id: Uuid::now_v7(),
        company_id: auth.company_id,
        workflow_id,
        name: f.name.unwrap_or_default().trim().to_string(),
        description: f.description.unwrap_or_default(),
        target_duration_seconds: target,
        warning_threshold_seconds: f
            .warning_threshold_seconds
            .unwrap_or(target.saturating_mul(8) / 10),
        critical_threshold_seconds: f.critical_threshold_seconds.unwrap_or(target),
        slo_window_hours: f.slo_window_hours.unwrap_or(24),
        slo_target_percentage: f.slo_target_percentage.unwrap_or(99.0),
        alert_recipients: json!(f.alert_recipients.unwrap_or_default()),
        is_active: f.is_active.unwrap_or(true),
        alert_channel_ids: json!([]),
        escalation: json!([]),
        calendar_id: None,
        applies_when: None,
        pause_when: None,
        created_at: now,
        updated_at: now,
    };
    set_policies(db, auth, &mut m, &policies).await?;
    validate(&m)?;
    let am: sla::ActiveModel = m.into();
    let txn = crate::db::begin_write(db).await?;
    let m = sla::Entity::insert(am).exec_with_returning(&txn).await?;
    // The SLO figures count the workflow's history from the start.
    super::rollups::rebuild(&txn, m.id).await?;
    txn.commit().await?;
    Ok(m)
}

pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    id: Uuid,
    f: SlaFields,
    now: DateTime<Utc>,
) -> AppResult<sla::Model> {
    let txn = crate::db::begin_write(db).await?;
    let mut m = tenancy::get::<sla::Entity>(&txn, auth, id).await?;
    // What the SLO rollups depend on: the thresholds and the clock.
    let thresholds = |m: &sla::Model| {
        (
            m.target_duration_seconds,
            m.warning_threshold_seconds,
            m.critical_threshold_seconds,
            m.calendar_id,
            m.applies_when.clone(),
        )
    };
    let before = thresholds(&m);
    set_policies(&txn, auth, &mut m, &f).await?;
    if let Some(v) = f.name {
        m.name = v.trim().to_string();
    }
    m.description = f.description.unwrap_or(m.description);
    m.target_duration_seconds = f
        .target_duration_seconds
        .unwrap_or(m.target_duration_seconds);
    m.warning_threshold_seconds = f
        .warning_threshold_seconds
        .unwrap_or(m.warning_threshold_seconds);
    m.critical_threshold_seconds = f
        .critical_threshold_seconds
        .unwrap_or(m.critical_threshold_seconds);
    m.slo_window_hours = f.slo_window_hours.unwrap_or(m.slo_window_hours);
    m.slo_target_percentage = f.slo_target_percentage.unwrap_or(m.slo_target_percentage);
    m.is_active = f.is_active.unwrap_or(m.is_active);
    if let Some(v) = f.alert_recipients {
        m.alert_recipients = json!(v);
    }
    m.updated_at = now;
    validate(&m)?;
    let mut am: sla::ActiveModel = m.into();
    for c in [
        sla::Column::Name,
        sla::Column::Description,
        sla::Column::TargetDurationSeconds,
        sla::Column::WarningThresholdSeconds,
        sla::Column::CriticalThresholdSeconds,
        sla::Column::SloWindowHours,
        sla::Column::SloTargetPercentage,
        sla::Column::AlertRecipients,
        sla::Column::IsActive,
        sla::Column::AlertChannelIds,
        sla::Column::Escalation,
        sla::Column::CalendarId,
        sla::Column::AppliesWhen,
        sla::Column::PauseWhen,
        sla::Column::UpdatedAt,
    ] {
        am.reset(c);
    }
    let m = am.update(&txn).await?;
    if thresholds(&m) != before {
        super::rollups::rebuild(&txn, m.id).await?;
    }
    txn.commit().await?;
    Ok(m)
}

/// Every SLA of one workflow, active or not, in id order (so that concurrent writers take
/// the SLAs' counter rows in the same order).
pub async fn for_workflow(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Uuid,
) -> AppResult<Vec<sla::Model>> {
    Ok(sla::Entity::find()
        .filter(sla::Column::CompanyId.eq(company_id))
        .filter(sla::Column::WorkflowId.eq(workflow_id))
        .order_by_asc(sla::Column::Id)
        .all(db)
        .await?)
}

/// Active SLAs of one workflow, in id order.
pub async fn active_for_workflow(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Uuid,
) -> AppResult<Vec<sla::Model>> {
    let all = for_workflow(db, company_id, workflow_id).await?;
    Ok(all.into_iter().filter(|s| s.is_active).collect())
}

pub fn threshold(s: &sla::Model, sev: Severity) -> i64 {
    match sev {
        Severity::Warning => s.warning_threshold_seconds,
        Severity::Critical => s.critical_threshold_seconds,
    }
}

/// The severities a duration has crossed (strictly above the threshold).
pub fn crossed(s: &sla::Model, duration_seconds: f64) -> Vec<Severity> {
    [Severity::Warning, Severity::Critical]
        .into_iter()
        .filter(|sev| duration_seconds > threshold(s, *sev) as f64)
        .collect()
}

/// Appends an event to the breach event log (inside the caller's transaction; on PostgreSQL
/// to its queue, which the caller publishes after its commit: `event_log`).
pub async fn append_event(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    breach_id: Uuid,
    kind: BreachEventKind,
    at: DateTime<Utc>,
) -> AppResult<()> {
    insert_events(db, std::iter::once((company_id, breach_id)), kind, at).await
}

/// [`append_event`] for several breaches: one event of `kind` for each (company, breach), in
/// one statement.
async fn insert_events(
    db: &impl ConnectionTrait,
    breaches: impl Iterator<Item = (Uuid, Uuid)>,
    kind: BreachEventKind,
    at: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(s) =
        super::event_log::insert_statement(db.get_database_backend(), breaches, kind, at)
    {
        db.execute_raw(s).await?;
    }
    Ok(())
}

/// An SLA threshold that an execution's duration crossed: the SLA, the duration in seconds
/// and the severity.
type Crossing<'a> = (&'a sla::Model, f64, Severity);

/// A crossing whose breach existed already: the SLA's id, the severity and the duration.
type Raced = (Uuid, String, f64);

/// The breach row that crossing `c` of execution `execution_id` records.
fn breach_row(c: &Crossing<'_>, execution_id: Uuid, detected_at: DateTime<Utc>) -> breach::Model {
    let (s, actual_seconds, sev) = (c.0, c.1, c.2);
    breach::Model {
        id: Uuid::now_v7(),
        company_id: s.company_id,
        sla_id: s.id,
        execution_id,
        severity: sev.as_str().into(),
        threshold_seconds: threshold(s, sev),
        actual_duration_seconds: actual_seconds,
        target_duration_seconds: s.target_duration_seconds as f64,
        breach_margin_seconds: actual_seconds - threshold(s, sev) as f64,
        detected_at,
        alert_sent: false,
        alert_sent_at: None,
        alert_recipients: json!([]),
        acknowledged: false,
        acknowledged_by: None,
        acknowledged_at: None,
        notes: String::new(),
        created_at: detected_at,
        updated_at: detected_at,
    }
}

/// Records the breaches of `crossings` (of execution `execution_id`) unless one exists for
/// (sla, execution, severity); with them, in the same transaction, their counts, their
/// DETECTED events and (when `alert`) their outbox rows, one statement for each kind of row
/// whatever the number of breaches. Returns the new breaches, and the crossings whose insert
/// found a row already there. The caller holds the event log's lock (taken before the
/// breaches' unique keys and their count rows: the lock order in `sla`'s module doc) and
/// wakes the other replicas.
async fn record_breaches(
    db: &impl ConnectionTrait,
    crossings: &[Crossing<'_>],
    execution_id: Uuid,
    detected_at: DateTime<Utc>,
    alert: Alerting,
) -> AppResult<(Vec<breach::Model>, Vec<Raced>)> {
    if crossings.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let rows: Vec<breach::Model> = crossings
        .iter()
        .map(|c| breach_row(c, execution_id, detected_at))
        .collect();
    let backend = db.get_database_backend();
    let inserted = inserted_ids(&db.query_all_raw(breach_insert(backend, &rows)).await?)?;
    let (new, raced): (Vec<_>, Vec<_>) = rows.into_iter().partition(|m| inserted.contains(&m.id));
    let mut b = crate::db::Batch::new();
    for s in after_insert(backend, &new, crossings, detected_at, alert) {
        b.push(s);
    }
    b.run(db).await?;
    let raced = raced
        .into_iter()
        .map(|m| (m.sla_id, m.severity, m.actual_duration_seconds))
        .collect();
    Ok((new, raced))
}

/// `INSERT` of breach `rows`, each unless one exists for (sla, execution, severity),
/// `RETURNING` the ids of those inserted.
fn breach_insert(backend: DatabaseBackend, rows: &[breach::Model]) -> sea_orm::Statement {
    let mut q = breach::Entity::insert_many(rows.iter().cloned().map(breach::ActiveModel::from))
        .on_conflict(
            OnConflict::columns([
                breach::Column::SlaId,
                breach::Column::ExecutionId,
                breach::Column::Severity,
            ])
            .do_nothing()
            .to_owned(),
        )
        .into_query();
    q.returning_col(breach::Column::Id);
    backend.build(&q)
}

/// The ids that [`breach_insert`] returned.
fn inserted_ids(rows: &[sea_orm::QueryResult]) -> AppResult<std::collections::HashSet<Uuid>> {
    Ok(rows
        .iter()
        .map(|r| r.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()?)
}

/// What goes with newly inserted breaches `new` (of `crossings`): their counts, their outbox
/// rows and their DETECTED events, one statement for each kind of row.
fn after_insert(
    backend: DatabaseBackend,
    new: &[breach::Model],
    crossings: &[Crossing<'_>],
    detected_at: DateTime<Utc>,
    alert: Alerting,
) -> Vec<sea_orm::Statement> {
    let counts = new
        .iter()
        .map(|b| (b.sla_id, b.company_id, b.severity.clone(), false, 1));
    let alerted = new.iter().filter_map(|b| {
        let s = crossings.iter().find(|c| c.0.id == b.sla_id)?.0;
        Some((s, b.id))
    });
    let events = new.iter().map(|b| (b.company_id, b.id));
    [
        bump_counts_statement(backend, counts),
        super::outbox::enqueue_statement(backend, alerted, detected_at, alert),
        super::event_log::insert_statement(backend, events, BreachEventKind::Detected, detected_at),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Evaluates a finished execution against its workflow's SLAs: records the breaches its
/// duration crossed, and brings existing breaches' actual duration and margin up to the final
/// duration. Runs inside the caller's transaction.
pub async fn evaluate_completion(
    db: &impl ConnectionTrait,
    slas: &[sla::Model],
    exec: &execution::Model,
    duration_seconds: f64,
    now: DateTime<Utc>,
    alert: Alerting,
    update_existing: bool,
) -> AppResult<Vec<breach::Model>> {
    let facts = CompletionFacts {
        times: super::sla_time::of_each(db, &slas.iter().collect::<Vec<_>>()).await?,
        pauses: super::pauses::of_execution(db, exec.id).await?,
        existing: if update_existing {
            breaches_of(db, slas, exec.id).await?
        } else {
            Vec::new()
        },
    };
    record_completion(db, slas, exec, duration_seconds, (now, alert), facts).await
}

/// What evaluating a completion reads: each SLA's time, the execution's pauses (closed at its
/// completion) and the breaches it has already (recorded live while it ran).
pub struct CompletionFacts {
    pub times: HashMap<Uuid, super::sla_time::SlaTime>,
    pub pauses: Vec<super::pauses::Held>,
    pub existing: Vec<breach::Model>,
}

/// The breaches that execution `id` has of `slas`.
async fn breaches_of(
    db: &impl ConnectionTrait,
    slas: &[sla::Model],
    id: Uuid,
) -> AppResult<Vec<breach::Model>> {
    if slas.is_empty() {
        return Ok(Vec::new());
    }
    Ok(breach::Entity::find()
        .filter(breach::Column::ExecutionId.eq(id))
        .filter(breach::Column::SlaId.is_in(slas.iter().map(|s| s.id)))
        .all(db)
        .await?)
}

/// [`evaluate_completion`] with its reads done: records the breaches and brings the existing
/// ones to their final figures. A breach the deadline watcher recorded after `facts` were read
/// is found when its insert meets it (`recorded_meanwhile`).
pub async fn record_completion(
    db: &impl ConnectionTrait,
    slas: &[sla::Model],
    exec: &execution::Model,
    duration_seconds: f64,
    (now, alert): (DateTime<Utc>, Alerting),
    facts: CompletionFacts,
) -> AppResult<Vec<breach::Model>> {
    let CompletionPlan {
        crossings,
        known,
        mut finals,
    } = plan_completion(slas, exec, duration_seconds, facts);
    let mut new = Vec::new();
    if crossings.is_empty() && finals.is_empty() {
        return Ok(new);
    }
    let (recorded, raced) = record_breaches(db, &crossings, exec.id, now, alert).await?;
    new.extend(recorded);
    finals.extend(recorded_meanwhile(db, exec.id, &known, raced).await?);
    for (b, d) in finals {
        finalize(db, b, d, now).await?;
    }
    Ok(new)
}

/// What a completion comes to before anything is written.
struct CompletionPlan<'a> {
    /// The thresholds its duration crossed.
    crossings: Vec<Crossing<'a>>,
    /// The (SLA, severity) of the breaches it had already.
    known: Vec<(Uuid, String)>,
    /// The breaches it had already whose figures change, with their final duration.
    finals: Vec<(breach::Model, f64)>,
}

fn plan_completion<'a>(
    slas: &'a [sla::Model],
    exec: &execution::Model,
    duration_seconds: f64,
    facts: CompletionFacts,
) -> CompletionPlan<'a> {
    let CompletionFacts {
        times,
        pauses,
        existing,
    } = facts;
    let seconds = |s: &sla::Model| match (times.get(&s.id), exec.completed_at) {
        (Some(t), Some(done)) if !t.is_wall() || !pauses.is_empty() => {
            let p = super::pauses::for_sla(Some(&pauses), s.id);
            let d = t.elapsed_paused(exec.started_at, done, &p);
            d.num_milliseconds() as f64 / 1e3
        }
        _ => duration_seconds,
    };
    let crossings: Vec<Crossing<'a>> = slas
        .iter()
        .filter(|s| applies(s, &exec.input_data))
        .flat_map(|s| {
            let d = seconds(s);
            crossed(s, d).into_iter().map(move |sev| (s, d, sev))
        })
        .collect();
    // Live breaches were recorded mid-run; their final figures are the completed ones.
    let known: Vec<(Uuid, String)> = existing
        .iter()
        .map(|b| (b.sla_id, b.severity.clone()))
        .collect();
    let finals = existing
        .into_iter()
        .filter_map(|b| {
            let d = slas.iter().find(|s| s.id == b.sla_id).map(seconds)?;
            Some((b, d))
        })
        .filter(|(b, d)| b.actual_duration_seconds != *d)
        .collect();
    CompletionPlan {
        crossings,
        known,
        finals,
    }
}

/// A completion's new breaches as statements of the completion's own [`crate::db::Batch`]:
/// their rows, and the place of their insert in the batch.
pub struct BatchedBreaches {
    rows: Vec<breach::Model>,
    insert: Option<usize>,
}

/// Adds to `b` the statements of [`record_completion`] for a completion with no breach to bring
/// up to date (the usual case): the event log's lock, the new breaches, what goes with them and
/// the wake-up. None when it has one: it is recorded step by step ([`record_completion`]).
pub fn batch_completion(
    b: &mut crate::db::Batch,
    backend: DatabaseBackend,
    slas: &[sla::Model],
    exec: &execution::Model,
    duration_seconds: f64,
    (now, alert): (DateTime<Utc>, Alerting),
    facts: CompletionFacts,
) -> Option<BatchedBreaches> {
    let plan = plan_completion(slas, exec, duration_seconds, facts);
    if !plan.finals.is_empty() {
        return None;
    }
    // A threshold whose breach exists already is not recorded again.
    let crossings: Vec<_> = (plan.crossings.into_iter())
        .filter(|c| {
            !plan
                .known
                .iter()
                .any(|(s, sev)| *s == c.0.id && sev == c.2.as_str())
        })
        .collect();
    let rows: Vec<breach::Model> = crossings
        .iter()
        .map(|c| breach_row(c, exec.id, now))
        .collect();
    if rows.is_empty() {
        return Some(BatchedBreaches { rows, insert: None });
    }
    let insert = Some(b.push(breach_insert(backend, &rows)));
    for s in after_insert(backend, &rows, &crossings, now, alert) {
        b.push(s);
    }
    Some(BatchedBreaches { rows, insert })
}

impl BatchedBreaches {
    /// The breaches recorded, from the batch's outcomes; None when one of them existed already
    /// (the deadline watcher recorded it after the completion's read): then the batch must be
    /// undone, and the completion recorded step by step. (With SQLite's foreign keys on, such a
    /// batch fails before this is asked: its events name a breach that was not inserted. This
    /// check stays for a store without them; no test reaches it.)
    pub fn recorded(
        self,
        out: &[crate::db::batch::Outcome],
    ) -> AppResult<Option<Vec<breach::Model>>> {
        let Some(i) = self.insert else {
            return Ok(Some(self.rows));
        };
        let inserted = inserted_ids(&out[i].rows)?;
        Ok(self
            .rows
            .iter()
            .all(|r| inserted.contains(&r.id))
            .then_some(self.rows))
    }
}

/// The breaches that the deadline watcher recorded for this execution after the completion
/// read its breaches and before it took the event log's lock (on PostgreSQL, where they run
/// at once): `raced` are the crossings whose insert found a row already there, and `known`
/// the rows read before. Each comes back with its final duration, when that differs.
async fn recorded_meanwhile(
    db: &impl ConnectionTrait,
    execution_id: Uuid,
    known: &[(Uuid, String)],
    raced: Vec<(Uuid, String, f64)>,
) -> AppResult<Vec<(breach::Model, f64)>> {
    let raced: Vec<_> = raced
        .into_iter()
        .filter(|(s, sev, _)| !known.iter().any(|(k, v)| k == s && v == sev))
        .collect();
    if raced.is_empty() {
        return Ok(Vec::new());
    }
    let rows = breach::Entity::find()
        .filter(breach::Column::ExecutionId.eq(execution_id))
        .filter(breach::Column::SlaId.is_in(raced.iter().map(|r| r.0)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|b| {
            let (_, _, d) = raced
                .iter()
                .find(|(s, sev, _)| *s == b.sla_id && *sev == b.severity)?;
            (b.actual_duration_seconds != *d).then_some((b, *d))
        })
        .collect())
}

/// Brings a live breach's actual duration and margin up to the final duration `d`, with its
/// FINALIZED event (which the caller publishes after its commit: `event_log`).
async fn finalize(
    db: &impl ConnectionTrait,
    b: breach::Model,
    d: f64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let margin = d - b.threshold_seconds as f64;
    let (id, company) = (b.id, b.company_id);
    let mut am: breach::ActiveModel = b.into();
    am.actual_duration_seconds = Set(d);
    am.breach_margin_seconds = Set(margin);
    am.updated_at = Set(now);
    am.update(db).await?;
    insert_events(
        db,
        std::iter::once((company, id)),
        BreachEventKind::Finalized,
        now,
    )
    .await
}

/// What the watcher's attempt at a deadline came to.
#[derive(Debug)]
pub enum Fired {
    /// The breach is recorded now.
    Recorded(Box<(breach::Model, sla::Model)>),
    /// Nothing left to do: the breach exists already, the execution finished, or the SLA is
    /// gone or inactive.
    Done,
    /// The deadline has not passed (as stored; the watcher's copy was early): arm it again.
    NotYet(DateTime<Utc>),
}

/// Records a live breach if the execution is still running and has passed the threshold at
/// `now`. The deadline and `now` are compared at full precision, as the watcher compares them:
/// `now` must be strictly after `started_at + threshold`.
pub async fn fire_live(
    db: &(impl ConnectionTrait + TransactionTrait),
    execution_id: Uuid,
    sla_id: Uuid,
    sev: Severity,
    now: DateTime<Utc>,
    alert: Alerting,
) -> AppResult<Fired> {
    let txn = crate::db::begin_write(db).await?;
    let Some(exec) = execution::Entity::find_by_id(execution_id)
        .one(&txn)
        .await?
    else {
        return Ok(Fired::Done);
    };
    let Some(s) = sla::Entity::find_by_id(sla_id).one(&txn).await? else {
        return Ok(Fired::Done);
    };
    if exec.status != ExecutionStatus::Running.as_str()
        || !s.is_active
        || s.workflow_id != exec.workflow_id
        || !applies(&s, &exec.input_data)
    {
        return Ok(Fired::Done);
    }
    // The watcher armed the wall-clock deadline, the earliest there can be; a calendar's
    // business-time deadline is later, and is armed again here.
    // Paused time does not count either; while a pause lasts there is no deadline, and the
    // resume arms it again.
    let time = super::sla_time::of(&txn, &s).await?;
    let pauses = super::pauses::for_sla(
        Some(&super::pauses::of_execution(&txn, exec.id).await?),
        s.id,
    );
    let Some(due) = time.deadline_paused(exec.started_at, threshold(&s, sev), &pauses) else {
        return Ok(Fired::Done);
    };
    if now <= due {
        return Ok(Fired::NotYet(due));
    }
    let elapsed = time
        .elapsed_paused(exec.started_at, now, &pauses)
        .num_microseconds()
        .unwrap_or(i64::MAX) as f64
        / 1e6;
    let (b, _) = record_breaches(&txn, &[(&s, elapsed, sev)], exec.id, now, alert).await?;
    let b = b.into_iter().next();
    txn.commit().await?;
    Ok(match b {
        Some(b) => Fired::Recorded(Box::new((b, s))),
        None => Fired::Done,
    })
}

#[derive(Clone, Debug, Default)]
pub struct BreachFilter {
    pub acknowledged: Option<bool>,
    pub severity: Option<Severity>,
    pub sla_id: Option<Uuid>,
    pub workflow_id: Option<Uuid>,
}

/// The caller's company's SLAs, of one workflow when `workflow_id` is given.
pub fn slas(auth: &AuthContext, workflow_id: Option<Uuid>) -> Select<sla::Entity> {
    let q = tenancy::scoped::<sla::Entity>(auth);
    match workflow_id {
        Some(w) => q.filter(sla::Column::WorkflowId.eq(w)),
        None => q,
    }
}

/// Adds `by` to the count of the SLA's breaches of `severity` that are (or are not)
/// acknowledged, in the caller's transaction.
async fn bump_count(
    db: &impl ConnectionTrait,
    sla_id: Uuid,
    company_id: Uuid,
    severity: &str,
    acknowledged: bool,
    by: i64,
) -> AppResult<()> {
    let row = (sla_id, company_id, severity.to_string(), acknowledged, by);
    bump_counts(db, std::iter::once(row)).await
}

/// [`bump_count`] for several counts (sla, company, severity, acknowledged, by) at once, in
/// one statement: at most one of each (sla, severity, acknowledged), and taken in key order,
/// as every writer takes them.
async fn bump_counts(
    db: &impl ConnectionTrait,
    counts: impl Iterator<Item = (Uuid, Uuid, String, bool, i64)>,
) -> AppResult<()> {
    if let Some(s) = bump_counts_statement(db.get_database_backend(), counts) {
        db.execute_raw(s).await?;
    }
    Ok(())
}

/// The statement of [`bump_counts`]; None when there is nothing to count.
fn bump_counts_statement(
    backend: DatabaseBackend,
    counts: impl Iterator<Item = (Uuid, Uuid, String, bool, i64)>,
) -> Option<sea_orm::Statement> {
    use breach_count::Column as C;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait};
    let mut rows: Vec<_> = counts.collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| (a.0, &a.2, a.3).cmp(&(b.0, &b.2, b.3)));
    let shard = super::shards::next(backend);
    let rows = rows
        .into_iter()
        .map(
            |(sla_id, company_id, severity, acknowledged, n)| breach_count::ActiveModel {
                sla_id: Set(sla_id),
                company_id: Set(company_id),
                severity: Set(severity),
                acknowledged: Set(acknowledged),
                n: Set(n),
                shard: Set(shard),
            },
        );
    let add =
        Expr::col((breach_count::Entity, C::N)).add(Expr::col((Alias::new("excluded"), C::N)));
    let q = breach_count::Entity::insert_many(rows).on_conflict(
        super::shards::on_key(backend, [C::SlaId, C::Severity, C::Acknowledged], C::Shard)
            .value(C::N, add)
            .to_owned(),
    );
    Some(q.build(backend))
}

/// The counter rows of the breaches `f` selects: their `n` sum to the breaches' count.
pub fn breach_counts(auth: &AuthContext, f: &BreachFilter) -> Select<breach_count::Entity> {
    use breach_count::Column as C;
    let mut q = breach_count::Entity::find().filter(C::CompanyId.eq(auth.company_id));
    if let Some(a) = f.acknowledged {
        q = q.filter(C::Acknowledged.eq(a));
    }
    if let Some(s) = f.severity {
        q = q.filter(C::Severity.eq(s.as_str()));
    }
    if let Some(s) = f.sla_id {
        q = q.filter(C::SlaId.eq(s));
    }
    if let Some(w) = f.workflow_id {
        q = q.filter(C::SlaId.in_subquery(workflow_slas(auth, w)));
    }
    q
}

/// The ids of the caller's company's SLAs of workflow `w`.
fn workflow_slas(auth: &AuthContext, w: Uuid) -> sea_orm::sea_query::SelectStatement {
    sla::Entity::find()
        .select_only()
        .column(sla::Column::Id)
        .filter(sla::Column::CompanyId.eq(auth.company_id))
        .filter(sla::Column::WorkflowId.eq(w))
        .into_query()
}

pub fn breaches(auth: &AuthContext, f: &BreachFilter) -> Select<breach::Entity> {
    let mut q = breach::Entity::find().filter(breach::Column::CompanyId.eq(auth.company_id));
    if let Some(a) = f.acknowledged {
        q = q.filter(breach::Column::Acknowledged.eq(a));
    }
    if let Some(s) = f.severity {
        q = q.filter(breach::Column::Severity.eq(s.as_str()));
    }
    if let Some(s) = f.sla_id {
        q = q.filter(breach::Column::SlaId.eq(s));
    }
    if let Some(w) = f.workflow_id {
        q = q.filter(breach::Column::SlaId.in_subquery(workflow_slas(auth, w)));
    }
    q
}

pub async fn get_breach(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
) -> AppResult<breach::Model> {
    tenancy::get::<breach::Entity>(db, auth, id).await
}

/// Records who acknowledged a breach, when, and their notes. Acknowledging twice is a CONFLICT.
pub async fn acknowledge(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    id: Uuid,
    notes: String,
    now: DateTime<Utc>,
) -> AppResult<breach::Model> {
    let txn = crate::db::begin_write(db).await?;
    let b = get_breach(&txn, auth, id).await?;
    // A conditional update, so two concurrent acknowledgements cannot both win.
    let res = breach::Entity::update_many()
        .col_expr(breach::Column::Acknowledged, true.into())
        .col_expr(breach::Column::AcknowledgedBy, auth.user_id.into())
        .col_expr(breach::Column::AcknowledgedAt, Some(now).into())
        .col_expr(breach::Column::Notes, notes.into())
        .col_expr(breach::Column::UpdatedAt, now.into())
        .filter(breach::Column::Id.eq(b.id))
        .filter(breach::Column::Acknowledged.eq(false))
        .exec(&txn)
        .await?;
    if res.rows_affected == 1 {
        bump_count(&txn, b.sla_id, b.company_id, &b.severity, false, -1).await?;
        bump_count(&txn, b.sla_id, b.company_id, &b.severity, true, 1).await?;
        super::outbox::acknowledged(&txn, &b, now).await?;
    }
    if res.rows_affected == 0 {
        return Err(AppError::conflict(format!(
            "breach {id} was already acknowledged{}",
            b.acknowledged_at
                .map(|t| format!(" at {t}"))
                .unwrap_or_default()
        )));
    }
    append_event(
        &txn,
        auth.company_id,
        b.id,
        BreachEventKind::Acknowledged,
        now,
    )
    .await?;
    let updated = get_breach(&txn, auth, id).await?;
    txn.commit().await?;
    Ok(updated)
}

pub fn objective(s: &sla::Model) -> Objective {
    Objective {
        target_seconds: s.target_duration_seconds as f64,
        warning_seconds: s.warning_threshold_seconds as f64,
        critical_seconds: s.critical_threshold_seconds as f64,
        slo_target_percentage: s.slo_target_percentage,
    }
}

/// The SLO report of one SLA over `window_hours` ending `now`.
pub async fn slo_report(
    db: &(impl ConnectionTrait + TransactionTrait),
    s: &sla::Model,
    window_hours: i32,
    now: DateTime<Utc>,
) -> AppResult<SloReport> {
    if !(1..=MAX_WINDOW_HOURS).contains(&window_hours) {
        return Err(AppError::bad(format!(
            "windowHours must be between 1 and {MAX_WINDOW_HOURS} (10 years), got {window_hours}"
        )));
    }
    let o = objective(s);
    let r = super::rollups::read(db, s, &o, now, &slo::spans(window_hours)).await?;
    Ok(slo::report(&r, &o, window_hours, now))
}

/// The SLA's breaches per bucket over the `hours` before `now` (see [`slo::timeline`]).
pub async fn breach_timeline(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    hours: i32,
    bucket_minutes: i32,
    now: DateTime<Utc>,
) -> AppResult<slo::BreachTimeline> {
    if !(1..=MAX_WINDOW_HOURS).contains(&hours) {
        return Err(AppError::bad(format!(
            "hours must be between 1 and {MAX_WINDOW_HOURS} (10 years), got {hours}"
        )));
    }
    let buckets = (hours as u64 * 60).div_ceil(bucket_minutes.max(1) as u64);
    if !(1..=1440).contains(&bucket_minutes) || buckets > slo::MAX_BUCKETS {
        return Err(AppError::bad(format!(
            "bucketMinutes must be between 1 and 1440 and make at most {} buckets; \
             {hours} hours in {bucket_minutes}-minute buckets make {buckets}",
            slo::MAX_BUCKETS
        )));
    }
    let since = now - chrono::Duration::hours(hours as i64);
    let rows: Vec<(DateTime<Utc>, String)> = breach::Entity::find()
        .select_only()
        .column(breach::Column::DetectedAt)
        .column(breach::Column::Severity)
        .filter(breach::Column::CompanyId.eq(s.company_id))
        .filter(breach::Column::SlaId.eq(s.id))
        .filter(breach::Column::DetectedAt.gte(since))
        .into_tuple()
        .all(db)
        .await?;
    let critical = Severity::Critical.as_str();
    let detections: Vec<_> = rows
        .into_iter()
        .map(|(at, sev)| (at, sev == critical))
        .collect();
    Ok(slo::timeline(&detections, hours, bucket_minutes, now))
}

/// The workflow a breach's SLA belongs to (for metrics and messages).
pub async fn workflow_of(
    db: &impl ConnectionTrait,
    s: &sla::Model,
) -> AppResult<Option<workflow::Model>> {
    Ok(workflow::Entity::find_by_id(s.workflow_id).one(db).await?)
}

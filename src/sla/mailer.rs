//! Breach alert email: an outbox worker that claims rows with a lease, sends them over SMTP
//! (lettre) and records the result, retrying with exponential backoff.
//!
//! Delivery is once per breach: a row is claimed (with a lease) before sending, and no
//! database transaction is open during the SMTP conversation. The whole conversation (connect,
//! greeting, every command, the reply to end-of-DATA) is bounded by `SMTP_TIMEOUT_SECONDS`,
//! which must be shorter than the lease; a send that times out or fails is retried with
//! backoff and logged as a warning naming the breach. Up to `SMTP_CONCURRENCY` alerts are in
//! flight at once, each on its own connection, so one stalled conversation holds back only
//! its own message. When the server accepts, one transaction marks the row sent, marks the
//! breach alerted and appends the ALERT_SENT event: the event log has the event exactly when
//! the send is recorded.
//!
//! A process that dies between claim and send leaves a claim whose lease expires, and the
//! next worker sends it. The one window that cannot be closed: the SMTP server accepted the
//! message and the process died before that transaction committed; the alert is then sent
//! again when the lease expires, with the same Message-ID, so a mail system that deduplicates
//! by Message-ID shows it once.
use super::BreachEventKind;
use super::outbox::{Outcome, record_unsent};
use super::service::{append_event, slo_report, workflow_of};
use super::slo::SloReport;
use crate::AppState;
use crate::entity::{alert_outbox, breach, execution, sla, user, workflow};
use crate::error::{AppError, AppResult};
use crate::model::Role;
use chrono::{DateTime, Duration, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

/// How long a claim lasts before another worker may take the row over.
pub const DEFAULT_LEASE_SECONDS: i64 = 60;
/// The default bound on one SMTP conversation.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// The default number of alerts in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    lease: Duration,
    timeout: std::time::Duration,
    concurrency: usize,
    slo: SloCache,
}

/// SLO figures per SLA, reused for a few seconds while a burst of alerts goes out.
type SloCache =
    std::sync::Mutex<std::collections::HashMap<Uuid, (std::time::Instant, super::slo::SloReport)>>;

pub use super::outbox::backoff;

/// The email for one breach.
pub struct Alert {
    pub subject: String,
    pub body: String,
    pub recipients: Vec<String>,
    pub message_id: String,
}

impl Mailer {
    pub fn new(smtp_url: &str, from: &str, lease: Duration) -> Result<Self, String> {
        Self::with_limits(smtp_url, from, lease, DEFAULT_TIMEOUT, DEFAULT_CONCURRENCY)
    }

    /// A mailer whose conversations last at most `timeout`, `concurrency` at a time.
    pub fn with_limits(
        smtp_url: &str,
        from: &str,
        lease: Duration,
        timeout: std::time::Duration,
        concurrency: usize,
    ) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("SMTP_URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("DEFAULT_FROM_EMAIL: {e}"))?;
        Ok(Mailer {
            transport,
            from,
            lease,
            timeout,
            concurrency: concurrency.max(1),
            slo: SloCache::default(),
        })
    }

    /// Claims up to `limit` due email rows (pending and due, or claimed with an expired lease).
    pub async fn claim(&self, state: &AppState, limit: u64) -> AppResult<Vec<alert_outbox::Model>> {
        super::outbox::claim(state, self.lease, limit, true).await
    }

    /// Sends one claimed row and records the outcome. No transaction is open while the SMTP
    /// conversation runs, and the conversation is bounded by the timeout.
    pub async fn deliver(&self, state: &AppState, row: &alert_outbox::Model) -> AppResult<bool> {
        let Some(alert) = compose(state, row, Some(&self.slo)).await? else {
            let why = "acknowledged before this escalation level was due";
            record_unsent(state, row, why, Outcome::Cancelled).await?;
            return Ok(false);
        };
        if alert.recipients.is_empty() {
            record_unsent(
                state,
                row,
                "no recipients: set SLA_ALERT_RECIPIENTS, alertRecipients or a workflow owner",
                Outcome::Failed,
            )
            .await?;
            return Ok(false);
        }
        let msg = self.message(&alert)?;
        let error = match tokio::time::timeout(self.timeout, self.transport.send(msg)).await {
            Ok(Ok(_)) => return record_sent(state, row, &alert.recipients).await,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!(
                "the SMTP conversation did not finish within {} s (SMTP_TIMEOUT_SECONDS)",
                self.timeout.as_secs_f64()
            ),
        };
        tracing::warn!(breach = %row.breach_id, attempts = row.attempts, error = %error, "sending a breach alert failed; will retry with backoff");
        record_unsent(state, row, &error, Outcome::Retry).await?;
        Ok(false)
    }

    fn message(&self, alert: &Alert) -> AppResult<Message> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(alert.subject.clone())
            .message_id(Some(alert.message_id.clone()))
            .header(ContentType::TEXT_PLAIN);
        for r in &alert.recipients {
            match r.parse::<Mailbox>() {
                Ok(mb) => builder = builder.to(mb),
                Err(e) => {
                    tracing::warn!(recipient = %r, error = %e, "skipping an invalid alert recipient")
                }
            }
        }
        builder
            .body(alert.body.clone())
            .map_err(|e| AppError::Internal(format!("building the alert email: {e}")))
    }
}

#[async_trait::async_trait]
impl super::outbox::Worker for Mailer {
    fn concurrency(&self) -> usize {
        self.concurrency
    }
    async fn claim(&self, state: &AppState, limit: u64) -> AppResult<Vec<alert_outbox::Model>> {
        Mailer::claim(self, state, limit).await
    }
    async fn deliver(&self, state: &AppState, row: &alert_outbox::Model) -> AppResult<bool> {
        Mailer::deliver(self, state, row).await
    }
}

/// Records an accepted send in one transaction: the row sent and, for the breach's own
/// alert, the breach alerted and the ALERT_SENT event. False when the row is no longer ours.
async fn record_sent(
    state: &AppState,
    row: &alert_outbox::Model,
    recipients: &[String],
) -> AppResult<bool> {
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.writer).await?;
    if !super::outbox::mark_sent(&txn, row, &state.instance_id, now).await? {
        return Ok(false);
    }
    if row.level == 0 {
        mark_alerted(&txn, row.breach_id, recipients, now).await?;
    }
    crate::faults::crash_point(crate::faults::Point::AfterAlertMarkedSent, row.company_id)?;
    if row.level == 0 {
        append_event(
            &txn,
            row.company_id,
            row.breach_id,
            BreachEventKind::AlertSent,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    state.sla.events_committed(&state.writer).await;
    Ok(true)
}

/// Marks the breach alerted, with whom (inside the caller's transaction).
async fn mark_alerted(
    txn: &DatabaseTransaction,
    breach_id: Uuid,
    recipients: &[String],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let b = breach::Entity::find_by_id(breach_id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::not_found(format!("breach {breach_id}")))?;
    let mut am: breach::ActiveModel = b.into();
    am.alert_sent = Set(true);
    am.alert_sent_at = Set(Some(now));
    am.alert_recipients = Set(json!(recipients));
    am.updated_at = Set(now);
    am.update(txn).await?;
    Ok(())
}

/// Builds the alert for an outbox row: recipients (for the breach's own alert: the workflow
/// owner, company admins, the SLA's recipients and SLA_ALERT_RECIPIENTS, deduplicated; for an
/// escalation level: that level's recipients), subject, body and a stable Message-ID. None
/// when it is an escalation and the breach was acknowledged meanwhile.
pub async fn compose(
    state: &AppState,
    row: &alert_outbox::Model,
    cache: Option<&SloCache>,
) -> AppResult<Option<Alert>> {
    let db = &state.db;
    let b = breach::Entity::find_by_id(row.breach_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("breach {}", row.breach_id)))?;
    if row.level > 0 && b.acknowledged {
        return Ok(None);
    }
    let s = sla::Entity::find_by_id(b.sla_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("SLA {}", b.sla_id)))?;
    let wf = workflow_of(db, &s).await?;
    let exec = execution::Entity::find_by_id(b.execution_id)
        .one(db)
        .await?;
    let (recipients, prefix) = if row.level == 0 {
        (recipients(state, &b, &s, wf.as_ref()).await?, String::new())
    } else {
        let level = super::escalation::levels(&s.escalation)
            .into_iter()
            .nth(row.level as usize - 1)
            .unwrap_or_default();
        (level.recipients, format!("[ESCALATION {}] ", row.level))
    };
    let slo = slo_after(state, &s, cache).await?;
    let severity = b.severity.to_ascii_uppercase();
    let workflow_name = wf
        .as_ref()
        .map(|w| w.name.as_str())
        .unwrap_or("(deleted workflow)");
    let level = if row.level > 0 {
        format!("-{}", row.level)
    } else {
        String::new()
    };
    Ok(Some(Alert {
        subject: format!("{prefix}[{severity}] SLA Breach: {}", s.name),
        body: body(&b, &s, workflow_name, exec.as_ref(), &slo),
        recipients,
        message_id: format!("<breach-{}{level}@workflow-intel>", b.id),
    }))
}

/// Who gets the alert: the workflow's owner, the company's admins, the SLA's recipients and
/// SLA_ALERT_RECIPIENTS, lower-cased, without duplicates.
async fn recipients(
    state: &AppState,
    b: &breach::Model,
    s: &sla::Model,
    wf: Option<&workflow::Model>,
) -> AppResult<Vec<String>> {
    let db = &state.db;
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut add = |e: &str| {
        let e = e.trim().to_ascii_lowercase();
        if !e.is_empty() {
            out.insert(e);
        }
    };
    if let Some(owner) = wf.and_then(|w| w.owner_id)
        && let Some(u) = user::Entity::find_by_id(owner).one(db).await?
        && u.is_active
    {
        add(&u.email);
    }
    for admin in user::Entity::find()
        .filter(user::Column::CompanyId.eq(b.company_id))
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::IsActive.eq(true))
        .all(db)
        .await?
    {
        add(&admin.email);
    }
    for r in serde_json::from_value::<Vec<String>>(s.alert_recipients.clone()).unwrap_or_default() {
        add(&r);
    }
    for r in &state.config.sla_alert_recipients {
        add(r);
    }
    Ok(out.into_iter().collect())
}

/// The SLA's SLO report, from the cache when it is under 5 s old.
async fn slo_after(
    state: &AppState,
    s: &sla::Model,
    cache: Option<&SloCache>,
) -> AppResult<SloReport> {
    let cached = cache.and_then(|c| c.lock().ok()).and_then(|c| {
        c.get(&s.id)
            .filter(|(t, _)| t.elapsed() < std::time::Duration::from_secs(5))
            .map(|(_, r)| r.clone())
    });
    if let Some(r) = cached {
        return Ok(r);
    }
    let r = slo_report(&state.db, s, s.slo_window_hours, state.clock.now()).await?;
    if let Some(mut c) = cache.and_then(|c| c.lock().ok()) {
        c.insert(s.id, (std::time::Instant::now(), r.clone()));
    }
    Ok(r)
}

/// What the "Actual" line adds: business time and the elapsed time beside it, and whether the
/// execution still runs.
fn actual_note(b: &breach::Model, s: &sla::Model, exec: Option<&execution::Model>) -> String {
    let mut note = String::new();
    if s.calendar_id.is_some() {
        note.push_str(" of business time");
        if let Some(e) = exec {
            let end = e.completed_at.unwrap_or(b.detected_at);
            let elapsed = (end - e.started_at).num_milliseconds() as f64 / 1e3;
            note.push_str(&format!(" ({elapsed:.1} s elapsed)"));
        }
    }
    if exec.is_some_and(|e| e.completed_at.is_none()) {
        note.push_str(" at detection; still running");
    }
    note
}

/// The alert's text.
fn body(
    b: &breach::Model,
    s: &sla::Model,
    workflow_name: &str,
    exec: Option<&execution::Model>,
    slo: &SloReport,
) -> String {
    let severity = b.severity.to_ascii_uppercase();
    format!(
        "SLA breach ({severity})\n\n\
         SLA:        {sla}\n\
         Workflow:   {workflow_name}\n\
         Execution:  {exec_id}{external}\n\
         Threshold:  {threshold} s ({severity_lower})\n\
         Actual:     {actual:.1} s{still}\n\
         Target:     {target:.0} s\n\
         {margins}\n\
         Detected:   {detected}\n\n\
         SLO after this breach ({window} h window): {slo_text}.\n",
        sla = s.name,
        exec_id = b.execution_id,
        external = exec
            .and_then(|e| e.external_id.as_ref())
            .map(|x| format!(" (external id {x})"))
            .unwrap_or_default(),
        threshold = b.threshold_seconds,
        severity_lower = b.severity,
        actual = b.actual_duration_seconds,
        still = actual_note(b, s, exec),
        target = b.target_duration_seconds,
        margins = super::figures::margin_lines(b),
        detected = b.detected_at.to_rfc3339(),
        window = s.slo_window_hours,
        slo_text = super::figures::compliance_text(slo),
    )
}

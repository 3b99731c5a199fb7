//! The alert outbox: rows written in a breach's (or an acknowledgement's) transaction, then
//! claimed with a lease by a worker (the mailer for `email`, the notifier for channels),
//! delivered with no transaction open, and recorded sent or retried with backoff.
use super::escalation::{self, Alerting, EMAIL};
use crate::AppState;
use crate::entity::{alert_outbox, breach, sla};
use crate::error::AppResult;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

/// Exponential backoff: 2, 4, 8 … seconds, at most 5 minutes.
pub fn backoff(attempts: i32) -> Duration {
    Duration::seconds(Ord::min(
        2i64.saturating_pow(attempts.clamp(1, 20) as u32),
        300,
    ))
}

fn row(
    company_id: Uuid,
    breach_id: Uuid,
    target: String,
    level: i32,
    action: &str,
    due: DateTime<Utc>,
) -> alert_outbox::ActiveModel {
    alert_outbox::Model {
        id: Uuid::now_v7(),
        company_id,
        breach_id,
        target,
        level,
        action: action.into(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: due,
        claimed_by: None,
        claimed_until: None,
        last_error: None,
        sent_at: None,
        created_at: due,
        updated_at: due,
    }
    .into()
}

/// The statement that writes new breaches' rows (each breach with its SLA): their alerts and
/// their escalation levels, in one statement (inside their transaction); None when no row is
/// due.
pub fn enqueue_statement<'a>(
    backend: sea_orm::DatabaseBackend,
    breaches: impl Iterator<Item = (&'a sla::Model, Uuid)>,
    detected: DateTime<Utc>,
    alerting: Alerting,
) -> Option<sea_orm::Statement> {
    let mut rows = Vec::new();
    for (s, breach_id) in breaches {
        let channels: Vec<Uuid> =
            serde_json::from_value(s.alert_channel_ids.clone()).unwrap_or_default();
        let planned = escalation::plan(
            &channels,
            &escalation::levels(&s.escalation),
            alerting,
            detected,
        );
        rows.extend(
            planned
                .into_iter()
                .map(|p| row(s.company_id, breach_id, p.target, p.level, "trigger", p.due)),
        );
    }
    if rows.is_empty() {
        return None;
    }
    Some(sea_orm::QueryTrait::build(
        &alert_outbox::Entity::insert_many(rows),
        backend,
    ))
}

/// On acknowledgement (inside its transaction): the escalation levels and channel alerts still
/// pending are cancelled, and every channel that was alerted gets a `resolve`.
pub async fn acknowledged(
    db: &impl ConnectionTrait,
    b: &breach::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    use alert_outbox::Column as C;
    alert_outbox::Entity::update_many()
        .col_expr(C::Status, Expr::value("cancelled"))
        .col_expr(
            C::LastError,
            Expr::value(Some("acknowledged before it was due".to_string())),
        )
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::BreachId.eq(b.id))
        .filter(C::Status.eq("pending"))
        .filter(
            Condition::any()
                .add(C::Level.gt(0))
                .add(C::Target.ne(EMAIL)),
        )
        .exec(db)
        .await?;
    let alerted: Vec<String> = alert_outbox::Entity::find()
        .select_only()
        .column(C::Target)
        .distinct()
        .filter(C::BreachId.eq(b.id))
        .filter(C::Target.ne(EMAIL))
        .filter(C::Action.eq("trigger"))
        .filter(C::Status.is_in(["sent", "sending"]))
        .into_tuple()
        .all(db)
        .await?;
    if alerted.is_empty() {
        return Ok(());
    }
    let rows = alerted
        .into_iter()
        .map(|t| row(b.company_id, b.id, t, 0, "resolve", now));
    alert_outbox::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([C::BreachId, C::Target, C::Level, C::Action])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Claims up to `limit` due rows for email (`email`) or for the channels: pending and due, or
/// claimed with an expired lease.
pub async fn claim(
    state: &AppState,
    lease: Duration,
    limit: u64,
    email: bool,
) -> AppResult<Vec<alert_outbox::Model>> {
    use alert_outbox::Column as C;
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.writer).await?;
    let due = Condition::any()
        .add(
            Condition::all()
                .add(C::Status.eq("pending"))
                .add(C::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(C::Status.eq("sending"))
                .add(C::ClaimedUntil.lt(now)),
        );
    let target = if email {
        C::Target.eq(EMAIL)
    } else {
        C::Target.ne(EMAIL)
    };
    let mut q = alert_outbox::Entity::find()
        .filter(due)
        .filter(target)
        .order_by_asc(C::NextAttemptAt)
        .limit(limit);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = q.all(&txn).await?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let until = now + lease;
    alert_outbox::Entity::update_many()
        .col_expr(C::Status, Expr::value("sending"))
        .col_expr(C::ClaimedBy, Expr::value(state.instance_id.clone()))
        .col_expr(C::ClaimedUntil, Expr::value(until))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .map(|mut r| {
            r.status = "sending".into();
            r.claimed_by = Some(state.instance_id.clone());
            r.claimed_until = Some(until);
            r.attempts += 1;
            r
        })
        .collect())
}

/// Marks a claimed row sent (inside the caller's transaction). False when the row is no
/// longer ours.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    row: &alert_outbox::Model,
    me: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    use alert_outbox::Column as C;
    let res = alert_outbox::Entity::update_many()
        .col_expr(C::Status, Expr::value("sent"))
        .col_expr(C::SentAt, Expr::value(Some(now)))
        .col_expr(C::LastError, Expr::value(Option::<String>::None))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(row.id))
        .filter(C::Status.eq("sending"))
        .filter(C::ClaimedBy.eq(me))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// What became of a row that was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Try again after the backoff.
    Retry,
    /// Never: it cannot be sent.
    Failed,
    /// Not any more: its breach was acknowledged first.
    Cancelled,
}

/// Records a row that was not sent, with why (never a secret: callers name the channel, not
/// its URL).
pub async fn record_unsent(
    state: &AppState,
    row: &alert_outbox::Model,
    error: &str,
    outcome: Outcome,
) -> AppResult<()> {
    use alert_outbox::Column as C;
    let now = state.clock.now();
    let status = match outcome {
        Outcome::Retry => "pending",
        Outcome::Failed => "failed",
        Outcome::Cancelled => "cancelled",
    };
    alert_outbox::Entity::update_many()
        .col_expr(C::Status, Expr::value(status))
        .col_expr(C::NextAttemptAt, Expr::value(now + backoff(row.attempts)))
        .col_expr(C::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(C::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(C::LastError, Expr::value(Some(error.to_string())))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(row.id))
        .exec(&state.writer)
        .await?;
    Ok(())
}

/// A worker of the outbox's rows of one kind (the mailer's email, the notifier's channels).
#[async_trait::async_trait]
pub trait Worker: Send + Sync + 'static {
    /// Deliveries in flight at once.
    fn concurrency(&self) -> usize;
    /// Claims up to `limit` due rows of its kind.
    async fn claim(&self, state: &AppState, limit: u64) -> AppResult<Vec<alert_outbox::Model>>;
    /// Sends one claimed row and records the outcome.
    async fn deliver(&self, state: &AppState, row: &alert_outbox::Model) -> AppResult<bool>;
}

/// Works the outbox until the task is dropped (which also drops the deliveries in flight):
/// up to `concurrency` at once, claiming only as many rows as there are free slots, so a
/// stalled delivery never holds back the rows behind it.
pub async fn work<W: Worker>(
    me: W,
    state: std::sync::Arc<AppState>,
    wake: std::sync::Arc<tokio::sync::Notify>,
    poll: std::time::Duration,
) {
    let me = std::sync::Arc::new(me);
    let mut inflight = tokio::task::JoinSet::new();
    loop {
        while inflight.try_join_next().is_some() {}
        let free = me.concurrency().saturating_sub(inflight.len());
        if free > 0 {
            match me.claim(&state, free as u64).await {
                Ok(rows) if !rows.is_empty() => {
                    for r in rows {
                        let (me, state) = (me.clone(), state.clone());
                        inflight.spawn(async move {
                            if let Err(e) = me.deliver(&state, &r).await {
                                tracing::warn!(error = %e, breach = %r.breach_id, target = %r.target, "alert delivery bookkeeping failed");
                            }
                        });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming alert outbox rows failed"),
            }
        }
        let next = state.clock.now() + Duration::from_std(poll).unwrap_or(Duration::seconds(1));
        tokio::select! {
            _ = wake.notified() => {}
            _ = crate::clock::sleep_until(state.clock.as_ref(), next, poll) => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
        }
    }
}

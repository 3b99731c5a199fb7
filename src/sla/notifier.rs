//! Delivers the outbox's channel rows (webhook, Slack, PagerDuty, Alertmanager) with the
//! mailer's discipline: claimed with a lease, sent with no transaction open, each request
//! bounded by `ALERT_HTTP_TIMEOUT_SECONDS` (below the lease), a non-2xx answer, a timeout or
//! a stalled server retried with backoff, and the send recorded in one transaction. Errors name
//! the channel, never its URL or secret. An escalation level whose breach was acknowledged is
//! cancelled, not sent; a `resolve` waits until its channel's trigger is out.
use super::channels::{self, ChannelKind, Facts};
use super::outbox::{self, Outcome, record_unsent};
use super::service::workflow_of;
use crate::AppState;
use crate::entity::{alert_channel, alert_outbox, breach, execution, sla};
use crate::error::{AppError, AppResult};
use crate::model::stored;
use chrono::Duration;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub struct Notifier {
    client: reqwest::Client,
    lease: Duration,
    timeout: std::time::Duration,
    concurrency: usize,
}

/// What a claimed row came to before any request.
enum Plan {
    Send(Box<(alert_channel::Model, ChannelKind, Facts)>),
    Skip(&'static str, Outcome),
}

impl Notifier {
    pub fn new(
        lease: Duration,
        timeout: std::time::Duration,
        concurrency: usize,
    ) -> AppResult<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AppError::Internal(format!("building the alert HTTP client: {e}")))?;
        Ok(Notifier {
            client,
            lease,
            timeout,
            concurrency: concurrency.max(1),
        })
    }

    /// What to do with a claimed row.
    async fn plan(&self, state: &AppState, row: &alert_outbox::Model) -> AppResult<Plan> {
        let db = &state.db;
        let Ok(channel_id) = row.target.parse::<Uuid>() else {
            return Ok(Plan::Skip("not a channel", Outcome::Failed));
        };
        let channel = alert_channel::Entity::find_by_id(channel_id)
            .filter(alert_channel::Column::CompanyId.eq(row.company_id))
            .one(db)
            .await?;
        let Some(channel) = channel.filter(|c| c.is_active) else {
            return Ok(Plan::Skip(
                "the channel was deleted or deactivated",
                Outcome::Failed,
            ));
        };
        let kind = stored(ChannelKind::parse, &channel.kind)?;
        let b = breach::Entity::find_by_id(row.breach_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found(format!("breach {}", row.breach_id)))?;
        let resolve = row.action == "resolve";
        if !resolve && row.level > 0 && b.acknowledged {
            return Ok(Plan::Skip(
                "acknowledged before this level was due",
                Outcome::Cancelled,
            ));
        }
        if resolve && trigger_in_flight(state, row).await? {
            return Ok(Plan::Skip(
                "waiting for the trigger to go out first",
                Outcome::Retry,
            ));
        }
        let s = sla::Entity::find_by_id(b.sla_id).one(db).await?;
        let wf = match &s {
            Some(s) => workflow_of(db, s).await?,
            None => None,
        };
        let exec = execution::Entity::find_by_id(b.execution_id)
            .one(db)
            .await?;
        let facts = Facts {
            sla_name: s.map(|s| s.name).unwrap_or_else(|| "(deleted SLA)".into()),
            workflow_id: wf.as_ref().map(|w| w.id),
            workflow_name: wf
                .map(|w| w.name)
                .unwrap_or_else(|| "(deleted workflow)".into()),
            external_id: exec.and_then(|e| e.external_id),
            level: row.level,
            resolve,
            now: state.clock.now(),
            breach: b,
        };
        Ok(Plan::Send(Box::new((channel, kind, facts))))
    }

    /// Sends one claimed row and records the outcome.
    pub async fn deliver(&self, state: &AppState, row: &alert_outbox::Model) -> AppResult<bool> {
        let (channel, kind, facts) = match self.plan(state, row).await? {
            Plan::Send(p) => *p,
            Plan::Skip(why, outcome) => {
                record_unsent(state, row, why, outcome).await?;
                return Ok(false);
            }
        };
        let req = channels::request(&channel, kind, &facts);
        let mut post = self.client.post(&channel.url).body(req.body);
        for (k, v) in req.headers {
            post = post.header(k, v);
        }
        let error = match post.send().await {
            Ok(r) if r.status().is_success() => return record_sent(state, row).await,
            Ok(r) => format!(
                "the {} channel {:?} answered {}",
                channel.kind,
                channel.name,
                r.status()
            ),
            Err(e) if e.is_timeout() => format!(
                "the {} channel {:?} did not answer within {} s (ALERT_HTTP_TIMEOUT_SECONDS)",
                channel.kind,
                channel.name,
                self.timeout.as_secs_f64()
            ),
            // reqwest's error names the URL: say only what kind of failure it was.
            Err(e) => format!(
                "the {} channel {:?} could not be reached ({})",
                channel.kind,
                channel.name,
                if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                }
            ),
        };
        tracing::warn!(breach = %row.breach_id, channel = %channel.id, attempts = row.attempts, error = %error, "sending a breach alert to a channel failed; will retry with backoff");
        record_unsent(state, row, &error, Outcome::Retry).await?;
        Ok(false)
    }
}

#[async_trait::async_trait]
impl super::outbox::Worker for Notifier {
    fn concurrency(&self) -> usize {
        self.concurrency
    }
    async fn claim(&self, state: &AppState, limit: u64) -> AppResult<Vec<alert_outbox::Model>> {
        outbox::claim(state, self.lease, limit, false).await
    }
    async fn deliver(&self, state: &AppState, row: &alert_outbox::Model) -> AppResult<bool> {
        Notifier::deliver(self, state, row).await
    }
}

/// Whether the trigger this resolve follows is still to be sent (pending or sending).
async fn trigger_in_flight(state: &AppState, row: &alert_outbox::Model) -> AppResult<bool> {
    use alert_outbox::Column as C;
    let n = alert_outbox::Entity::find()
        .filter(C::BreachId.eq(row.breach_id))
        .filter(C::Target.eq(row.target.clone()))
        .filter(C::Action.eq("trigger"))
        .filter(C::Status.is_in(["pending", "sending"]))
        .one(&state.db)
        .await?;
    Ok(n.is_some())
}

async fn record_sent(state: &AppState, row: &alert_outbox::Model) -> AppResult<bool> {
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.writer).await?;
    if !outbox::mark_sent(&txn, row, &state.instance_id, now).await? {
        return Ok(false);
    }
    crate::faults::crash_point(crate::faults::Point::AfterAlertMarkedSent, row.company_id)?;
    txn.commit().await?;
    Ok(true)
}

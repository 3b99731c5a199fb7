//! The SLA runtime: the one seam between the rest of the service and the live SLA machinery.
//!
//! [`SlaRuntime`] holds the deadline watcher that watches running executions ([`Watcher`]),
//! the signal that events were committed (which the live stream's hub waits on, in `live/`;
//! this room does not import it) and the wake-ups of the mailer and the channel notifier.
//! Everything else calls it, and only it:
//! - [`SlaRuntime::start`]: the SLA's background tasks;
//! - [`SlaRuntime::execution_started`]: arm the execution's deadlines (or hand it to the
//!   replica that owns the watcher);
//! - [`SlaRuntime::executions_finished`]: history was reported; arm what is still running and
//!   publish what the completions recorded;
//! - [`SlaRuntime::execution_completed`]: metrics and wake-ups after a completion committed;
//! - [`SlaRuntime::slas_changed`]: re-arm every deadline from the database;
//! - [`SlaRuntime::events_committed`]: a transaction that appended breach events committed;
//! - [`SlaRuntime::refresh_gauges`]: the SLO gauges, when /metrics is scraped.
use super::watcher::Watcher;
use crate::entity::{breach, execution, sla};
use crate::{AppState, Timing};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct SlaRuntime {
    pub watcher: Arc<Watcher>,
    /// Raised once per commit that appended breach events (here, or on another replica).
    pub events: Arc<Notify>,
    pub mailer_wake: Arc<Notify>,
    /// Wakes the channel notifier (`notifier.rs`).
    pub notifier_wake: Arc<Notify>,
}

impl SlaRuntime {
    /// Starts the deadline watcher, the replicas' listener (PostgreSQL), the mailer (when
    /// alerts are active) and the channel notifier (when alerts are enabled).
    pub fn start(
        &self,
        st: &Arc<AppState>,
        timing: &Timing,
    ) -> Result<Vec<JoinHandle<()>>, String> {
        let postgres = st.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        if !postgres {
            // One process per SQLite database: this one owns the deadline watcher from the start.
            self.watcher.own();
        }
        let mut tasks = vec![tokio::spawn(
            self.watcher.clone().run(st.clone(), timing.rearm_every),
        )];
        if postgres {
            tasks.push(tokio::spawn(super::replicas::run_listener(st.clone())));
        }
        if st.alerts_active() {
            let url = st.config.smtp_url.clone().unwrap_or_default();
            let mailer = super::mailer::Mailer::with_limits(
                &url,
                &st.config.default_from_email,
                timing.lease,
                Duration::from_secs(st.config.smtp_timeout_seconds),
                st.config.smtp_concurrency as usize,
            )?;
            tasks.push(tokio::spawn(super::outbox::work(
                mailer,
                st.clone(),
                self.mailer_wake.clone(),
                timing.outbox_poll,
            )));
        }
        if st.config.sla_alerts_enabled {
            // The request bound stays under half the lease, as the SMTP one does.
            let lease = timing.lease.num_seconds().max(2) as u64;
            let timeout = st.config.alert_http_timeout_seconds.min(lease / 2).max(1);
            let notifier = super::notifier::Notifier::new(
                timing.lease,
                Duration::from_secs(timeout),
                st.config.smtp_concurrency as usize,
            )
            .map_err(|e| e.to_string())?;
            tasks.push(tokio::spawn(super::outbox::work(
                notifier,
                st.clone(),
                self.notifier_wake.clone(),
                timing.outbox_poll,
            )));
        }
        Ok(tasks)
    }

    /// An execution started (its row is written, possibly not yet committed: on PostgreSQL the
    /// hand-over notification is delivered at commit).
    pub async fn execution_started(
        &self,
        db: &impl ConnectionTrait,
        e: &execution::Model,
        slas: &[sla::Model],
    ) -> Result<(), DbErr> {
        self.watcher.arm(e, slas);
        if !self.watcher.is_owner() {
            // The replica that owns the deadline watcher arms it.
            super::replicas::notify(db, &format!("exec:{}", e.id)).await?;
        }
        Ok(())
    }

    /// Executions were reported (and committed): those still running are armed, and the
    /// breaches their completions recorded are published.
    pub async fn executions_finished<'a>(
        &self,
        db: &DatabaseConnection,
        running: impl IntoIterator<Item = (&'a execution::Model, &'a [sla::Model])>,
        breaches: usize,
    ) {
        for (e, slas) in running {
            self.watcher.arm(e, slas);
        }
        if breaches > 0 {
            self.events_committed(db).await;
        }
    }

    /// SLAs were created, changed or deleted: every deadline is re-armed from the database.
    pub async fn slas_changed(&self, state: &AppState) {
        if let Err(e) = self.watcher.rearm_all(state).await {
            tracing::warn!(error = %e, "re-arming the deadline watcher after an SLA change failed");
        }
    }

    /// An execution's completion committed, with the breaches it recorded (`new`) and whether
    /// it brought live ones to their final figures: metrics, and its events published with one
    /// wake-up when it wrote any.
    pub async fn execution_completed(
        &self,
        state: &AppState,
        e: &execution::Model,
        slas: &[sla::Model],
        new: &[breach::Model],
        finalized: bool,
        workflow: Option<&super::effects::WorkflowLabels>,
    ) {
        super::effects::after_completion(state, e, slas, new, finalized, workflow).await;
    }

    /// Recomputes the SLO gauges (at most every 5 s).
    pub async fn refresh_gauges(&self, state: &AppState) {
        super::effects::refresh_sla_gauges(state).await;
    }

    /// A transaction that appended breach events (and maybe alert rows) committed: its events
    /// published to the log (on PostgreSQL, moved from the queue: `event_log`), and one
    /// wake-up for the live stream, the mailer and the notifier.
    pub async fn events_committed(&self, db: &DatabaseConnection) {
        if let Err(e) = super::event_log::publish(db).await {
            tracing::warn!(error = %e, "publishing breach events failed; the event dispatcher's next read publishes them");
        }
        self.events.notify_one();
        self.mailer_wake.notify_one();
        self.notifier_wake.notify_one();
    }
}

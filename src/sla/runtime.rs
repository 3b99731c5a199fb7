//! The SLA runtime: the one seam between the rest of the service and the live SLA machinery.
//!
//! [`SlaRuntime`] holds the deadline watcher that watches running executions ([`Watcher`]), the hub that
//! fans breach events out to subscriber cohorts ([`Hub`]) and the mailer's wake-up. Everything
//! else tells it one of four things:
//! - [`SlaRuntime::execution_started`]: arm the execution's deadlines (or hand it to the
//!   replica that owns the watcher);
//! - [`SlaRuntime::executions_finished`]: history was reported; arm what is still running and
//!   publish what the completions recorded;
//! - [`SlaRuntime::slas_changed`]: re-arm every deadline from the database;
//! - [`SlaRuntime::events_committed`]: a transaction that appended breach events committed.
use super::hub::Hub;
use super::watcher::Watcher;
use crate::AppState;
use crate::entity::{execution, sla};
use sea_orm::{ConnectionTrait, DbErr};
use std::sync::Arc;
use tokio::sync::Notify;

pub struct SlaRuntime {
    pub watcher: Arc<Watcher>,
    pub hub: Arc<Hub>,
    pub mailer_wake: Arc<Notify>,
    /// Wakes the channel notifier (`notifier.rs`).
    pub notifier_wake: Arc<Notify>,
}

impl SlaRuntime {
    pub fn new(metrics: &crate::metrics::Metrics) -> Self {
        SlaRuntime {
            watcher: Arc::default(),
            hub: Arc::new(Hub::new(
                metrics.internals.breach_event_renders_total.clone(),
            )),
            mailer_wake: Arc::default(),
            notifier_wake: Arc::default(),
        }
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
    pub fn executions_finished<'a>(
        &self,
        running: impl IntoIterator<Item = (&'a execution::Model, &'a [sla::Model])>,
        breaches: usize,
    ) {
        for (e, slas) in running {
            self.watcher.arm(e, slas);
        }
        if breaches > 0 {
            self.events_committed();
        }
    }

    /// SLAs were created, changed or deleted: every deadline is re-armed from the database.
    pub async fn slas_changed(&self, state: &AppState) {
        if let Err(e) = self.watcher.rearm_all(state).await {
            tracing::warn!(error = %e, "re-arming the deadline watcher after an SLA change failed");
        }
    }

    /// A transaction that appended breach events (and maybe alert rows) committed.
    pub fn events_committed(&self) {
        self.hub.committed();
        self.mailer_wake.notify_one();
        self.notifier_wake.notify_one();
    }
}

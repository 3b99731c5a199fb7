//! The breach event bus.
//!
//! Every breach event (DETECTED, ACKNOWLEDGED, ALERT_SENT) is first written to the
//! `sla_events` log in the same transaction as the change it reports. A dispatcher follows
//! the log by its monotonic sequence and fans each event out to subscribers, so events are
//! published only after commit, in commit order, and a missed wake-up costs latency, never an
//! event. [`EventBus`] is the seam: [`InProcessBus`] wakes the dispatcher in-process; a
//! PostgreSQL LISTEN/NOTIFY implementation wakes every replica's dispatcher.
use super::BreachEventKind;
use crate::entity::{breach, sla, sla_event};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

/// One event as subscribers receive it.
#[derive(Clone, Debug)]
pub struct BreachEvent {
    pub seq: i64,
    pub company_id: Uuid,
    pub kind: BreachEventKind,
    pub breach: breach::Model,
    pub workflow_id: Uuid,
}

pub trait EventBus: Send + Sync + 'static {
    /// Called after a transaction that appended to `sla_events` commits.
    fn committed(&self);
    /// A receiver of every event from now on. Its buffer is bounded: a receiver that falls
    /// behind is told how many events it missed.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BreachEvent>>;
}

/// Capacity of the shared event ring (per bus, not per subscriber).
pub const BUFFER: usize = 1024;

pub struct InProcessBus {
    tx: broadcast::Sender<Arc<BreachEvent>>,
    wake: Notify,
    /// The last sequence number dispatched.
    pub cursor: AtomicI64,
}

impl Default for InProcessBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(BUFFER);
        InProcessBus {
            tx,
            wake: Notify::new(),
            cursor: AtomicI64::new(-1),
        }
    }
}

impl EventBus for InProcessBus {
    fn committed(&self) {
        self.wake.notify_one();
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BreachEvent>> {
        self.tx.subscribe()
    }
}

impl InProcessBus {
    /// Fans one event out to the current subscribers (none is fine).
    pub fn publish(&self, ev: Arc<BreachEvent>) {
        let _ = self.tx.send(ev);
    }

    /// Reads events after the cursor, in sequence order, and broadcasts them. Returns how many
    /// were dispatched.
    pub async fn dispatch_once(&self, db: &DatabaseConnection) -> Result<usize, sea_orm::DbErr> {
        if self.cursor.load(Ordering::SeqCst) < 0 {
            // Start from the end of the log: subscribers get what happens from now on.
            let last: Option<i64> = sla_event::Entity::find()
                .select_only()
                .column_as(sla_event::Column::Seq.max(), "m")
                .into_tuple::<Option<i64>>()
                .one(db)
                .await?
                .flatten();
            self.cursor.store(last.unwrap_or(0), Ordering::SeqCst);
        }
        let cursor = self.cursor.load(Ordering::SeqCst);
        let events = sla_event::Entity::find()
            .filter(sla_event::Column::Seq.gt(cursor))
            .order_by_asc(sla_event::Column::Seq)
            .limit(1000)
            .all(db)
            .await?;
        if events.is_empty() {
            return Ok(0);
        }
        let breaches: HashMap<Uuid, breach::Model> = breach::Entity::find()
            .filter(breach::Column::Id.is_in(events.iter().map(|e| e.breach_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|b| (b.id, b))
            .collect();
        let workflows: HashMap<Uuid, Uuid> = sla::Entity::find()
            .select_only()
            .column(sla::Column::Id)
            .column(sla::Column::WorkflowId)
            .filter(sla::Column::Id.is_in(breaches.values().map(|b| b.sla_id)))
            .into_tuple::<(Uuid, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let n = events.len();
        for e in events {
            self.cursor.store(e.seq, Ordering::SeqCst);
            let (Some(b), Some(kind)) =
                (breaches.get(&e.breach_id), BreachEventKind::parse(&e.kind))
            else {
                continue;
            };
            let Some(&workflow_id) = workflows.get(&b.sla_id) else {
                continue;
            };
            self.publish(Arc::new(BreachEvent {
                seq: e.seq,
                company_id: e.company_id,
                kind,
                breach: b.clone(),
                workflow_id,
            }));
        }
        Ok(n)
    }

    /// Follows the log until the task is dropped: on every wake-up, and every `poll` as a
    /// backstop.
    pub async fn run(self: Arc<Self>, db: DatabaseConnection, poll: Duration) {
        loop {
            match self.dispatch_once(&db).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "breach event dispatcher: reading the log failed")
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

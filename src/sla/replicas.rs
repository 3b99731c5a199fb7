//! How the SLA runtimes of several replicas on one PostgreSQL coordinate.
//!
//! - **Wake-ups.** The mover that publishes breach events to the log (`event_log`) sends
//!   `NOTIFY wi_wake, 'event'` (delivered at its commit); starting an execution notifies
//!   `exec:<id>`. Every replica LISTENs and wakes
//!   its event dispatcher, which reads the event log by its sequence: the notification
//!   carries only keys, and polling the log is the backstop while LISTEN reconnects.
//! - **The deadline watcher** has one live owner: the replica holding a session-level advisory lock.
//!   When it dies its session ends, the lock is released, and another replica takes over,
//!   re-arms from the database and fires the deadlines missed in between.
//! - **Alert email** is claimed with `FOR UPDATE SKIP LOCKED` and a lease (see the mailer).
use crate::AppState;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseBackend};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const WAKE_CHANNEL: &str = "wi_wake";
/// The deadline watcher's advisory lock is (WATCHER_LOCK, hashtext(current_schema())): one watcher per
/// schema, so a database holding several deployments' schemas keeps one watcher each.
pub const WATCHER_LOCK: i32 = 727_002;

/// Sends a wake-up to every replica (inside a transaction: delivered at commit).
pub async fn notify(db: &impl ConnectionTrait, payload: &str) -> Result<(), sea_orm::DbErr> {
    if let Some(stmt) = notify_statement(db.get_database_backend(), payload) {
        db.execute_raw(stmt).await?;
    }
    Ok(())
}

/// The statement of [`notify`]; None where there are no other replicas to wake.
pub fn notify_statement(backend: DatabaseBackend, payload: &str) -> Option<sea_orm::Statement> {
    (backend == DatabaseBackend::Postgres).then(|| {
        sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [WAKE_CHANNEL.into(), payload.into()],
        )
    })
}

/// Listens for wake-ups until the task is dropped, reconnecting after errors. After every
/// (re)connection the dispatcher is woken, so events committed during a gap are read at once.
pub async fn run_listener(state: Arc<AppState>) {
    let pool = state.db.get_postgres_connection_pool().clone();
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // Reconnection is ours to do (so that it is logged and followed by a catch-up).
        listener.eager_reconnect(false);
        if let Err(e) = listener.listen(WAKE_CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        state.sla.events.notify_one();
        state.sla.watcher.rearm_soon();
        loop {
            match listener.recv().await {
                Ok(n) => {
                    let payload = n.payload();
                    if payload == "event" {
                        state.sla.events.notify_one();
                    } else if let Some(id) = payload
                        .strip_prefix("exec:")
                        .and_then(|s| Uuid::parse_str(s).ok())
                    {
                        state.sla.watcher.arm_by_id(&state, id).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting (the event log poll covers the gap)");
                    break;
                }
            }
        }
    }
}

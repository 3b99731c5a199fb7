//! How breach events enter the log (`sla_events`), whose sequence the live stream follows.
//!
//! A reader following the sequence must never skip an event that commits late: sequence order
//! must be commit order. On SQLite the one writer commits one transaction at a time, and events
//! go into the log directly. On PostgreSQL transactions commit concurrently. Every writer used to
//! take one advisory lock and hold it through its commit, and so wait for the commit (and WAL
//! flush) of the writer before it; a completion's breaches and events ran one at a time.
//! Writers now put their events in a queue (`sla_event_queue`), with no lock. After their
//! commit a mover ([`publish`]) takes the lock and moves every committed queued event into the
//! log, in the order they were queued, in one transaction: the log's sequence is the movers'
//! commit order, and a mover moves whatever committed meanwhile, so that one flush serves many
//! events. The mover also wakes the other replicas (`NOTIFY`, delivered at its commit).
//!
//! The writer runs the mover after its commit and before it answers, so that its events are in
//! the log when the client hears back; every replica's dispatcher runs it too before it reads
//! the log, so that events left queued by a writer that stopped between its commit and its
//! move still go out.
use crate::entity::{sla_event, sla_event_queue};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, Set, Statement};
use uuid::Uuid;

/// The event log's advisory lock, (LOCK, hashtext(current_schema())): one mover at a time per
/// schema.
const LOCK: i32 = 727_001;

/// The statement that writes one event of `kind` for each (company, breach): into the log on
/// SQLite, into the queue on PostgreSQL (the same columns, less the log's sequence). None when
/// there are none.
pub fn insert_statement(
    backend: DatabaseBackend,
    breaches: impl Iterator<Item = (Uuid, Uuid)>,
    kind: super::BreachEventKind,
    at: DateTime<Utc>,
) -> Option<Statement> {
    let rows: Vec<sla_event::ActiveModel> = breaches
        .map(|(company_id, breach_id)| sla_event::ActiveModel {
            company_id: Set(company_id),
            breach_id: Set(breach_id),
            kind: Set(kind.as_str().into()),
            created_at: Set(at),
            ..Default::default()
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut q = sea_orm::QueryTrait::into_query(sla_event::Entity::insert_many(rows));
    if backend == DatabaseBackend::Postgres {
        q.into_table(sla_event_queue::Entity);
    }
    Some(backend.build(&q))
}

/// The mover's text: the lock, then the committed queued events into the log in queue order,
/// and a wake-up for the other replicas when it moved any. Sent as one simple query, which
/// PostgreSQL runs as one transaction: the lock is held until the moved events are committed.
fn mover_sql() -> String {
    format!(
        "SELECT pg_advisory_xact_lock({LOCK}, hashtext(current_schema())); \
         WITH moved AS (DELETE FROM sla_event_queue RETURNING id, company_id, breach_id, kind, created_at), \
         logged AS (INSERT INTO sla_events (company_id, breach_id, kind, created_at) \
         SELECT company_id, breach_id, kind, created_at FROM moved ORDER BY id RETURNING seq) \
         SELECT pg_notify('{}', 'event') FROM (SELECT count(*) AS n FROM logged) c WHERE c.n > 0",
        super::replicas::WAKE_CHANNEL
    )
}

/// Moves the committed queued events into the log (PostgreSQL; nothing to do on SQLite). Run
/// it outside any transaction: after the commit that queued events, and before reading the log.
pub async fn publish(db: &impl ConnectionTrait) -> AppResult<()> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared(&mover_sql()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The bench's PostgreSQL ceiling (`benches/pg_ceiling/setup.sql`) moves events with the
    /// server's mover, wrapped in a function for pgbench: when the mover changes, so must it.
    #[test]
    fn the_bench_s_postgresql_ceiling_moves_events_as_the_server_does() {
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let setup = words(include_str!("../../benches/pg_ceiling/setup.sql"));
        assert!(
            setup.contains(&format!("{};", words(&super::mover_sql()))),
            "benches/pg_ceiling/setup.sql no longer holds the server's mover"
        );
    }
}

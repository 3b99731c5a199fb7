//! The shard of a counter row that a write adds to (the SLO rollups, the running counts and
//! the breach counts; see the migration `m20261210_000001_counter_shards`).
//!
//! On PostgreSQL every completion of a workflow adds to the same few counter rows, and a row a
//! transaction updated stays locked until that transaction commits, WAL flush included: one
//! such row made the completions commit one at a time. Each write now adds to one of
//! [`SHARDS`] rows of a key, taken in turn, so that concurrent writes mostly take different
//! rows; readers sum a key's shards, as they sum its buckets. On SQLite the one writer runs
//! one transaction at a time anyway, and every row stays shard 0.
use sea_orm::sea_query::{IntoIden, OnConflict};
use sea_orm::{ConnectionTrait, DatabaseBackend};
use std::sync::atomic::{AtomicU16, Ordering};

/// Shards per counter key on PostgreSQL.
pub const SHARDS: u16 = 16;

/// The shard that imports add to on PostgreSQL, and no other writer.
///
/// Every other writer adds to each counter table in one statement, its rows in key order, so
/// two of them on one shard lock its rows in one order. An import evaluates its executions one
/// by one: it adds to the same keys many times, in no one order. On a shard of their own,
/// imports never wait for a completion's rows, nor a completion for theirs, and imports wait
/// for each other ([`lock_imports`]).
pub const IMPORTS: i16 = SHARDS as i16;

static NEXT: AtomicU16 = AtomicU16::new(0);

tokio::task_local! {
    /// The shard of every write of this task ([`for_imports`]).
    static FIXED: i16;
}

/// The shard the next write adds to: on PostgreSQL in turn, so that writes running at the
/// same time take different ones, or [`IMPORTS`] within [`for_imports`]; 0 on SQLite.
pub fn next(backend: DatabaseBackend) -> i16 {
    match backend {
        DatabaseBackend::Postgres => FIXED
            .try_with(|s| *s)
            .unwrap_or_else(|_| (NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS) as i16),
        _ => 0,
    }
}

/// Runs an import: its writes add to the [`IMPORTS`] shard.
pub async fn for_imports<F: std::future::Future>(f: F) -> F::Output {
    FIXED.scope(IMPORTS, f).await
}

/// The imports' advisory lock, (LOCK, hashtext(current_schema())).
const IMPORTS_LOCK: i32 = 727_003;

/// On PostgreSQL, makes the import in `txn` wait for any other until its commit: imports add
/// to their shard's keys in no one order (see [`IMPORTS`]). Take it before any counter row.
pub async fn lock_imports(txn: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({IMPORTS_LOCK}, hashtext(current_schema()))"
        ))
        .await?;
    }
    Ok(())
}

/// `ON CONFLICT` on a counter's key: the key and its shard on PostgreSQL, the key alone on
/// SQLite (where the shard is not part of it).
pub fn on_key<C: IntoIden>(
    backend: DatabaseBackend,
    key: impl IntoIterator<Item = C>,
    shard: C,
) -> OnConflict {
    let mut cols: Vec<C> = key.into_iter().collect();
    if backend == DatabaseBackend::Postgres {
        cols.push(shard);
    }
    OnConflict::columns(cols)
}

//! Spreads the counters that every completion of a workflow adds to over several rows, and
//! gives breach events a queue in front of their log, so that concurrent writers on
//! PostgreSQL no longer wait for each other's commits.
//!
//! - **Shards.** The SLO rollups, the running counts and the breach counts get a `shard`
//!   column. On PostgreSQL it joins their primary keys: a writer adds to one shard of a bucket
//!   (the application spreads concurrent writers over them), and every reader sums the shards,
//!   as it already summed buckets. A counter row that every transaction updated was locked from
//!   its update to its transaction's commit, so those transactions committed one at a time, each
//!   waiting for the one before to flush its WAL. On SQLite writes are serialised anyway: every
//!   row keeps shard 0 and the keys stay as they were.
//! - **The event queue** (`sla_event_queue`). On PostgreSQL a transaction that records breach
//!   events inserts them here; one mover at a time (under the event log's advisory lock) moves
//!   the committed ones into `sla_events`, so that the log's sequence is still commit order,
//!   without every writer holding that lock through its own commit. SQLite writes its events
//!   into the log directly, and the queue stays empty.
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000001_counter_shards"
    }
}

/// The counter tables: their key without the shard, and the columns that count.
const COUNTERS: [(&str, &str, &[&str]); 3] = [
    (
        "sla_breach_counts",
        "sla_id, severity, acknowledged",
        &["n"],
    ),
    (
        "sla_rollups",
        "sla_id, grain, bucket",
        &["total", "met", "warning", "critical"],
    ),
    (
        "running_rollups",
        "workflow_id, grain, bucket",
        &["running"],
    ),
];

pub const QUEUE: &str = "sla_event_queue";

/// On PostgreSQL, the tables this migration changes, and the breaches (the queue's foreign key
/// takes them too), locked before anything else, in the order a write transaction takes them
/// (the lock order in `sla`'s module doc; the queue comes after the breach counts). Run while
/// the application writes (the tests undo and redo it under a live server), the migration then
/// waits for the writers holding them and cannot deadlock with one. (An application of the
/// version before still fails on the new keys: stop it first.)
async fn lock_in_order(m: &SchemaManager<'_>, queue: bool) -> Result<(), DbErr> {
    if m.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let tables = if queue {
        "sla_breaches, sla_breach_counts, sla_event_queue, sla_rollups, running_rollups"
    } else {
        "sla_breaches, sla_breach_counts, sla_rollups, running_rollups"
    };
    m.get_connection()
        .execute_unprepared(&format!("LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        lock_in_order(m, false).await?;
        let db = m.get_connection();
        let pg = m.get_database_backend() == DbBackend::Postgres;
        for (table, key, _) in COUNTERS {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0"
            ))
            .await?;
            if pg {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, \
                     ADD PRIMARY KEY ({key}, shard)"
                ))
                .await?;
            }
        }
        m.create_table(
            Table::create()
                .table(Alias::new(QUEUE))
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(uuid("company_id"))
                .col(uuid("breach_id"))
                .col(string("kind"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sla_event_queue_breach_id")
                        .from(Alias::new(QUEUE), Alias::new("breach_id"))
                        .to(Alias::new("sla_breaches"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        lock_in_order(m, true).await?;
        m.drop_table(Table::drop().table(Alias::new(QUEUE)).if_exists().take())
            .await?;
        let db = m.get_connection();
        let pg = m.get_database_backend() == DbBackend::Postgres;
        for (table, key, counted) in COUNTERS {
            if pg {
                // Each key's shards added into its shard 0, then the old key back.
                let sums: Vec<String> = counted.iter().map(|c| format!("SUM({c})")).collect();
                let add: Vec<String> = counted
                    .iter()
                    .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
                    .collect();
                let cols = format!("{key}, company_id, {}", counted.join(", "));
                db.execute_unprepared(&format!(
                    "INSERT INTO {table} ({cols}, shard) \
                     SELECT {key}, company_id, {}, 0 FROM {table} WHERE shard <> 0 \
                     GROUP BY {key}, company_id \
                     ON CONFLICT ({key}, shard) DO UPDATE SET {}",
                    sums.join(", "),
                    add.join(", "),
                ))
                .await?;
                db.execute_unprepared(&format!("DELETE FROM {table} WHERE shard <> 0"))
                    .await?;
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY ({key})"
                ))
                .await?;
            }
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN shard"))
                .await?;
        }
        Ok(())
    }
}

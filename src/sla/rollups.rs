//! The SLO rollups in the store: added to in the transaction of every completion, rebuilt
//! when an SLA's thresholds change, and read for reports (see [`super::buckets`]).
use super::buckets::{self, GRAINS, Rollups, Split};
use super::slo::{Counts, Objective};
use crate::entity::{execution, sla, sla_rollup};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, OnConflict, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionSession, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap};

/// Rows upserted per statement (8 values each, well under SQLite's 32,766 parameters).
const CHUNK: usize = 1000;

/// Adds executions (`.0`) started at `.1` and completed at `.2` after `.3` milliseconds to the
/// rollups of every SLA in `slas` (all of the executions' workflow's SLAs, active or not), each
/// counted by its SLA's time (wall-clock or its calendar's) less the time it was paused.
pub async fn add(
    db: &impl ConnectionTrait,
    slas: &[&sla::Model],
    done: impl Iterator<Item = (uuid::Uuid, DateTime<Utc>, DateTime<Utc>, i64)> + Clone,
) -> AppResult<()> {
    let facts = Facts {
        times: super::sla_time::of_each(db, slas).await?,
        pauses: super::pauses::of_executions(db, done.clone().map(|d| d.0)).await?,
        inputs: if slas.iter().any(|s| s.applies_when.is_some()) {
            inputs_of(db, done.clone().map(|d| d.0)).await?
        } else {
            HashMap::new()
        },
    };
    upsert(db, rows(slas, done, &facts)).await
}

/// What adding executions to the rollups reads: each SLA's time, and each execution's pauses
/// and input (the input only where an SLA applies on a condition).
pub struct Facts {
    pub times: HashMap<uuid::Uuid, super::sla_time::SlaTime>,
    pub pauses: HashMap<uuid::Uuid, Vec<super::pauses::Held>>,
    pub inputs: HashMap<uuid::Uuid, serde_json::Value>,
}

/// Rollup rows by (SLA, grain, bucket): the company and the counts to add. Sorted by key, so
/// that concurrent writers lock rows in the same order.
pub type Rows = BTreeMap<(uuid::Uuid, i16, i64), (uuid::Uuid, Counts)>;

/// What adding executions `done` to the rollups of `slas` adds to which rows, with the reads
/// done by the caller (a completion reads them before it queues for the writer).
pub fn rows(
    slas: &[&sla::Model],
    done: impl Iterator<Item = (uuid::Uuid, DateTime<Utc>, DateTime<Utc>, i64)> + Clone,
    facts: &Facts,
) -> Rows {
    let Facts {
        times,
        pauses,
        inputs,
    } = facts;
    let mut rows = Rows::new();
    for s in slas {
        let o = super::service::objective(s);
        let time = &times[&s.id];
        for (id, started, at, wall_ms) in done.clone() {
            if s.applies_when.is_some()
                && !inputs
                    .get(&id)
                    .is_some_and(|i| super::service::applies(s, i))
            {
                continue;
            }
            let ms = match pauses.get(&id) {
                None if time.is_wall() => wall_ms,
                p => time
                    .elapsed_paused(started, at, &super::pauses::for_sla(p, s.id))
                    .num_milliseconds(),
            };
            for (grain, width) in GRAINS {
                let key = (s.id, grain, buckets::bucket(at, width));
                let row = rows.entry(key).or_insert((s.company_id, Counts::default()));
                row.1.add(Counts::of(ms, &o));
            }
        }
    }
    rows
}

/// Adds `rows` to the rollups, a chunk of rows per statement.
pub async fn upsert(db: &impl ConnectionTrait, rows: Rows) -> AppResult<()> {
    // One at a time: an import's rows are many chunks, and a batch of them would be a new
    // text for the connection's statement cache with every import.
    for s in statements(db.get_database_backend(), rows) {
        db.execute_raw(s).await?;
    }
    Ok(())
}

/// The statements that add `rows` to the rollups, a chunk of rows each.
fn statements(backend: sea_orm::DatabaseBackend, rows: Rows) -> Vec<sea_orm::Statement> {
    let shard = super::shards::next(backend);
    let models: Vec<sla_rollup::ActiveModel> = rows
        .into_iter()
        .map(|((sla_id, grain, bucket), (company_id, c))| {
            sla_rollup::ActiveModel::from(sla_rollup::Model {
                sla_id,
                company_id,
                grain,
                bucket,
                total: c.total,
                met: c.met,
                warning: c.warning,
                critical: c.critical,
                shard,
            })
        })
        .collect();
    let mut it = models.into_iter().peekable();
    let mut out = Vec::new();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(CHUNK).collect();
        let q = sla_rollup::Entity::insert_many(chunk).on_conflict(summing(backend));
        out.push(sea_orm::QueryTrait::build(&q, backend));
    }
    out
}

/// A completion's (or a start's) additions to the rows that every completion of its workflow
/// shares: the SLO rollups and the running counts. Left to the end of the write (a
/// [`crate::db::Deferred`]): on SQLite the group writer adds up those of every job in the group
/// and writes them once, the rollups then the running counts (the lock order in `sla`'s module
/// doc).
#[derive(Debug, Default)]
pub struct SharedRows {
    pub rollups: Rows,
    pub running: super::running::Rows,
}

impl crate::db::Deferred for SharedRows {
    fn merge(&mut self, other: Box<dyn std::any::Any>) {
        // The group writer merges additions of one kind only.
        let Ok(other) = other.downcast::<SharedRows>() else {
            return;
        };
        for (k, (company, c)) in other.rollups {
            let row = self
                .rollups
                .entry(k)
                .or_insert((company, Counts::default()));
            row.1.add(c);
        }
        for (k, (company, n)) in other.running {
            self.running.entry(k).or_insert((company, 0)).1 += n;
        }
    }

    fn write<'a>(
        self: Box<Self>,
        txn: &'a sea_orm::DatabaseTransaction,
    ) -> futures_util::future::BoxFuture<'a, AppResult<()>> {
        // One batch: on SQLite, one hand-off to the writer's thread for both kinds of row.
        Box::pin(async move {
            use sea_orm::ConnectionTrait;
            let backend = txn.get_database_backend();
            let mut b = crate::db::Batch::new();
            let both = statements(backend, self.rollups)
                .into_iter()
                .chain(super::running::statements(backend, self.running));
            for s in both {
                b.push(s);
            }
            b.run(txn).await?;
            Ok(())
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }

    fn kind(&self) -> std::any::TypeId {
        std::any::TypeId::of::<Self>()
    }
}

/// `ON CONFLICT (sla_id, grain, bucket[, shard]) DO UPDATE SET n = sla_rollups.n + excluded.n`.
fn summing(backend: DatabaseBackend) -> OnConflict {
    use sla_rollup::Column as C;
    let mut on = super::shards::on_key(backend, [C::SlaId, C::Grain, C::Bucket], C::Shard);
    for c in [C::Total, C::Met, C::Warning, C::Critical] {
        on.value(
            c,
            Expr::col((sla_rollup::Entity, c)).add(Expr::col((Alias::new("excluded"), c))),
        );
    }
    on
}

/// Recounts one SLA's rollups from its workflow's executions (after its thresholds changed,
/// or when it is created over existing history). Run it in the transaction of the change.
pub async fn rebuild(db: &impl ConnectionTrait, sla_id: uuid::Uuid) -> AppResult<()> {
    sla_rollup::Entity::delete_many()
        .filter(sla_rollup::Column::SlaId.eq(sla_id))
        .exec(db)
        .await?;
    let Some(s) = sla::Entity::find_by_id(sla_id).one(db).await? else {
        return Ok(());
    };
    if s.calendar_id.is_some()
        || s.applies_when.is_some()
        || super::pauses::any_in_workflow(db, s.workflow_id).await?
    {
        return rebuild_by_calendar(db, &s).await;
    }
    let backend = db.get_database_backend();
    for sql in migration::rollup_rebuild_sql(backend, true, &GRAINS) {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [sla_id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Recounts the rollups of an SLA that keeps business time, applies on a condition, or whose
/// workflow's executions were paused: its workflow's completed executions, a chunk at a time, each measured by the
/// calendar and the pauses (SQL cannot).
async fn rebuild_by_calendar(db: &impl ConnectionTrait, s: &sla::Model) -> AppResult<()> {
    use execution::Column as C;
    let mut after: Option<uuid::Uuid> = None;
    loop {
        let mut q = execution::Entity::find()
            .select_only()
            .column(C::Id)
            .column(C::StartedAt)
            .column(C::CompletedAt)
            .column(C::DurationMs)
            .filter(C::WorkflowId.eq(s.workflow_id))
            .filter(C::CompanyId.eq(s.company_id))
            .filter(C::CompletedAt.is_not_null())
            .filter(C::DurationMs.is_not_null())
            .order_by_asc(C::Id)
            .limit(5_000);
        if let Some(a) = after {
            q = q.filter(C::Id.gt(a));
        }
        type Row = (
            uuid::Uuid,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<i64>,
        );
        let rows: Vec<Row> = q.into_tuple().all(db).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last.0);
        let done = rows.iter().filter_map(|r| Some((r.0, r.1, r.2?, r.3?)));
        add(db, &[s], done).await?;
    }
}

/// The input of each of executions `ids`.
async fn inputs_of(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = uuid::Uuid>,
) -> AppResult<HashMap<uuid::Uuid, serde_json::Value>> {
    let ids: Vec<uuid::Uuid> = ids.collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(uuid::Uuid, serde_json::Value)> = execution::Entity::find()
            .select_only()
            .column(execution::Column::Id)
            .column(execution::Column::InputData)
            .filter(execution::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Reads what counting the spans (seconds back from `now`) of one SLA needs. On PostgreSQL
/// the reads run with parallel workers off: the planner, estimating the open-ended hour range
/// high, gathered the six small sums with workers, and starting them cost 8 to 11 ms of a
/// read that takes under 1 ms without (1,000,000 executions over 30 days). They also run
/// with the plan each connection made once for each statement (a generic plan): planning the
/// sums again for each request's values cost 0.26 ms over 1,000 executions and 0.96 ms over
/// 1,000,000, more than running them, and whatever the values, the right plan is the same
/// few primary-key ranges. A generic plan cannot see how narrow the ranges are, so it
/// estimates them wide: with JIT on, that estimate made every execution compile its
/// expressions (32 ms), and a table scan could look cheaper than the ranges. So JIT and table
/// scans are off for these reads.
pub async fn read<'a>(
    db: &(impl ConnectionTrait + TransactionTrait),
    s: &sla::Model,
    o: &'a Objective,
    now: DateTime<Utc>,
    spans: &[i64],
) -> AppResult<Rollups<'a>> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return read_in(db, s, o, now, spans).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(
        "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL plan_cache_mode = force_generic_plan; \
         SET LOCAL jit = off; SET LOCAL enable_seqscan = off",
    )
    .await?;
    let r = read_in(&txn, s, o, now, spans).await?;
    txn.commit().await?;
    Ok(r)
}

async fn read_in<'a>(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    o: &'a Objective,
    now: DateTime<Utc>,
    spans: &[i64],
) -> AppResult<Rollups<'a>> {
    let splits = buckets::needs(now, spans);
    let time = super::sla_time::of(db, s).await?;
    Ok(Rollups {
        sums: sums(db, s, &splits).await?,
        overdue: super::overdue::counts(db, s, o, now, &time, &splits).await?,
        objective: o,
    })
}

/// Per split, the sum of the rollup buckets in its ranges: one statement, one row per split
/// (`SELECT k, SUM(..) .. WHERE <ranges> UNION ALL ..`). Summed in the store, so that what
/// comes back does not grow with the history.
async fn sums(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    splits: &[Split],
) -> AppResult<HashMap<i64, Counts>> {
    let mut parts = splits.iter().map(|x| sum_of(s, x));
    let Some(mut q) = parts.next() else {
        return Ok(HashMap::new());
    };
    for p in parts {
        q.union(UnionType::All, p);
    }
    let mut out = HashMap::new();
    for row in db.query_all(&q).await? {
        let n = |i: usize| row.try_get_by_index::<i64>(i);
        let c = Counts {
            total: n(1)?,
            met: n(2)?,
            warning: n(3)?,
            critical: n(4)?,
        };
        out.insert(n(0)?, c);
    }
    Ok(out)
}

/// A split's bucket ranges of rollup rows whose key is `key`: one term per grain, `key AND
/// grain = g AND bucket >= lo AND bucket < hi`. Every term names the whole key prefix, so that
/// each can use the primary key on its own (SQLite's OR optimisation, PostgreSQL's bitmap OR).
pub(super) fn in_split<C: ColumnTrait>(key: Expr, grain: C, bucket: C, x: &Split) -> Condition {
    let mut any = Condition::any();
    for (&(g, _), &(lo, hi)) in GRAINS.iter().zip(&x.ranges) {
        let mut term = key.clone().and(grain.eq(g)).and(bucket.gte(lo));
        if hi < i64::MAX {
            term = term.and(bucket.lt(hi));
        }
        any = any.add(term);
    }
    any
}

/// `SELECT sa, SUM(total), SUM(met), SUM(warning), SUM(critical)` over one split's ranges
/// ([`in_split`]).
fn sum_of(s: &sla::Model, x: &Split) -> SelectStatement {
    use sla_rollup::Column as C;
    let any = in_split(C::SlaId.eq(s.id), C::Grain, C::Bucket, x);
    let mut q = Query::select();
    q.from(sla_rollup::Entity).expr(Expr::val(x.sa));
    for c in [C::Total, C::Met, C::Warning, C::Critical] {
        let sum = Func::coalesce([Expr::from(Func::sum(Expr::col(c))), Expr::val(0i64)]);
        q.expr(Expr::expr(sum).cast_as(Alias::new("BIGINT")));
    }
    q.cond_where(any);
    q
}

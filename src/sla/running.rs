//! Counts of each workflow's running executions by start time (`running_rollups`, at the SLO
//! rollups' grains), kept in the transaction of every start, import and completion. They let
//! [`super::overdue`] count the executions running past an SLA's target at a cost bounded
//! however many there are: how many started from a given instant on is the sum of
//! at most 59 second, 59 minute and 23 hour buckets and the days after, plus the running
//! executions started in that instant's own second, read from the running ones' index.
use super::buckets::{self, GRAINS, SECOND, Split};
use crate::entity::{execution, running_rollup};
use crate::error::AppResult;
use crate::model::ExecutionStatus;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, OnConflict, Query, SelectStatement, UnionType,
};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Rows upserted per statement (5 values each).
const CHUNK: usize = 1000;

/// Adds `delta` to the counts of executions `(workflow, company, started_at)`: 1 when they
/// start running (or are imported running), -1 when a running one completes. Run it in the
/// transaction that writes them.
pub async fn add(
    db: &impl ConnectionTrait,
    executions: impl IntoIterator<Item = (Uuid, Uuid, DateTime<Utc>)>,
    delta: i64,
) -> AppResult<()> {
    upsert(db, rows(executions, delta)).await
}

/// Running-count rows by (workflow, grain, bucket): the company and the number to add. Sorted
/// by key, so that concurrent writers lock rows in the same order.
pub type Rows = BTreeMap<(Uuid, i16, i64), (Uuid, i64)>;

/// What [`add`] adds to which rows.
pub fn rows(executions: impl IntoIterator<Item = (Uuid, Uuid, DateTime<Utc>)>, delta: i64) -> Rows {
    let mut rows = Rows::new();
    for (workflow, company, started) in executions {
        for (grain, width) in GRAINS {
            let key = (workflow, grain, buckets::bucket(started, width));
            rows.entry(key).or_insert((company, 0)).1 += delta;
        }
    }
    rows
}

/// Adds `rows` to the running counts, a chunk of rows per statement.
pub async fn upsert(db: &impl ConnectionTrait, rows: Rows) -> AppResult<()> {
    // One at a time: an import's rows are many chunks, and a batch of them would be a new
    // text for the connection's statement cache with every import.
    for s in statements(db.get_database_backend(), rows) {
        db.execute_raw(s).await?;
    }
    Ok(())
}

/// The statements that add `rows` to the running counts, a chunk of rows each.
pub fn statements(backend: sea_orm::DatabaseBackend, rows: Rows) -> Vec<sea_orm::Statement> {
    let shard = super::shards::next(backend);
    let models = rows
        .into_iter()
        .map(|((workflow_id, grain, bucket), (company_id, n))| {
            running_rollup::ActiveModel::from(running_rollup::Model {
                workflow_id,
                company_id,
                grain,
                bucket,
                running: n,
                shard,
            })
        });
    let mut it = models.peekable();
    let mut out = Vec::new();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(CHUNK).collect();
        let q = running_rollup::Entity::insert_many(chunk).on_conflict(summing(backend));
        out.push(sea_orm::QueryTrait::build(&q, backend));
    }
    out
}

/// `ON CONFLICT (workflow_id, grain, bucket[, shard]) DO UPDATE SET running = running +
/// excluded.running`.
fn summing(backend: sea_orm::DatabaseBackend) -> OnConflict {
    use running_rollup::Column as C;
    super::shards::on_key(backend, [C::WorkflowId, C::Grain, C::Bucket], C::Shard)
        .value(
            C::Running,
            Expr::col((running_rollup::Entity, C::Running))
                .add(Expr::col((Alias::new("excluded"), C::Running))),
        )
        .to_owned()
}

/// A lower bound on a start time: started at or after `at`, or strictly after when `strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since {
    pub at: DateTime<Utc>,
    pub strict: bool,
}

impl Since {
    /// The start of the next whole second: from there on the rollups count.
    fn next_second(&self) -> DateTime<Utc> {
        let s = buckets::bucket(self.at, SECOND) + 1;
        DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// For each of `froms`: how many of the workflow's executions are running (status running,
/// not completed) that started from it on. Two statements, each reading a bounded number of
/// rows: the running executions started in the bounds' own seconds (their index), and the
/// rollup buckets from the next second on.
pub async fn started_from(
    db: &impl ConnectionTrait,
    workflow_id: Uuid,
    company_id: Uuid,
    froms: &[Since],
) -> AppResult<Vec<i64>> {
    let mut out = in_own_second(db, workflow_id, company_id, froms).await?;
    let parts = froms.iter().enumerate().map(|(i, f)| {
        let x = buckets::split(f.next_second());
        sum_of(workflow_id, company_id, i, &x)
    });
    add_rows(db, union(parts), &mut out).await?;
    Ok(out)
}

/// Per bound, the running executions started from it to the end of its second: one
/// `SELECT i, COUNT(*)` per bound, each a range of the running executions' index (`UNION
/// ALL`). One statement with an `OR` of the ranges read every running execution of the
/// workflow on SQLite: only the workflow's part of the index was searched.
async fn in_own_second(
    db: &impl ConnectionTrait,
    workflow_id: Uuid,
    company_id: Uuid,
    froms: &[Since],
) -> AppResult<Vec<i64>> {
    use execution::Column as C;
    let count = |i: usize, f: &Since| -> SelectStatement {
        let lo = if f.strict {
            Expr::col(C::StartedAt).gt(f.at)
        } else {
            Expr::col(C::StartedAt).gte(f.at)
        };
        Query::select()
            .expr(Expr::val(i as i64))
            .expr(Expr::expr(Func::count(Expr::val(1))).cast_as(Alias::new("BIGINT")))
            .from(execution::Entity)
            .and_where(Expr::col(C::WorkflowId).eq(workflow_id))
            .and_where(Expr::col(C::CompletedAt).is_null())
            .and_where(Expr::col(C::CompanyId).eq(company_id))
            .and_where(Expr::col(C::Status).eq(ExecutionStatus::Running.as_str()))
            .and_where(lo)
            .and_where(Expr::col(C::StartedAt).lt(f.next_second()))
            .to_owned()
    };
    let mut out = vec![0; froms.len()];
    add_rows(
        db,
        union(froms.iter().enumerate().map(|(i, f)| count(i, f))),
        &mut out,
    )
    .await?;
    Ok(out)
}

/// The statements as one, `UNION ALL`.
fn union(parts: impl Iterator<Item = SelectStatement>) -> Option<SelectStatement> {
    parts.reduce(|mut q, p| {
        q.union(UnionType::All, p);
        q
    })
}

/// Adds each row's `(i, n)` to `out[i]`.
async fn add_rows(
    db: &impl ConnectionTrait,
    q: Option<SelectStatement>,
    out: &mut [i64],
) -> AppResult<()> {
    let Some(q) = q else { return Ok(()) };
    for row in db.query_all(&q).await? {
        let i = row.try_get_by_index::<i64>(0)? as usize;
        if let Some(n) = out.get_mut(i) {
            *n += row.try_get_by_index::<i64>(1)?;
        }
    }
    Ok(())
}

/// `SELECT i, SUM(running)` over one split's ranges of the workflow's buckets.
fn sum_of(workflow_id: Uuid, company_id: Uuid, i: usize, x: &Split) -> SelectStatement {
    use running_rollup::Column as C;
    let any = super::rollups::in_split(C::WorkflowId.eq(workflow_id), C::Grain, C::Bucket, x);
    let sum = Func::coalesce([
        Expr::from(Func::sum(Expr::col(C::Running))),
        Expr::val(0i64),
    ]);
    Query::select()
        .from(running_rollup::Entity)
        .expr(Expr::val(i as i64))
        .expr(Expr::expr(sum).cast_as(Alias::new("BIGINT")))
        .cond_where(Condition::all().add(any).add(C::CompanyId.eq(company_id)))
        .to_owned()
}

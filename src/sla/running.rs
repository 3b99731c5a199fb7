//! Counts of each workflow's running executions by start time (`running_rollups`, at the SLO
//! rollups' grains), kept in the transaction of every start, import and completion. They let
//! [`super::overdue`] count the executions running past an SLA's target at a cost that does
//! not grow with how many there are: how many started from a given instant on is the sum of
//! at most 59 second, 59 minute and 23 hour buckets and the days after, plus the running
//! executions started in that instant's own second, read from the running ones' index.
use super::buckets::{self, GRAINS, SECOND, Split};
use crate::entity::{execution, running_rollup};
use crate::error::AppResult;
use crate::model::ExecutionStatus;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, CaseStatement, Expr, ExprTrait, Func, OnConflict, Query, SelectStatement, SimpleExpr,
    UnionType,
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
    // Sorted by key, so that concurrent writers lock rows in the same order.
    let mut rows: BTreeMap<(Uuid, i16, i64), (Uuid, i64)> = BTreeMap::new();
    for (workflow, company, started) in executions {
        for (grain, width) in GRAINS {
            let key = (workflow, grain, buckets::bucket(started, width));
            rows.entry(key).or_insert((company, 0)).1 += delta;
        }
    }
    let models = rows
        .into_iter()
        .map(|((workflow_id, grain, bucket), (company_id, n))| {
            running_rollup::ActiveModel::from(running_rollup::Model {
                workflow_id,
                company_id,
                grain,
                bucket,
                running: n,
            })
        });
    let mut it = models.peekable();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(CHUNK).collect();
        running_rollup::Entity::insert_many(chunk)
            .on_conflict(summing())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// `ON CONFLICT (workflow_id, grain, bucket) DO UPDATE SET running = running + excluded.running`.
fn summing() -> OnConflict {
    use running_rollup::Column as C;
    OnConflict::columns([C::WorkflowId, C::Grain, C::Bucket])
        .value(
            C::Running,
            Expr::col((running_rollup::Entity, C::Running))
                .add(Expr::col((Alias::new("excluded"), C::Running))),
        )
        .to_owned()
}

/// A lower bound on a start time: started at or after `at`, or strictly after when `strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct From {
    pub at: DateTime<Utc>,
    pub strict: bool,
}

impl From {
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
    froms: &[From],
) -> AppResult<Vec<i64>> {
    if froms.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = in_own_second(db, workflow_id, company_id, froms).await?;
    let mut parts = froms.iter().enumerate().map(|(i, f)| {
        let x = buckets::split(f.next_second());
        sum_of(workflow_id, company_id, i, &x)
    });
    let mut q = parts.next().unwrap_or_else(Query::select);
    for p in parts {
        q.union(UnionType::All, p);
    }
    for row in db.query_all(&q).await? {
        let i = row.try_get_by_index::<i64>(0)? as usize;
        if let Some(n) = out.get_mut(i) {
            *n += row.try_get_by_index::<i64>(1)?;
        }
    }
    Ok(out)
}

/// Per bound, the running executions started from it to the end of its second: one row of
/// `SUM(CASE WHEN <in range i> ..)`, over the running executions' index.
async fn in_own_second(
    db: &impl ConnectionTrait,
    workflow_id: Uuid,
    company_id: Uuid,
    froms: &[From],
) -> AppResult<Vec<i64>> {
    use execution::Column as C;
    let range = |f: &From| -> SimpleExpr {
        let lo = if f.strict {
            Expr::col(C::StartedAt).gt(f.at)
        } else {
            Expr::col(C::StartedAt).gte(f.at)
        };
        lo.and(Expr::col(C::StartedAt).lt(f.next_second()))
    };
    let mut any = Condition::any();
    let mut q = Query::select();
    for f in froms {
        any = any.add(range(f));
        let one = CaseStatement::new()
            .case(range(f), Expr::val(1i64))
            .finally(Expr::val(0i64));
        let sum = Func::coalesce([Expr::from(Func::sum(one)), Expr::val(0i64)]);
        q.expr(Expr::expr(sum).cast_as(Alias::new("BIGINT")));
    }
    q.from(execution::Entity).cond_where(
        Condition::all()
            .add(Expr::col(C::WorkflowId).eq(workflow_id))
            .add(Expr::col(C::CompletedAt).is_null())
            .add(Expr::col(C::CompanyId).eq(company_id))
            .add(Expr::col(C::Status).eq(ExecutionStatus::Running.as_str()))
            .add(any),
    );
    let Some(row) = db.query_one(&q).await? else {
        return Ok(vec![0; froms.len()]);
    };
    (0..froms.len())
        .map(|i| Ok(row.try_get_by_index::<i64>(i)?))
        .collect()
}

/// `SELECT i, SUM(running)` over one split's ranges of the workflow's buckets.
fn sum_of(workflow_id: Uuid, company_id: Uuid, i: usize, x: &Split) -> SelectStatement {
    use running_rollup::Column as C;
    let mut any = Condition::any();
    for (&(grain, _), &(lo, hi)) in GRAINS.iter().zip(&x.ranges) {
        let mut term = C::WorkflowId
            .eq(workflow_id)
            .and(C::Grain.eq(grain))
            .and(C::Bucket.gte(lo));
        if hi < i64::MAX {
            term = term.and(C::Bucket.lt(hi));
        }
        any = any.add(term);
    }
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

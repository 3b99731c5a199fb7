//! The SLO rollups in the store: added to in the transaction of every completion, rebuilt
//! when an SLA's thresholds change, and read for reports (see [`super::buckets`]).
use super::buckets::{self, GRAINS, Needs, Rollups};
use super::slo::{Counts, Objective, Sample};
use crate::entity::{execution, sla, sla_rollup};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement,
};
use std::collections::BTreeMap;

/// Rows upserted per statement (8 values each, well under SQLite's 32,766 parameters).
const CHUNK: usize = 1000;

/// Adds executions completed at `.0` after `.1` milliseconds to the rollups of every SLA in
/// `slas` (all of the executions' workflow's SLAs, active or not).
pub async fn add(
    db: &impl ConnectionTrait,
    slas: &[&sla::Model],
    done: impl Iterator<Item = (DateTime<Utc>, i64)> + Clone,
) -> AppResult<()> {
    // Sorted by key, so that concurrent writers lock rows in the same order.
    let mut rows: BTreeMap<(uuid::Uuid, i16, i64), (uuid::Uuid, Counts)> = BTreeMap::new();
    for s in slas {
        let o = super::service::objective(s);
        for (at, ms) in done.clone() {
            for (grain, width) in GRAINS {
                let key = (s.id, grain, buckets::bucket(at, width));
                let row = rows.entry(key).or_insert((s.company_id, Counts::default()));
                row.1.add(Counts::of(ms, &o));
            }
        }
    }
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
            })
        })
        .collect();
    let mut it = models.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(CHUNK).collect();
        sla_rollup::Entity::insert_many(chunk)
            .on_conflict(summing())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// `ON CONFLICT (sla_id, grain, bucket) DO UPDATE SET n = sla_rollups.n + excluded.n`.
fn summing() -> OnConflict {
    use sla_rollup::Column as C;
    let mut on = OnConflict::columns([C::SlaId, C::Grain, C::Bucket]);
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
    let backend = db.get_database_backend();
    for sql in migration::rollup_rebuild_sql(backend, true) {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [sla_id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Reads what counting the spans (seconds back from `now`) of one SLA needs.
pub async fn read<'a>(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    o: &'a Objective,
    now: DateTime<Utc>,
    spans: &[i64],
) -> AppResult<Rollups<'a>> {
    let n = buckets::needs(now, spans);
    let mut r = Rollups {
        buckets: Default::default(),
        edges: edges(db, s, &n).await?,
        objective: o,
    };
    for row in rows(db, s, &n).await? {
        let c = Counts {
            total: row.total,
            met: row.met,
            warning: row.warning,
            critical: row.critical,
        };
        if let Some(g) = GRAINS.iter().position(|(grain, _)| *grain == row.grain) {
            r.buckets[g].insert(row.bucket, c);
        }
    }
    Ok(r)
}

async fn rows(
    db: &impl ConnectionTrait,
    s: &sla::Model,
    n: &Needs,
) -> AppResult<Vec<sla_rollup::Model>> {
    use sla_rollup::Column as C;
    // Every term names the whole key prefix, so that each can use the primary key on its own
    // (SQLite's OR optimisation, PostgreSQL's bitmap OR).
    let mut any = Condition::any();
    for (g, ranges) in n.ranges.iter().enumerate() {
        for &(lo, hi) in ranges {
            let mut term = C::SlaId
                .eq(s.id)
                .and(C::Grain.eq(GRAINS[g].0))
                .and(C::Bucket.gte(lo));
            if hi < i64::MAX {
                term = term.and(C::Bucket.lt(hi));
            }
            any = any.add(term);
        }
    }
    if n.ranges.iter().all(|r| r.is_empty()) {
        return Ok(Vec::new());
    }
    Ok(sla_rollup::Entity::find().filter(any).all(db).await?)
}

/// The executions completed in the edge seconds.
async fn edges(db: &impl ConnectionTrait, s: &sla::Model, n: &Needs) -> AppResult<Vec<Sample>> {
    use execution::Column as C;
    let at = |sec: i64| DateTime::from_timestamp(sec, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    // Each term can use the (workflow_id, completed_at) index on its own. The company is
    // checked on the rows, not in SQL: with it there, SQLite scans the company's executions
    // by its (company_id, external_id) index instead (65 ms over 100,000).
    let mut any = Condition::any();
    for &sec in &n.raw_seconds {
        let range = C::CompletedAt
            .gte(at(sec))
            .and(C::CompletedAt.lt(at(sec + 1)));
        any = any.add(C::WorkflowId.eq(s.workflow_id).and(range));
    }
    type Row = (uuid::Uuid, Option<DateTime<Utc>>, Option<i64>);
    let rows: Vec<Row> = execution::Entity::find()
        .select_only()
        .column(C::CompanyId)
        .column(C::CompletedAt)
        .column(C::DurationMs)
        .filter(any)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.0 == s.company_id)
        .filter_map(|(_, c, d)| {
            Some(Sample {
                completed_at: c?,
                duration_ms: d?,
            })
        })
        .collect())
}

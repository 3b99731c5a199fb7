//! Per-SLA rollups of completed executions, so that SLO figures cost the same over a thousand
//! executions as over millions: for each SLA, per second (grain 2), per minute (grain 0) and
//! per hour (grain 1) of completion time (per day, grain 3, since a later migration), how many executions completed, how many within the target, how many over
//! the warning threshold only and how many over the critical one. The application keeps them
//! in the same transaction as each completion; this migration backfills the executions
//! already there, with the same statement the application uses when an SLA's thresholds
//! change ([`rebuild_sql`]).
use crate::m20261128_000001_list_indexes::{create_indexes, drop_indexes};
use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000001_sla_rollups"
    }
}

/// The table, and the grains this migration fills: (grain, seconds per bucket), finest first
/// (a later one adds days: [`crate::m20261207_000001_sla_rollup_days::GRAINS`]).
pub const TABLE: &str = "sla_rollups";
const GRAINS: [(i16, i64); 3] = [(2, 1), (0, 60), (1, 3600)];

/// An SLA's executions by completion time, for the rollups' edges (table, name, columns).
const INDEXES: [(&str, &str, &[&str]); 1] = [(
    "workflow_executions",
    "workflow_completed",
    &["workflow_id", "completed_at"],
)];

/// `floor(epoch seconds of col / width)` in the backend's SQL (`col`: a timestamp column).
pub(crate) fn bucket_expr(backend: DbBackend, col: &str, width: i64) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("CAST(floor(extract(epoch from {col}) / {width}) AS BIGINT)")
        }
        _ => {
            let s = format!("CAST(strftime('%s', {col}) AS INTEGER)");
            format!("(({s} - ((({s}) % {width}) + {width}) % {width}) / {width})")
        }
    }
}

/// The statements that insert the rollups of every SLA (or, with `one_sla`, of the SLA bound
/// as the only parameter) from the executions: one per grain of `grains`. The rows must not
/// exist yet.
pub fn rebuild_sql(backend: DbBackend, one_sla: bool, grains: &[(i16, i64)]) -> Vec<String> {
    let param = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let only = if one_sla {
        format!(" AND s.id = {param}")
    } else {
        String::new()
    };
    let ms = |col: &str| format!("s.{col} * 1000");
    grains
        .iter()
        .map(|&(grain, width)| {
            let b = bucket_expr(backend, "e.completed_at", width);
            format!(
                "INSERT INTO {TABLE} (sla_id, company_id, grain, bucket, total, met, warning, critical) \
                 SELECT s.id, s.company_id, {grain}, {b}, COUNT(*), \
                 SUM(CASE WHEN e.duration_ms <= {t} THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN e.duration_ms > {w} AND e.duration_ms <= {c} THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN e.duration_ms > {c} THEN 1 ELSE 0 END) \
                 FROM workflow_slas s JOIN workflow_executions e \
                 ON e.workflow_id = s.workflow_id AND e.company_id = s.company_id \
                 WHERE e.completed_at IS NOT NULL AND e.duration_ms IS NOT NULL{only} \
                 GROUP BY s.id, s.company_id, {b}",
                t = ms("target_duration_seconds"),
                w = ms("warning_threshold_seconds"),
                c = ms("critical_threshold_seconds"),
            )
        })
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new(TABLE))
                .if_not_exists()
                .col(uuid("sla_id"))
                .col(uuid("company_id"))
                .col(small_integer("grain"))
                .col(big_integer("bucket"))
                .col(big_integer("total"))
                .col(big_integer("met"))
                .col(big_integer("warning"))
                .col(big_integer("critical"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("sla_id"))
                        .col(Alias::new("grain"))
                        .col(Alias::new("bucket")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sla_rollups_sla_id")
                        .from(Alias::new(TABLE), Alias::new("sla_id"))
                        .to(Alias::new("workflow_slas"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        create_indexes(m, &INDEXES).await?;
        let db = m.get_connection();
        for sql in rebuild_sql(m.get_database_backend(), false, &GRAINS) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(m, &INDEXES).await?;
        m.drop_table(Table::drop().table(Alias::new(TABLE)).to_owned())
            .await
    }
}

//! Counts of the executions still running, per workflow and start time, at the SLO rollups'
//! grains (per second, minute, hour and day of `started_at`), so that counting the ones
//! running past an SLA's target reads a bounded number of buckets however many there are, as
//! an SLO report does for completions. The application adds one in the transaction that
//! starts (or imports) a running execution and takes it away in the one that completes it;
//! this migration counts the running executions already there.
use crate::m20261204_000001_sla_rollups::bucket_expr;
use crate::m20261207_000001_sla_rollup_days::GRAINS;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000001_running_rollups"
    }
}

pub const TABLE: &str = "running_rollups";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new(TABLE))
                .if_not_exists()
                .col(uuid("workflow_id"))
                .col(uuid("company_id"))
                .col(small_integer("grain"))
                .col(big_integer("bucket"))
                .col(big_integer("running"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("workflow_id"))
                        .col(Alias::new("grain"))
                        .col(Alias::new("bucket")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_running_rollups_workflow_id")
                        .from(Alias::new(TABLE), Alias::new("workflow_id"))
                        .to(Alias::new("workflows"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        let backend = m.get_database_backend();
        for (grain, width) in GRAINS {
            let b = bucket_expr(backend, "e.started_at", width);
            m.get_connection()
                .execute_unprepared(&format!(
                    "INSERT INTO {TABLE} (workflow_id, company_id, grain, bucket, running) \
                     SELECT e.workflow_id, e.company_id, {grain}, {b}, COUNT(*) \
                     FROM workflow_executions e \
                     WHERE e.completed_at IS NULL AND e.status = 'running' \
                     GROUP BY e.workflow_id, e.company_id, {b}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new(TABLE)).to_owned())
            .await
    }
}

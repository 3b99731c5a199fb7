//! Breach counts per (SLA, severity, acknowledged), kept in the transaction of every breach and
//! acknowledgement, so that a breach list's `totalCount` sums a handful of rows instead of
//! counting every breach of history. Backfilled from the breaches already there.
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000002_breach_counts"
    }
}

const TABLE: &str = "sla_breach_counts";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new(TABLE))
                .if_not_exists()
                .col(uuid("sla_id"))
                .col(uuid("company_id"))
                .col(string("severity"))
                .col(boolean("acknowledged"))
                .col(big_integer("n"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("sla_id"))
                        .col(Alias::new("severity"))
                        .col(Alias::new("acknowledged")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sla_breach_counts_sla_id")
                        .from(Alias::new(TABLE), Alias::new("sla_id"))
                        .to(Alias::new("workflow_slas"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sla_breach_counts_company")
                .table(Alias::new(TABLE))
                .col(Alias::new("company_id"))
                .take(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO {TABLE} (sla_id, company_id, severity, acknowledged, n) \
                 SELECT sla_id, company_id, severity, acknowledged, COUNT(*) FROM sla_breaches \
                 GROUP BY sla_id, company_id, severity, acknowledged"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new(TABLE)).to_owned())
            .await
    }
}

//! Pauses of an execution's SLA clocks (waiting on the customer): while one is open, no SLA
//! time passes for the execution.
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000004_execution_pauses"
    }
}

const TABLE: &str = "execution_pauses";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new(TABLE))
                .if_not_exists()
                .col(uuid("id").primary_key())
                .col(uuid("company_id"))
                .col(uuid("execution_id"))
                .col(uuid("workflow_id"))
                .col(timestamp_with_time_zone("paused_at"))
                .col(timestamp_with_time_zone_null("resumed_at"))
                .col(text("reason"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_execution_pauses_execution_id")
                        .from(Alias::new(TABLE), Alias::new("execution_id"))
                        .to(Alias::new("workflow_executions"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        for (name, cols) in [
            ("execution", &["execution_id", "paused_at"][..]),
            ("workflow", &["workflow_id"][..]),
        ] {
            m.create_index(crate::m20261127_000001_initial::index(
                TABLE, name, cols, false,
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new(TABLE)).take())
            .await
    }
}

//! Pause conditions: an SLA may carry a condition over the execution's current step (and
//! input) under which its clock stops, and a pause may belong to one SLA (a pause condition's)
//! or to all of the execution's SLAs (null: a pause by `pauseExecutionSla`).
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000006_pause_conditions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflow_slas"))
                .add_column(json_null("pause_when"))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("execution_pauses"))
                .add_column(uuid_null("sla_id"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("execution_pauses"))
                .drop_column(Alias::new("sla_id"))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflow_slas"))
                .drop_column(Alias::new("pause_when"))
                .take(),
        )
        .await
    }
}

//! Whether a step run's start was recorded or inferred: a log that records only completions
//! starts each step at the previous event, so its duration holds waiting as well as handling.
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000001_step_start_inferred"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("step_executions"))
                .add_column(boolean("start_inferred").default(false))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("step_executions"))
                .drop_column(Alias::new("start_inferred"))
                .take(),
        )
        .await
    }
}

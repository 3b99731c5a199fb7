//! Conditional SLAs: a condition over an execution's input that says whether the SLA applies
//! to it (null: it applies to every execution of its workflow).
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000005_sla_applies_when"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflow_slas"))
                .add_column(json_null("applies_when"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflow_slas"))
                .drop_column(Alias::new("applies_when"))
                .take(),
        )
        .await
    }
}

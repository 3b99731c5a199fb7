//! Template action declarations: the catalog actions a template's steps need, so that
//! instantiating it in a company without them creates them (null: none declared).
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_template_actions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("process_templates"))
                .add_column(json_null("actions"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("process_templates"))
                .drop_column(Alias::new("actions"))
                .take(),
        )
        .await
    }
}

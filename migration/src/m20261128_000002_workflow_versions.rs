//! Version history of workflow definitions: every definition a workflow has had, numbered from
//! 1, with the current number on the workflow and the number each execution ran.
use crate::m20261127_000001_initial::index;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000002_workflow_versions"
    }
}

fn cascade(table: &str, column: &str, target: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(target), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn versions_table() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("workflow_versions"))
        .if_not_exists()
        .col(pk_uuid("id"))
        .col(uuid("company_id"))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(uuid("workflow_id"))
        .col(integer("version"))
        .col(string("name"))
        .col(text("description").default(""))
        .col(string("workflow_type"))
        .col(json("steps"))
        .col(json_null("input_schema"))
        .col(uuid_null("created_by"))
        .foreign_key(&mut cascade("workflow_versions", "company_id", "companies"))
        .foreign_key(&mut cascade(
            "workflow_versions",
            "workflow_id",
            "workflows",
        ))
        .take()
}

/// Each existing workflow's current definition becomes its version 1 (id: the workflow's).
const BACKFILL: &str = "INSERT INTO workflow_versions (id, company_id, created_at, updated_at, \
    workflow_id, version, name, description, workflow_type, steps, input_schema, created_by) \
    SELECT id, company_id, updated_at, updated_at, id, 1, name, description, workflow_type, \
    steps, input_schema, owner_id FROM workflows";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(versions_table()).await?;
        m.create_index(index(
            "workflow_versions",
            "workflow_version",
            &["workflow_id", "version"],
            true,
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflows"))
                .add_column(integer("version").default(1))
                .take(),
        )
        .await?;
        // Null for executions and simulations recorded before versions were kept.
        for table in ["workflow_executions", "workflow_simulations"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(integer_null("workflow_version"))
                    .take(),
            )
            .await?;
        }
        m.get_connection().execute_unprepared(BACKFILL).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            ("workflow_executions", "workflow_version"),
            ("workflow_simulations", "workflow_version"),
            ("workflows", "version"),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(Alias::new(column))
                    .take(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Alias::new("workflow_versions")).take())
            .await
    }
}

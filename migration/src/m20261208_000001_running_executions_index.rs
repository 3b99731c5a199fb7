//! A partial index of the executions still running, by workflow and start, holding every
//! column the SLO reports' count of overdue executions reads (company, status, and
//! `completed_at`, always null here, which SQLite needs in the index to read nothing else), so
//! that the count reads only the running ones' index entries, never the table or the history.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000001_running_executions_index"
    }
}

const NAME: &str = "idx_workflow_executions_running";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on SQLite and PostgreSQL (sea-query has no partial indexes).
        m.get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {NAME} ON workflow_executions \
                 (workflow_id, started_at, company_id, status, completed_at) WHERE completed_at IS NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {NAME}"))
            .await?;
        Ok(())
    }
}

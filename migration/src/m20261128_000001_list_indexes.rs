//! Indexes for every list's filter and order on the tables that grow with history, so a page
//! costs the same over 200 rows as over 100,000: each is (scope, filter, id), and lists are
//! ordered by id (UUID v7, creation order).
use crate::m20261127_000001_initial::index;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000001_list_indexes"
    }
}

/// (table, name, columns)
const INDEXES: [(&str, &str, &[&str]); 9] = [
    ("sla_breaches", "company_id", &["company_id", "id"]),
    (
        "sla_breaches",
        "company_severity_id",
        &["company_id", "severity", "id"],
    ),
    (
        "sla_breaches",
        "company_ack_id",
        &["company_id", "acknowledged", "id"],
    ),
    ("sla_breaches", "sla_id", &["sla_id", "id"]),
    ("workflow_executions", "company_id", &["company_id", "id"]),
    (
        "workflow_executions",
        "company_status_id",
        &["company_id", "status", "id"],
    ),
    ("workflow_executions", "workflow_id", &["workflow_id", "id"]),
    ("workflow_simulations", "company_id", &["company_id", "id"]),
    (
        "workflow_suggestions",
        "company_status_id",
        &["company_id", "status", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(m, &INDEXES).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(m, &INDEXES).await
    }
}

/// Creates plain (non-unique) indexes, each named `ix_{table}_{name}`.
pub async fn create_indexes(
    m: &SchemaManager<'_>,
    list: &[(&'static str, &'static str, &'static [&'static str])],
) -> Result<(), DbErr> {
    for (table, name, cols) in list {
        m.create_index(index(table, name, cols, false)).await?;
    }
    Ok(())
}

/// Drops the indexes [`create_indexes`] made.
pub async fn drop_indexes(
    m: &SchemaManager<'_>,
    list: &[(&'static str, &'static str, &'static [&'static str])],
) -> Result<(), DbErr> {
    for (table, name, _) in list {
        m.drop_index(
            Index::drop()
                .name(format!("ix_{table}_{name}"))
                .table(Alias::new(*table))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

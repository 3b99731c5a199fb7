//! Indexes for the live board's reads: a company's newest breach event
//! (`slaBreachEventsHead`, and the replay after `afterSequence`), and an SLA's breaches by
//! detection time (`Sla.breachTimeline`).
use crate::m20261127_000001_initial::index;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000004_board_indexes"
    }
}

/// (table, name, columns)
const INDEXES: [(&str, &str, &[&str]); 2] = [
    ("sla_events", "company_seq", &["company_id", "seq"]),
    ("sla_breaches", "sla_detected", &["sla_id", "detected_at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, cols) in INDEXES {
            m.create_index(index(table, name, cols, false)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, _) in INDEXES {
            m.drop_index(
                Index::drop()
                    .name(format!("ix_{table}_{name}"))
                    .table(Alias::new(table))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

//! Indexes for the live board's reads: a company's newest breach event
//! (`slaBreachEventsHead`, and the replay after `afterSequence`), and an SLA's breaches by
//! detection time (`Sla.breachTimeline`).
use crate::m20261128_000001_list_indexes::{create_indexes, drop_indexes};
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
        create_indexes(m, &INDEXES).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(m, &INDEXES).await
    }
}

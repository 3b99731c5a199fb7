//! A breach's margin is measured against the threshold it crossed (a warning breach 1 s over
//! its warning threshold is 1 s over, not "−15 s" against a target it never reached). The
//! margin against the target is computed from the stored figures (`targetMarginSeconds`).
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000001_breach_margin_against_threshold"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "UPDATE sla_breaches SET breach_margin_seconds = actual_duration_seconds - threshold_seconds",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "UPDATE sla_breaches SET breach_margin_seconds = actual_duration_seconds - target_duration_seconds",
            )
            .await?;
        Ok(())
    }
}

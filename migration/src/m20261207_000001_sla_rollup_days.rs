//! A day grain for the SLO rollups (grain 3, one bucket per UTC day), so that a 30-day window
//! sums about 30 day buckets instead of 720 hour buckets. The days are summed from the hour
//! buckets already there, which count each execution exactly as the application did (its
//! calendar's time, less its pauses), so the backfill needs no executions.
use crate::m20261204_000001_sla_rollups::TABLE;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000001_sla_rollup_days"
    }
}

/// The rollups' grains from this migration on: (grain, seconds per bucket), finest first.
pub const GRAINS: [(i16, i64); 4] = [(2, 1), (0, 60), (1, 3600), (3, 86_400)];

/// Hour buckets per day bucket.
const HOURS: i64 = 24;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // Floor division, also for buckets before 1970.
        let day = format!("((bucket - ((bucket % {HOURS}) + {HOURS}) % {HOURS}) / {HOURS})");
        db.execute_unprepared(&format!("DELETE FROM {TABLE} WHERE grain = 3"))
            .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO {TABLE} (sla_id, company_id, grain, bucket, total, met, warning, critical) \
             SELECT sla_id, company_id, 3, {day}, SUM(total), SUM(met), SUM(warning), SUM(critical) \
             FROM {TABLE} WHERE grain = 1 GROUP BY sla_id, company_id, {day}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(&format!("DELETE FROM {TABLE} WHERE grain = 3"))
            .await?;
        Ok(())
    }
}

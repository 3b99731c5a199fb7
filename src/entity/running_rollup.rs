//! Per-workflow counts of the executions still running, by start time, at the SLO rollups'
//! grains; see the migration `m20261209_000001_running_rollups` and [`crate::sla::running`].
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "running_rollups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workflow_id: Uuid,
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub grain: i16,
    /// Seconds since the epoch of `started_at` divided by the grain's width, rounded down.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    /// Executions of the workflow started in the bucket, status running, not completed.
    pub running: i64,
    /// The row's shard of its key (see the migration `m20261210_000001_counter_shards`): on
    /// PostgreSQL concurrent writers add to different shards, and readers sum them; always 0
    /// on SQLite.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

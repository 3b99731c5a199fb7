//! Per-SLA counts of completed executions per minute (grain 0) and per hour (grain 1); see
//! the migration `m20261204_000001_sla_rollups`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_rollups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sla_id: Uuid,
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub grain: i16,
    /// Seconds since the epoch divided by the grain's width, rounded down.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    pub total: i64,
    pub met: i64,
    pub warning: i64,
    pub critical: i64,
    /// The row's shard of its key (see the migration `m20261210_000001_counter_shards`): on
    /// PostgreSQL concurrent writers add to different shards, and readers sum them; always 0
    /// on SQLite.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

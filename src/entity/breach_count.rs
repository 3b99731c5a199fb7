//! Breaches per (SLA, severity, acknowledged); see the migration
//! `m20261204_000002_breach_counts`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_breach_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sla_id: Uuid,
    pub company_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub severity: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub acknowledged: bool,
    pub n: i64,
    /// The row's shard of its key (see the migration `m20261210_000001_counter_shards`): on
    /// PostgreSQL concurrent writers add to different shards, and readers sum them; always 0
    /// on SQLite.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Breach events waiting to enter the log on PostgreSQL; see the migration
//! `m20261210_000001_counter_shards` and `crate::sla::event_log`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_event_queue")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub company_id: Uuid,
    pub breach_id: Uuid,
    pub kind: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "action_catalog")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    pub action_type: String,
    pub description: String,
    pub is_idempotent: bool,
    pub latency_class: String,
    pub side_effects: Json,
    pub input_schema: Option<Json>,
    pub output_schema: Option<Json>,
    pub execution_count: i64,
    pub success_count: i64,
    pub avg_execution_time_ms: f64,
    pub success_rate: f64,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

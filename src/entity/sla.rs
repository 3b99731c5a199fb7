use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_slas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub workflow_id: Uuid,
    pub name: String,
    pub description: String,
    pub target_duration_seconds: i64,
    pub warning_threshold_seconds: i64,
    pub critical_threshold_seconds: i64,
    pub slo_window_hours: i32,
    pub slo_target_percentage: f64,
    pub alert_recipients: Json,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_simulations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub workflow_id: Uuid,
    /// The workflow version simulated.
    pub workflow_version: Option<i32>,
    pub input_data: Json,
    pub status: String,
    pub execution_path: Json,
    pub branch_explorations: Json,
    pub approval_chain: Json,
    pub predicted_duration_ms: i64,
    pub predicted_duration_p95_ms: Option<i64>,
    pub forecast: Option<Json>,
    pub validation_errors: Json,
    pub warnings: Json,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

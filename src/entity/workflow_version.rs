use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One definition a workflow has had: version 1 at creation, one more with each change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub workflow_id: Uuid,
    pub version: i32,
    pub name: String,
    pub description: String,
    pub workflow_type: String,
    pub steps: Json,
    pub input_schema: Option<Json>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

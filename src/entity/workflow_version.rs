use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One definition a workflow has had: version 1 at creation, one more with each change.
#[derive(
    Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, async_graphql::SimpleObject,
)]
#[graphql(name = "WorkflowVersion", complex)]
#[sea_orm(table_name = "workflow_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub company_id: Uuid,
    #[graphql(skip)]
    pub workflow_id: Uuid,
    pub version: i32,
    pub name: String,
    pub description: String,
    #[graphql(skip)]
    pub workflow_type: String,
    pub steps: Json,
    pub input_schema: Option<Json>,
    #[graphql(skip)]
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    #[graphql(skip)]
    pub updated_at: DateTimeUtc,
}

no_relations!();

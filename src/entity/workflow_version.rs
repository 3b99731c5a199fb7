use sea_orm::entity::prelude::*;

api_object!(
    "WorkflowVersion",
    "workflow_versions",
    hidden(id),
    /// One definition a workflow has had: version 1 at creation, one more with each change.
    {
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
    }
);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

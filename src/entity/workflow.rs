use sea_orm::entity::prelude::*;

api_object!("Workflow", "workflows", {
    pub name: String,
    pub description: String,
    #[graphql(skip)]
    pub workflow_type: String,
    #[graphql(skip)]
    pub status: String,
    /// The steps: `[{name, action, approver?, conditions?, branches?, default_next?,
    /// max_iterations?, input?, description?, parallel?}]`. A `next_step` or `default_next` of
    /// `"$end"` ends the workflow; action `"gateway"` is a routing step (no time, no catalog
    /// entry); `parallel: {group, lane}` puts a step in a lane of a parallel group, which takes
    /// as long as its slowest lane.
    pub steps: Json,
    pub input_schema: Option<Json>,
    #[graphql(skip)]
    pub owner_id: Option<Uuid>,
    /// The current definition's number: 1 at creation, one more with each update that changes
    /// the name, description, type, steps or input schema.
    pub version: i32,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

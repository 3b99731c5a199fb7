use sea_orm::entity::prelude::*;

api_object!("Simulation", "workflow_simulations", {
    #[graphql(skip)]
    pub workflow_id: Uuid,
    /// The version of the workflow's definition simulated.
    pub workflow_version: Option<i32>,
    pub input_data: Json,
    #[graphql(skip)]
    pub status: String,
    #[graphql(skip)]
    pub execution_path: Json,
    #[graphql(skip)]
    pub branch_explorations: Json,
    #[graphql(skip)]
    pub approval_chain: Json,
    /// The predicted duration (p50).
    pub predicted_duration_ms: i64,
    /// The predicted p95 duration, when steps have history.
    pub predicted_duration_p95_ms: Option<i64>,
    #[graphql(skip)]
    pub forecast: Option<Json>,
    #[graphql(skip)]
    pub validation_errors: Json,
    #[graphql(skip)]
    pub warnings: Json,
    #[graphql(skip)]
    pub created_by: Option<Uuid>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

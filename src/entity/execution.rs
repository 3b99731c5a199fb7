use sea_orm::entity::prelude::*;

api_object!("Execution", "workflow_executions", hidden(created_at), {
    #[graphql(skip)]
    pub workflow_id: Uuid,
    /// The version of its workflow's definition it ran; null for executions recorded before
    /// versions were kept.
    pub workflow_version: Option<i32>,
    /// The host engine's id for this execution.
    pub external_id: Option<String>,
    #[graphql(skip)]
    pub status: String,
    pub input_data: Json,
    pub started_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

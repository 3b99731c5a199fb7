use sea_orm::entity::prelude::*;

api_object!("StepExecution", "step_executions", hidden(created_at), {
    #[graphql(skip)]
    pub execution_id: Uuid,
    /// The step's position in the workflow, when the name matches one of its steps.
    pub step_index: Option<i32>,
    pub step_name: String,
    pub action_type: Option<String>,
    #[graphql(skip)]
    pub status: String,
    pub started_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub approver: Option<String>,
    #[graphql(skip)]
    pub decision: Option<String>,
    pub error: Option<String>,
});

no_relations!();

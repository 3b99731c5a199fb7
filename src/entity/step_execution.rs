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
    /// From the start to the end of the run: handling time, unless `startInferred`.
    pub duration_ms: Option<i64>,
    /// True when the history recorded only the step's completion and its start was taken from
    /// the case's previous event: its duration then holds the waiting before it too.
    pub start_inferred: bool,
    pub approver: Option<String>,
    #[graphql(skip)]
    pub decision: Option<String>,
    pub error: Option<String>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

api_object!("SlaPause", "execution_pauses", hidden(id), {
    #[graphql(skip)]
    pub execution_id: Uuid,
    #[graphql(skip)]
    pub workflow_id: Uuid,
    pub paused_at: DateTimeUtc,
    /// Null while the pause lasts.
    pub resumed_at: Option<DateTimeUtc>,
    pub reason: String,
    /// The SLA whose pause condition made it; null: a pause of every SLA of the execution
    /// (`pauseExecutionSla`).
    #[graphql(skip)]
    pub sla_id: Option<Uuid>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

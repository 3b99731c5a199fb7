use sea_orm::entity::prelude::*;

api_object!("Action", "action_catalog", {
    pub name: String,
    /// The key workflow steps use to refer to this action.
    pub action_type: String,
    pub description: String,
    /// Whether running it twice has the same effect as running it once.
    pub is_idempotent: bool,
    #[graphql(skip)]
    pub latency_class: String,
    #[graphql(skip)]
    pub side_effects: Json,
    pub input_schema: Option<Json>,
    pub output_schema: Option<Json>,
    /// Runtime statistics, maintained from reported step executions (read-only).
    pub execution_count: i64,
    #[graphql(skip)]
    pub success_count: i64,
    pub avg_execution_time_ms: f64,
    /// Share of executions that succeeded, 0 to 1.
    pub success_rate: f64,
    pub is_active: bool,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

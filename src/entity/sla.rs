use sea_orm::entity::prelude::*;

api_object!("Sla", "workflow_slas", {
    #[graphql(skip)]
    pub workflow_id: Uuid,
    pub name: String,
    pub description: String,
    pub target_duration_seconds: i64,
    pub warning_threshold_seconds: i64,
    pub critical_threshold_seconds: i64,
    pub slo_window_hours: i32,
    pub slo_target_percentage: f64,
    #[graphql(skip)]
    pub alert_recipients: Json,
    pub is_active: bool,
    /// The ids of the alert channels (besides email) a breach is sent through.
    #[graphql(skip)]
    pub alert_channel_ids: Json,
    /// Escalation levels (`sla::escalation::Level`), in order.
    #[graphql(skip)]
    pub escalation: Json,
    /// The business-hours calendar its durations count by; none: wall-clock time.
    #[graphql(skip)]
    pub calendar_id: Option<Uuid>,
    /// A condition over the execution's input (the conditions language); null: every
    /// execution of the workflow.
    #[graphql(skip)]
    pub applies_when: Option<Json>,
    /// A condition over the execution's current step (and input) under which its clock stops;
    /// null: only `pauseExecutionSla` pauses it.
    #[graphql(skip)]
    pub pause_when: Option<Json>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

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
});

no_relations!();

use sea_orm::entity::prelude::*;

api_object!("SlaBreach", "sla_breaches", hidden(created_at), {
    #[graphql(skip)]
    pub sla_id: Uuid,
    #[graphql(skip)]
    pub execution_id: Uuid,
    #[graphql(skip)]
    pub severity: String,
    /// The threshold this breach crossed (the warning or the critical one).
    pub threshold_seconds: i64,
    /// Elapsed time when detected while running; the final duration once completed.
    pub actual_duration_seconds: f64,
    pub target_duration_seconds: f64,
    /// How far over the threshold this breach crossed: actual − threshold (see also
    /// `targetMarginSeconds`).
    pub breach_margin_seconds: f64,
    pub detected_at: DateTimeUtc,
    pub alert_sent: bool,
    pub alert_sent_at: Option<DateTimeUtc>,
    #[graphql(skip)]
    pub alert_recipients: Json,
    pub acknowledged: bool,
    #[graphql(skip)]
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub notes: String,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

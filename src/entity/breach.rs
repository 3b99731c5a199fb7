use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sla_breaches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub sla_id: Uuid,
    pub execution_id: Uuid,
    pub severity: String,
    pub threshold_seconds: i64,
    pub actual_duration_seconds: f64,
    pub target_duration_seconds: f64,
    pub breach_margin_seconds: f64,
    pub detected_at: DateTimeUtc,
    pub alert_sent: bool,
    pub alert_sent_at: Option<DateTimeUtc>,
    pub alert_recipients: Json,
    pub acknowledged: bool,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub notes: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! The catalog's Prometheus figures: runs of each action, their durations, its success rate.
use crate::AppState;
use crate::entity::action;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Counts and times one finished run of a catalog action, and sets its success-rate gauge.
pub async fn record_run(state: &AppState, company_id: Uuid, action_type: &str, duration_ms: i64) {
    let m = &state.metrics;
    let a = action::Entity::find()
        .filter(action::Column::CompanyId.eq(company_id))
        .filter(action::Column::ActionType.eq(action_type))
        .one(&state.db)
        .await
        .ok()
        .flatten();
    let latency = a
        .as_ref()
        .map(|a| a.latency_class.as_str())
        .unwrap_or("unknown");
    m.action_execution_total
        .with_label_values(&[action_type, latency])
        .inc();
    m.action_execution_duration_ms
        .with_label_values(&[action_type])
        .observe(duration_ms as f64);
    m.action_execution_duration_seconds
        .with_label_values(&[action_type])
        .observe(duration_ms as f64 / 1000.0);
    if let Some(a) = a {
        m.action_success_rate
            .with_label_values(&[action_type])
            .set(a.success_rate);
    }
}

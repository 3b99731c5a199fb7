//! What follows an SLA commit: breach metrics and SLO gauges, and (after a completion that
//! recorded breaches) the one wake-up of the event dispatcher and the mailer. The watcher wakes
//! them once per batch of live breaches itself.
use crate::AppState;
use crate::entity::{breach, execution, sla, workflow};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// After a live breach was recorded (and committed); the watcher wakes the stream once per
/// batch.
pub async fn after_breach(state: &AppState, b: &breach::Model, s: &sla::Model) {
    let name = match workflow::Entity::find_by_id(s.workflow_id)
        .one(&state.db)
        .await
    {
        Ok(Some(w)) => w.name,
        _ => String::new(),
    };
    state
        .metrics
        .workflow_sla_breach_total
        .with_label_values(&[b.severity.as_str(), name.as_str()])
        .inc();
}

/// What a completion's metrics are labelled with: its workflow's type and name.
#[derive(Clone, Debug, sea_orm::FromQueryResult)]
pub struct WorkflowLabels {
    pub workflow_type: String,
    pub name: String,
}

/// After an execution finished (and committed), with the breaches its completion recorded,
/// whether it brought live ones to their final figures (an event each), and its workflow's
/// labels (read with the execution).
pub async fn after_completion(
    state: &AppState,
    e: &execution::Model,
    slas: &[sla::Model],
    new: &[breach::Model],
    finalized: bool,
    workflow: Option<&WorkflowLabels>,
) {
    let (wtype, wname) = workflow
        .map(|w| (w.workflow_type.as_str(), w.name.as_str()))
        .unwrap_or(("unknown", ""));
    let m = &state.metrics;
    m.workflow_execution_total
        .with_label_values(&[wtype, e.status.as_str()])
        .inc();
    if let Some(d) = e.duration_ms {
        m.workflow_execution_duration_seconds
            .with_label_values(&[wtype])
            .observe(d as f64 / 1000.0);
    }
    for b in new {
        m.workflow_sla_breach_total
            .with_label_values(&[b.severity.as_str(), wname])
            .inc();
    }
    for s in slas {
        m.workflow_sla_target_seconds
            .with_label_values(&[wname, s.name.as_str()])
            .set(s.target_duration_seconds as f64);
    }
    if !new.is_empty() || finalized {
        state.sla.events_committed(&state.writer).await;
    }
}

/// Recomputes the SLO gauges (target and compliance of every active SLA), at most every 5 s;
/// called when /metrics is scraped.
pub async fn refresh_sla_gauges(state: &AppState) {
    {
        let mut last = state
            .gauges_refreshed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(5)) {
            return;
        }
        *last = Some(std::time::Instant::now());
    }
    let Ok(slas) = sla::Entity::find()
        .filter(sla::Column::IsActive.eq(true))
        .all(&state.db)
        .await
    else {
        return;
    };
    let names: std::collections::HashMap<Uuid, String> = workflow::Entity::find()
        .filter(workflow::Column::Id.is_in(slas.iter().map(|s| s.workflow_id)))
        .all(&state.db)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect();
    let now = state.clock.now();
    for s in &slas {
        let wname = names.get(&s.workflow_id).map(String::as_str).unwrap_or("");
        let m = &state.metrics;
        m.workflow_sla_target_seconds
            .with_label_values(&[wname, s.name.as_str()])
            .set(s.target_duration_seconds as f64);
        let r = super::service::slo_report(&state.db, s, s.slo_window_hours, now).await;
        if let Ok(r) = r {
            m.workflow_sla_percentage
                .with_label_values(&[wname, s.name.as_str()])
                .set(r.compliance_percentage);
        }
    }
}

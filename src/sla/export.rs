//! Breaches as CSV for a report: the caller's company's breaches that a filter selects, newest
//! first, read in chunks so that memory stays bounded by the chunk, not the history.
use super::Severity;
use super::figures;
use super::service::{BreachFilter, breaches};
use crate::auth::AuthContext;
use crate::entity::{breach, execution, sla, workflow};
use crate::error::{AppError, AppResult};
use crate::tenancy;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// Rows read per statement.
const CHUNK: u64 = 2_000;

pub const HEADER: [&str; 15] = [
    "breach_id",
    "detected_at",
    "severity",
    "sla",
    "workflow",
    "execution_id",
    "external_id",
    "threshold_seconds",
    "actual_duration_seconds",
    "breach_margin_seconds",
    "breach_margin_percentage",
    "target_margin_seconds",
    "acknowledged",
    "acknowledged_at",
    "notes",
];

/// The filter from a query string's `severity`, `slaId`, `workflowId` and `acknowledged`.
pub fn filter(q: &HashMap<String, String>) -> AppResult<BreachFilter> {
    let id = |k: &str, what: &str| -> AppResult<Option<Uuid>> {
        q.get(k)
            .filter(|v| !v.is_empty())
            .map(|v| {
                Uuid::parse_str(v)
                    .map_err(|_| AppError::bad(format!("{k}: {v:?} is not a {what} id")))
            })
            .transpose()
    };
    let severity =
        match q.get("severity").map(|s| s.to_ascii_lowercase()) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => Some(Severity::parse(&s).ok_or_else(|| {
                AppError::bad(format!("severity: {s:?} is not WARNING or CRITICAL"))
            })?),
        };
    let acknowledged = match q.get("acknowledged").map(String::as_str) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(AppError::bad(format!(
                "acknowledged: {v:?} is not true or false"
            )));
        }
    };
    Ok(BreachFilter {
        acknowledged,
        severity,
        sla_id: id("slaId", "SLA")?,
        workflow_id: id("workflowId", "workflow")?,
    })
}

/// The CSV text (RFC 4180, a header row first).
pub async fn breaches_csv(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    f: &BreachFilter,
) -> AppResult<Vec<u8>> {
    let slas: HashMap<Uuid, sla::Model> = tenancy::scoped::<sla::Entity>(auth)
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let workflows: HashMap<Uuid, String> = tenancy::scoped::<workflow::Entity>(auth)
        .select_only()
        .column(workflow::Column::Id)
        .column(workflow::Column::Name)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    out.write_record(HEADER).map_err(bad)?;
    let mut before: Option<Uuid> = None;
    loop {
        let mut q = breaches(auth, f)
            .order_by_desc(breach::Column::Id)
            .limit(CHUNK);
        if let Some(id) = before {
            q = q.filter(breach::Column::Id.lt(id));
        }
        let rows = q.all(db).await?;
        let Some(last) = rows.last() else { break };
        before = Some(last.id);
        let external = external_ids(db, auth, &rows).await?;
        for b in &rows {
            let s = slas.get(&b.sla_id);
            let wf = s.and_then(|s| workflows.get(&s.workflow_id));
            let m = figures::margins(b);
            out.write_record([
                b.id.to_string(),
                b.detected_at.to_rfc3339(),
                b.severity.to_ascii_uppercase(),
                s.map(|s| s.name.clone()).unwrap_or_default(),
                wf.cloned().unwrap_or_default(),
                b.execution_id.to_string(),
                external.get(&b.execution_id).cloned().unwrap_or_default(),
                b.threshold_seconds.to_string(),
                format!("{:.3}", b.actual_duration_seconds),
                format!("{:.3}", m.over_threshold_seconds),
                format!("{:.1}", m.over_threshold_percentage),
                format!("{:.3}", m.over_target_seconds),
                b.acknowledged.to_string(),
                b.acknowledged_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                b.notes.clone(),
            ])
            .map_err(bad)?;
        }
        if (rows.len() as u64) < CHUNK {
            break;
        }
    }
    out.into_inner()
        .map_err(|e| AppError::Internal(format!("writing CSV: {e}")))
}

async fn external_ids(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    rows: &[breach::Model],
) -> AppResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = rows.iter().map(|b| b.execution_id).collect();
    let found: Vec<(Uuid, Option<String>)> = tenancy::scoped::<execution::Entity>(auth)
        .select_only()
        .column(execution::Column::Id)
        .column(execution::Column::ExternalId)
        .filter(execution::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(id, x)| Some((id, x?)))
        .collect())
}

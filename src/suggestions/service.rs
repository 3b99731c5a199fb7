//! Loads history, runs the miners, stores suggestions (deduplicated by fingerprint) and runs
//! their lifecycle.
use super::miners::{self, CaseRec, Mined, StepRec, WorkflowHistory};
use super::{SuggestionSource, SuggestionStatus};
use crate::AppState;
use crate::auth::AuthContext;
use crate::entity::{action, execution, sla, step_execution, suggestion, workflow};
use crate::error::{AppError, AppResult};
use crate::model::{ApprovalDecision, ExecutionStatus};
use crate::tenancy;
use crate::workflows::steps::parse_steps;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Which history to mine: the last days, everything since a moment, or all of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Window {
    Days(i64),
    Since(chrono::DateTime<Utc>),
    All,
}

impl Window {
    /// Where the window starts (None: the beginning); BAD_USER_INPUT for a window that is
    /// empty by construction or starts outside the representable range of dates.
    pub fn start(self, now: chrono::DateTime<Utc>) -> AppResult<Option<chrono::DateTime<Utc>>> {
        match self {
            Window::All => Ok(None),
            Window::Since(t) if t > now => Err(AppError::bad(format!(
                "since: {t} is in the future, so the window holds nothing"
            ))),
            Window::Since(t) => Ok(Some(t)),
            Window::Days(d) if d <= 0 => Err(AppError::bad("days must be greater than 0")),
            Window::Days(days) => Duration::try_days(days)
                .and_then(|d| now.checked_sub_signed(d))
                .map(Some)
                .ok_or_else(|| {
                    AppError::bad(format!(
                        "days: {days} days before now is outside the representable range of \
                         dates; use all history instead"
                    ))
                }),
        }
    }
}

/// The whole history of the workflows a generation looked at, inside and outside its window.
#[derive(Clone, Debug, Default)]
pub struct Span {
    /// Finished executions, and those that started before the window.
    pub executions: u64,
    pub outside_window: u64,
    pub first_started_at: Option<chrono::DateTime<Utc>>,
    pub last_started_at: Option<chrono::DateTime<Utc>>,
}

/// How the company's finished executions (optionally of one workflow) sit against a window.
pub async fn span(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Option<Uuid>,
    since: Option<chrono::DateTime<Utc>>,
) -> AppResult<Span> {
    let mut q = execution::Entity::find()
        .select_only()
        .column_as(execution::Column::Id.count(), "n")
        .column_as(execution::Column::StartedAt.min(), "first")
        .column_as(execution::Column::StartedAt.max(), "last")
        .filter(execution::Column::CompanyId.eq(company_id))
        .filter(execution::Column::Status.ne(ExecutionStatus::Running.as_str()));
    if let Some(w) = workflow_id {
        q = q.filter(execution::Column::WorkflowId.eq(w));
    }
    type Row = (
        i64,
        Option<chrono::DateTime<Utc>>,
        Option<chrono::DateTime<Utc>>,
    );
    // With no window start nothing lies outside, and there is nothing to ask.
    let outside: Option<Row> = match since {
        Some(t) => {
            let before = q.clone().filter(execution::Column::StartedAt.lt(t));
            before.into_tuple().one(db).await?
        }
        None => None,
    };
    let all: Option<Row> = q.into_tuple().one(db).await?;
    let (n, first, last) = all.unwrap_or((0, None, None));
    Ok(Span {
        executions: n as u64,
        outside_window: outside.map_or(0, |r| r.0 as u64),
        first_started_at: first,
        last_started_at: last,
    })
}

/// The company's history since `since` (all of it for None; optionally one workflow).
pub async fn load_history(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    since: Option<chrono::DateTime<Utc>>,
    workflow_id: Option<Uuid>,
) -> AppResult<Vec<WorkflowHistory>> {
    let mut wq = workflow::Entity::find().filter(workflow::Column::CompanyId.eq(company_id));
    if let Some(w) = workflow_id {
        wq = wq.filter(workflow::Column::Id.eq(w));
    }
    let wfs = wq.all(db).await?;
    if workflow_id.is_some() && wfs.is_empty() {
        return Err(AppError::not_found(format!(
            "workflow {}",
            workflow_id.unwrap_or_default()
        )));
    }
    let mut out = Vec::new();
    for w in wfs {
        let execs = execution::Entity::find()
            .filter(execution::Column::CompanyId.eq(company_id))
            .filter(execution::Column::WorkflowId.eq(w.id))
            .apply_if(since, |q, t| q.filter(execution::Column::StartedAt.gte(t)))
            .filter(execution::Column::Status.ne(ExecutionStatus::Running.as_str()))
            .all(db)
            .await?;
        if execs.is_empty() {
            continue;
        }
        let mut steps: HashMap<Uuid, Vec<StepRec>> = HashMap::new();
        for chunk in execs.chunks(500) {
            for s in step_execution::Entity::find()
                .filter(step_execution::Column::CompanyId.eq(company_id))
                .filter(step_execution::Column::ExecutionId.is_in(chunk.iter().map(|e| e.id)))
                .all(db)
                .await?
            {
                steps.entry(s.execution_id).or_default().push(StepRec {
                    name: s.step_name,
                    action_type: s.action_type,
                    approver: s.approver,
                    decision: s.decision.as_deref().and_then(ApprovalDecision::parse),
                    duration_ms: s.duration_ms,
                    handling: !s.start_inferred,
                    failed: s.status == "failed",
                });
            }
        }
        let slas = sla::Entity::find()
            .filter(sla::Column::CompanyId.eq(company_id))
            .filter(sla::Column::WorkflowId.eq(w.id))
            .filter(sla::Column::IsActive.eq(true))
            .all(db)
            .await?;
        out.push(WorkflowHistory {
            id: w.id,
            name: w.name.clone(),
            steps: parse_steps(&w.steps).unwrap_or_default(),
            sla_targets: slas
                .into_iter()
                .map(|s| (s.name, s.target_duration_seconds))
                .collect(),
            cases: execs
                .into_iter()
                .map(|e| CaseRec {
                    id: e.id,
                    input: e.input_data.as_object().cloned().unwrap_or_default(),
                    duration_ms: e.duration_ms,
                    failed: e.status == ExecutionStatus::Failed.as_str(),
                    steps: steps.remove(&e.id).unwrap_or_default(),
                })
                .collect(),
        });
    }
    Ok(out)
}

pub struct Generated {
    pub created: Vec<suggestion::Model>,
    pub updated: usize,
    /// What the optional LLM pass did (None when it is not configured).
    pub llm: Option<super::llm::LlmReport>,
    /// The strongest decision rules that fell short of the bar.
    pub near_misses: Vec<miners::NearMiss>,
    /// The history against the window.
    pub span: Span,
}

/// Mines the history and stores what it finds. A pattern already suggested (same
/// fingerprint) is not suggested again; a pending one gets fresh figures.
pub async fn generate(
    state: &AppState,
    auth: &AuthContext,
    window: Window,
    min: usize,
    workflow_id: Option<Uuid>,
) -> AppResult<Generated> {
    let since = window.start(state.clock.now())?;
    if min == 0 {
        return Err(AppError::bad("minOccurrences must be at least 1"));
    }
    let db = &state.db;
    let history = load_history(db, auth.company_id, since, workflow_id).await?;
    let span = span(db, auth.company_id, workflow_id, since).await?;
    let idempotent: HashMap<String, bool> = action::Entity::find()
        .filter(action::Column::CompanyId.eq(auth.company_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.action_type, a.is_idempotent))
        .collect();
    let (mined, near_misses, history) = tokio::task::spawn_blocking(move || {
        let m = miners::mine(&history, &idempotent, min);
        let near = miners::near_misses(&history, min);
        (m, near, history)
    })
    .await
    .map_err(|e| AppError::Internal(format!("mining: {e}")))?;
    let mut g = store(state, auth, mined, SuggestionSource::Historical).await?;
    g.near_misses = near_misses;
    g.span = span;
    if let Some(cfg) = &state.config.llm() {
        let (found, report) = super::llm::review(cfg, &history).await;
        if report.status != "ok" {
            tracing::warn!(status = %report.status, message = %report.message, "the LLM pass did not complete");
        }
        let more = store(state, auth, found, SuggestionSource::Llm).await?;
        g.created.extend(more.created);
        g.updated += more.updated;
        g.llm = Some(report);
    }
    g.created
        .sort_by(|a, b| b.confidence_score.total_cmp(&a.confidence_score));
    Ok(g)
}

pub async fn store(
    state: &AppState,
    auth: &AuthContext,
    mined: Vec<Mined>,
    source: SuggestionSource,
) -> AppResult<Generated> {
    let db = &state.db;
    let mut created = Vec::new();
    let mut updated = 0;
    let now = state.clock.now();
    for m in mined {
        let existing = tenancy::scoped::<suggestion::Entity>(auth)
            .filter(suggestion::Column::Fingerprint.eq(m.fingerprint.as_str()))
            .one(db)
            .await?;
        match existing {
            Some(e) if e.status == SuggestionStatus::Pending.as_str() => {
                let mut am: suggestion::ActiveModel = e.into();
                am.confidence_score = Set(m.confidence);
                am.pattern_frequency = Set(m.frequency as i64);
                am.description = Set(m.description);
                am.evidence = Set(m.evidence);
                am.impact = Set(m.impact);
                am.updated_at = Set(now);
                am.update(db).await?;
                updated += 1;
            }
            Some(_) => {}
            None => {
                let row = suggestion::Model {
                    id: Uuid::now_v7(),
                    company_id: auth.company_id,
                    workflow_id: m.workflow_id,
                    title: m.title,
                    description: m.description,
                    source: source.as_str().into(),
                    suggestion_type: m.kind.as_str().into(),
                    confidence_score: m.confidence,
                    pattern_frequency: m.frequency as i64,
                    evidence: m.evidence,
                    proposed_change: m.proposed_change,
                    impact: m.impact,
                    fingerprint: m.fingerprint,
                    status: SuggestionStatus::Pending.as_str().into(),
                    reviewed_by: None,
                    reviewed_at: None,
                    review_notes: String::new(),
                    created_at: now,
                    updated_at: now,
                };
                let am: suggestion::ActiveModel = row.clone().into();
                suggestion::Entity::insert(am)
                    .exec_without_returning(db)
                    .await?;
                state
                    .metrics
                    .workflow_suggestion_total
                    .with_label_values(&[source.as_str(), "pending"])
                    .inc();
                state
                    .metrics
                    .workflow_suggestion_confidence
                    .with_label_values(&[source.as_str()])
                    .observe(row.confidence_score);
                created.push(row);
            }
        }
    }
    Ok(Generated {
        created,
        updated,
        llm: None,
        near_misses: Vec::new(),
        span: Span::default(),
    })
}

/// Moves a suggestion along pending → accepted | rejected, accepted → implemented. Anything
/// else is a CONFLICT.
pub async fn transition(
    state: &AppState,
    auth: &AuthContext,
    id: Uuid,
    to: SuggestionStatus,
    notes: Option<String>,
) -> AppResult<suggestion::Model> {
    let db = &state.db;
    let s = tenancy::get::<suggestion::Entity>(db, auth, id).await?;
    let from = SuggestionStatus::parse(&s.status)
        .ok_or_else(|| AppError::Internal("stored status".into()))?;
    let allowed = matches!(
        (from, to),
        (SuggestionStatus::Pending, SuggestionStatus::Accepted)
            | (SuggestionStatus::Pending, SuggestionStatus::Rejected)
            | (SuggestionStatus::Accepted, SuggestionStatus::Implemented)
    );
    if !allowed {
        return Err(AppError::conflict(format!(
            "a {} suggestion cannot become {}",
            from.as_str().to_uppercase(),
            to.as_str().to_uppercase()
        )));
    }
    let now = state.clock.now();
    let mut q = suggestion::Entity::update_many()
        .col_expr(suggestion::Column::Status, Expr::value(to.as_str()))
        .col_expr(suggestion::Column::ReviewedBy, Expr::value(auth.user_id))
        .col_expr(suggestion::Column::ReviewedAt, Expr::value(Some(now)))
        .col_expr(suggestion::Column::UpdatedAt, Expr::value(now));
    if let Some(n) = notes {
        q = q.col_expr(suggestion::Column::ReviewNotes, Expr::value(n));
    }
    let res = q
        .filter(suggestion::Column::Id.eq(s.id))
        .filter(suggestion::Column::Status.eq(from.as_str()))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::conflict("the suggestion changed concurrently"));
    }
    state
        .metrics
        .workflow_suggestion_total
        .with_label_values(&[s.source.as_str(), to.as_str()])
        .inc();
    tenancy::get::<suggestion::Entity>(db, auth, id).await
}

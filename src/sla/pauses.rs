//! Pausing and resuming an execution's SLA clocks. `pauseExecutionSla` and
//! `resumeExecutionSla` stop every SLA of the execution; an SLA's pause condition (`pauseWhen`,
//! checked as each step is recorded) stops that SLA's clock while a matching step runs. While
//! paused, no SLA time passes. A pause is a row; the deadlines are re-armed when a pause ends
//! (on the replica that owns the watcher), and the pauses are part of a breach's evidence.
use super::sla_time::Pause;
use crate::AppState;
use crate::auth::{AuthContext, CtxAuth};
use crate::entity::execution::Model as Execution;
use crate::entity::{execution, execution_pause, sla, step_execution};
use crate::error::{AppError, AppResult};
use crate::graphql_base::context::CtxExt;
use crate::ids::parse_id;
use crate::model::ExecutionStatus;
use crate::tenancy;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QueryTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

pub type SlaPause = execution_pause::Model;

#[ComplexObject]
impl SlaPause {
    /// The SLA whose pause condition made this pause; null: it pauses every SLA of the
    /// execution (`pauseExecutionSla`).
    async fn sla(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<super::graphql::Sla>>> {
        match self.sla_id {
            Some(id) => crate::graphql_base::loaders::one(&ctx.loaders()?.slas, id).await,
            None => Ok(None),
        }
    }
}

/// One pause of an execution: the SLA it stops (None: all of them) and when.
pub type Held = (Option<Uuid>, Pause);

/// The pauses that stop SLA `sla`'s clock, of an execution's `held` ones: sorted, and
/// overlapping ones merged (a manual pause during a condition's).
pub fn for_sla(held: Option<&Vec<Held>>, sla: Uuid) -> Vec<Pause> {
    super::sla_time::merge(
        held.into_iter()
            .flatten()
            .filter(|h| h.0.is_none_or(|s| s == sla))
            .map(|h| h.1)
            .collect(),
    )
}

/// The pauses of executions `ids`, each list in time order.
pub async fn of_executions(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, Vec<Held>>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut out: HashMap<Uuid, Vec<Held>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for p in execution_pause::Entity::find()
        .filter(execution_pause::Column::ExecutionId.is_in(ids))
        .order_by_asc(execution_pause::Column::PausedAt)
        .all(db)
        .await?
    {
        out.entry(p.execution_id)
            .or_default()
            .push((p.sla_id, (p.paused_at, p.resumed_at)));
    }
    Ok(out)
}

/// The statement that reads execution `id`'s pauses, whose rows [`held_of`] reads.
pub fn of_execution_statement(backend: sea_orm::DatabaseBackend, id: Uuid) -> sea_orm::Statement {
    execution_pause::Entity::find()
        .filter(execution_pause::Column::ExecutionId.eq(id))
        .build(backend)
}

/// The pauses of one execution, in time order.
pub async fn of_execution(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Vec<Held>> {
    Ok(of_executions(db, [id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

/// Whether any execution of workflow `w` was ever paused.
pub async fn any_in_workflow(db: &impl ConnectionTrait, w: Uuid) -> AppResult<bool> {
    Ok(execution_pause::Entity::find()
        .filter(execution_pause::Column::WorkflowId.eq(w))
        .one(db)
        .await?
        .is_some())
}

/// Ends every open pause of execution `id` at `at` (it completes while paused), and returns
/// all its pauses then, in time order. One statement: the pauses that had ended are rewritten
/// as they were, and every row comes back.
pub async fn close_open(
    db: &impl ConnectionTrait,
    id: Uuid,
    at: DateTime<Utc>,
) -> AppResult<Vec<Held>> {
    let rows = db
        .query_all_raw(close_open_statement(db.get_database_backend(), id, at))
        .await?;
    held_of(&rows)
}

/// The statement of [`close_open`], whose rows [`held_of`] reads.
pub fn close_open_statement(
    backend: sea_orm::DatabaseBackend,
    id: Uuid,
    at: DateTime<Utc>,
) -> sea_orm::Statement {
    use execution_pause::Column as C;
    use sea_orm::sea_query::{ExprTrait, Func};
    let ended = Func::coalesce([Expr::col(C::ResumedAt), Expr::value(Some(at))]);
    let touched = Expr::case(Expr::col(C::ResumedAt).is_null(), Expr::value(at))
        .finally(Expr::col(C::UpdatedAt));
    let mut q = execution_pause::Entity::update_many()
        .col_expr(C::ResumedAt, ended.into())
        .col_expr(C::UpdatedAt, touched.into())
        .filter(C::ExecutionId.eq(id))
        .into_query();
    q.returning_all();
    backend.build(&q)
}

/// An execution's pauses from rows of `execution_pauses`, in time order.
pub fn held_of(rows: &[sea_orm::QueryResult]) -> AppResult<Vec<Held>> {
    use sea_orm::FromQueryResult;
    let mut rows = rows
        .iter()
        .map(|r| execution_pause::Model::from_query_result(r, ""))
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort_by_key(|p| (p.paused_at, p.id));
    Ok(rows
        .into_iter()
        .map(|p| (p.sla_id, (p.paused_at, p.resumed_at)))
        .collect())
}

/// Ends execution `id`'s open pauses at `at`: those of `only`'s condition (Some(Some(sla))),
/// the manual one (Some(None)), or all (None).
async fn close(
    db: &impl ConnectionTrait,
    id: Uuid,
    at: DateTime<Utc>,
    only: Option<Option<Uuid>>,
) -> AppResult<()> {
    let q = execution_pause::Entity::update_many()
        .col_expr(execution_pause::Column::ResumedAt, Expr::value(Some(at)))
        .col_expr(execution_pause::Column::UpdatedAt, Expr::value(at))
        .filter(execution_pause::Column::ExecutionId.eq(id))
        .filter(execution_pause::Column::ResumedAt.is_null());
    let q = match only {
        None => q,
        Some(None) => q.filter(execution_pause::Column::SlaId.is_null()),
        Some(Some(s)) => q.filter(execution_pause::Column::SlaId.eq(s)),
    };
    q.exec(db).await?;
    Ok(())
}

/// Whether execution `id` has an open manual pause (`pauseExecutionSla`).
async fn manually_paused(db: &impl ConnectionTrait, id: Uuid) -> AppResult<bool> {
    Ok(of_execution(db, id)
        .await?
        .iter()
        .any(|(sla, (_, end))| sla.is_none() && end.is_none()))
}

/// Records a pause of execution `e` from `from` (to `to`, None while it lasts): of every SLA
/// (`sla` None) or of one.
async fn insert(
    db: &impl ConnectionTrait,
    e: &execution::Model,
    sla: Option<Uuid>,
    (from, to): Pause,
    reason: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let p = execution_pause::Model {
        id: Uuid::now_v7(),
        company_id: e.company_id,
        execution_id: e.id,
        workflow_id: e.workflow_id,
        paused_at: from,
        resumed_at: to,
        reason,
        sla_id: sla,
        created_at: now,
        updated_at: now,
    };
    execution_pause::Entity::insert(p.into_active_model())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What a pause condition is checked against: the recorded step and the execution's input.
pub fn step_document(step: &step_execution::Model, input: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "step": {
            "name": step.step_name,
            "actionType": step.action_type,
            "approver": step.approver,
        },
        "input": input,
    })
}

/// Applies the pause conditions of SLAs `slas` (of running execution `e`) to step run `step`,
/// just recorded, inside its transaction. A step that matches pauses the SLA from its start to
/// its end (open while it runs); a step that does not match, started after an open pause began,
/// ends it at its start (the current step moved on). Returns whether any pause ended or was
/// recorded whole: the deadlines then move, to be armed again after the commit.
pub async fn on_step(
    db: &impl ConnectionTrait,
    e: &execution::Model,
    slas: &[sla::Model],
    step: &step_execution::Model,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let conds: Vec<(Uuid, crate::conditions::Cond)> = slas
        .iter()
        .filter(|s| super::service::applies(s, &e.input_data))
        .filter_map(|s| Some((s.id, crate::conditions::parse(s.pause_when.as_ref()?).ok()?)))
        .collect();
    if conds.is_empty() {
        return Ok(false);
    }
    let doc = step_document(step, &e.input_data);
    let open: HashMap<Uuid, DateTime<Utc>> = of_execution(db, e.id)
        .await?
        .into_iter()
        .filter_map(|(sla, (from, to))| Some((sla?, from)).filter(|_| to.is_none()))
        .collect();
    let (start, end) = (step.started_at, step.completed_at);
    let reason = format!("step \"{}\" (pause condition)", step.step_name);
    let mut moved = false;
    for (sla, cond) in conds {
        let o = open.get(&sla).copied();
        match (cond.matches(&doc), end, o) {
            (true, None, None) => {
                insert(db, e, Some(sla), (start, None), reason.clone(), now).await?
            }
            (true, Some(end), Some(from)) if end >= from => {
                close(db, e.id, end, Some(Some(sla))).await?;
                moved = true;
            }
            (true, Some(end), None) if end > start => {
                insert(db, e, Some(sla), (start, Some(end)), reason.clone(), now).await?;
                moved = true;
            }
            (false, _, Some(from)) if start >= from => {
                close(db, e.id, start, Some(Some(sla))).await?;
                moved = true;
            }
            _ => {}
        }
    }
    Ok(moved)
}

async fn running(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
) -> AppResult<execution::Model> {
    let e = tenancy::get::<execution::Entity>(db, auth, id).await?;
    if e.status != ExecutionStatus::Running.as_str() {
        return Err(AppError::conflict(format!(
            "execution {id} is {}: only a running execution's SLA clock can pause or resume",
            e.status.to_ascii_uppercase()
        )));
    }
    Ok(e)
}

pub async fn pause(
    state: &AppState,
    auth: &AuthContext,
    id: Uuid,
    reason: String,
) -> AppResult<execution::Model> {
    let txn = crate::db::begin_write(&state.writer).await?;
    let e = running(&txn, auth, id).await?;
    if manually_paused(&txn, id).await? {
        return Err(AppError::conflict(format!(
            "execution {id}'s SLA clock is already paused"
        )));
    }
    let now = state.clock.now();
    insert(&txn, &e, None, (now, None), reason, now).await?;
    txn.commit().await?;
    Ok(e)
}

pub async fn resume(state: &AppState, auth: &AuthContext, id: Uuid) -> AppResult<execution::Model> {
    let txn = crate::db::begin_write(&state.writer).await?;
    let e = running(&txn, auth, id).await?;
    if !manually_paused(&txn, id).await? {
        return Err(AppError::conflict(format!(
            "execution {id}'s SLA clock is not paused"
        )));
    }
    close(&txn, id, state.clock.now(), Some(None)).await?;
    let slas = super::service::active_for_workflow(&txn, e.company_id, e.workflow_id).await?;
    txn.commit().await?;
    // The deadlines move by the pause: armed again once the resume is committed (a deadline
    // that fired before would still see the pause open and be dropped). The watcher's copy is
    // the earliest; each is checked against the pauses when it fires.
    state.sla.execution_started(&state.db, &e, &slas).await?;
    Ok(e)
}

#[derive(InputObject)]
pub struct PauseExecutionSlaInput {
    pub execution_id: ID,
    /// Why: "waiting for the customer".
    #[graphql(default)]
    pub reason: String,
}

#[derive(InputObject)]
pub struct ResumeExecutionSlaInput {
    pub execution_id: ID,
}

#[derive(SimpleObject)]
pub struct ExecutionSlaPayload {
    pub execution: Execution,
}

#[derive(Default)]
pub struct PauseMutation;

#[Object]
impl PauseMutation {
    /// Stops the SLA clocks of a running execution until it is resumed (or completes).
    async fn pause_execution_sla(
        &self,
        ctx: &Context<'_>,
        input: PauseExecutionSlaInput,
    ) -> Result<ExecutionSlaPayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.execution_id, "execution")?;
        let e = pause(ctx.state()?, auth, id, input.reason).await?;
        Ok(ExecutionSlaPayload { execution: e })
    }

    /// Starts the SLA clocks again; the deadlines move by the time paused.
    async fn resume_execution_sla(
        &self,
        ctx: &Context<'_>,
        input: ResumeExecutionSlaInput,
    ) -> Result<ExecutionSlaPayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.execution_id, "execution")?;
        let e = resume(ctx.state()?, auth, id).await?;
        Ok(ExecutionSlaPayload { execution: e })
    }
}

/// An execution's pauses: all of them (`Execution.slaPauses`), or those that stopped one SLA's
/// clock, its own and the manual ones (`SlaBreach.pauses`, `sla` Some).
pub async fn listed(
    ctx: &Context<'_>,
    execution_id: Uuid,
    company_id: Uuid,
    sla: Option<Uuid>,
) -> Result<Vec<SlaPause>> {
    let mut q = execution_pause::Entity::find()
        .filter(execution_pause::Column::ExecutionId.eq(execution_id))
        .filter(execution_pause::Column::CompanyId.eq(company_id));
    if let Some(s) = sla {
        q = q.filter(
            sea_orm::Condition::any()
                .add(execution_pause::Column::SlaId.is_null())
                .add(execution_pause::Column::SlaId.eq(s)),
        );
    }
    Ok(q.order_by_asc(execution_pause::Column::PausedAt)
        .all(&ctx.state()?.db)
        .await
        .map_err(AppError::from)?)
}

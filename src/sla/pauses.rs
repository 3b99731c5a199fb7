//! Pausing and resuming an execution's SLA clocks (`pauseExecutionSla`,
//! `resumeExecutionSla`): while paused, no SLA time passes for it, on any of its SLAs. A pause
//! is a row; the deadlines are re-armed on resume (on the replica that owns the watcher), and
//! the pauses are part of a breach's evidence.
use super::sla_time::Pause;
use crate::AppState;
use crate::auth::{AuthContext, CtxAuth};
use crate::entity::{execution, execution_pause};
use crate::error::{AppError, AppResult};
use crate::executions::objects::Execution;
use crate::graphql::context::CtxExt;
use crate::ids::parse_id;
use crate::model::ExecutionStatus;
use crate::tenancy;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use std::collections::HashMap;
use uuid::Uuid;

pub type SlaPause = execution_pause::Model;

#[ComplexObject]
impl SlaPause {}

/// The pauses of executions `ids`, each list in time order.
pub async fn of_executions(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, Vec<Pause>>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut out: HashMap<Uuid, Vec<Pause>> = HashMap::new();
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
            .push((p.paused_at, p.resumed_at));
    }
    Ok(out)
}

/// The pauses of one execution, in time order.
pub async fn of_execution(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Vec<Pause>> {
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

/// Ends an open pause at `at` (an execution that completes while paused).
pub async fn close_open(db: &impl ConnectionTrait, id: Uuid, at: DateTime<Utc>) -> AppResult<()> {
    execution_pause::Entity::update_many()
        .col_expr(execution_pause::Column::ResumedAt, Expr::value(Some(at)))
        .col_expr(execution_pause::Column::UpdatedAt, Expr::value(at))
        .filter(execution_pause::Column::ExecutionId.eq(id))
        .filter(execution_pause::Column::ResumedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
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
    if of_execution(&txn, id).await?.iter().any(|p| p.1.is_none()) {
        return Err(AppError::conflict(format!(
            "execution {id}'s SLA clock is already paused"
        )));
    }
    let now = state.clock.now();
    let p = execution_pause::Model {
        id: Uuid::now_v7(),
        company_id: e.company_id,
        execution_id: id,
        workflow_id: e.workflow_id,
        paused_at: now,
        resumed_at: None,
        reason,
        created_at: now,
        updated_at: now,
    };
    execution_pause::Entity::insert(p.into_active_model())
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(e)
}

pub async fn resume(state: &AppState, auth: &AuthContext, id: Uuid) -> AppResult<execution::Model> {
    let txn = crate::db::begin_write(&state.writer).await?;
    let e = running(&txn, auth, id).await?;
    if !of_execution(&txn, id).await?.iter().any(|p| p.1.is_none()) {
        return Err(AppError::conflict(format!(
            "execution {id}'s SLA clock is not paused"
        )));
    }
    close_open(&txn, id, state.clock.now()).await?;
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

/// An execution's pauses (the `Execution.slaPauses` and `SlaBreach.pauses` fields).
pub async fn listed(
    ctx: &Context<'_>,
    execution_id: Uuid,
    company_id: Uuid,
) -> Result<Vec<SlaPause>> {
    Ok(execution_pause::Entity::find()
        .filter(execution_pause::Column::ExecutionId.eq(execution_id))
        .filter(execution_pause::Column::CompanyId.eq(company_id))
        .order_by_asc(execution_pause::Column::PausedAt)
        .all(&ctx.state()?.db)
        .await
        .map_err(AppError::from)?)
}

//! Executions' part of the schema: the reporting API and its queries.
use super::objects::{Execution, StepExecution};
use super::service::{
    self as executions, CompleteArgs, ImportExecution, ImportStep, StartArgs, StepArgs,
};
use crate::auth::CtxAuth;
use crate::entity::execution;
use crate::error::AppError;
use crate::graphql::context::CtxExt;
use crate::graphql::pagination::{Page, paginate};
use crate::ids::parse_id;
use crate::model::{ApprovalDecision, ExecutionStatus, FinalStatus, StepRunStatus};
use crate::tenancy;
use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::Value;

#[derive(InputObject, Default)]
pub struct ExecutionFilterInput {
    pub workflow_id: Option<ID>,
    pub status: Option<ExecutionStatus>,
    pub external_id: Option<String>,
}

#[derive(Default)]
pub struct ExecutionQuery;

#[Object]
impl ExecutionQuery {
    async fn executions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ExecutionFilterInput>,
    ) -> Result<Page<Execution>> {
        let auth = ctx.auth()?;
        let f = filter.unwrap_or_default();
        let mut q = tenancy::scoped::<execution::Entity>(auth);
        if let Some(w) = &f.workflow_id {
            q = q.filter(execution::Column::WorkflowId.eq(parse_id(w, "workflow")?));
        }
        if let Some(s) = f.status {
            q = q.filter(execution::Column::Status.eq(s.as_str()));
        }
        if let Some(x) = f.external_id {
            q = q.filter(execution::Column::ExternalId.eq(x));
        }
        let db = &ctx.state()?.db;
        Ok(paginate(db, q, execution::Column::Id, first, after, |m| (m.id, m)).await?)
    }

    async fn execution(&self, ctx: &Context<'_>, id: ID) -> Result<Execution> {
        let auth = ctx.auth()?;
        let id = parse_id(&id, "execution")?;
        Ok(tenancy::get::<execution::Entity>(&ctx.state()?.db, auth, id).await?)
    }
}

#[derive(InputObject)]
pub struct StartExecutionInput {
    pub workflow_id: ID,
    #[graphql(default_with = "Json(serde_json::json!({}))")]
    pub input_data: Json<Value>,
    /// Defaults to now.
    pub started_at: Option<DateTime<Utc>>,
    /// The host engine's id; starting again with a known one returns the existing execution.
    pub external_id: Option<String>,
}

#[derive(InputObject)]
pub struct RecordStepInput {
    pub execution_id: ID,
    pub step_name: String,
    pub status: StepRunStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub approver: Option<String>,
    pub decision: Option<ApprovalDecision>,
    pub error: Option<String>,
}

#[derive(InputObject)]
pub struct CompleteExecutionInput {
    pub execution_id: ID,
    pub status: FinalStatus,
    /// Defaults to now.
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

#[derive(InputObject)]
pub struct ImportStepInput {
    pub step_name: String,
    pub status: StepRunStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub approver: Option<String>,
    pub decision: Option<ApprovalDecision>,
    pub error: Option<String>,
}

#[derive(InputObject)]
pub struct ImportExecutionInput {
    pub workflow_id: ID,
    pub external_id: String,
    #[graphql(default_with = "Json(serde_json::json!({}))")]
    pub input_data: Json<Value>,
    pub status: ExecutionStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    #[graphql(default)]
    pub steps: Vec<ImportStepInput>,
}

#[derive(InputObject)]
pub struct ImportExecutionsInput {
    /// At most 10,000, imported in one transaction; known externalIds are skipped.
    pub executions: Vec<ImportExecutionInput>,
}

#[derive(SimpleObject)]
pub struct ExecutionPayload {
    pub execution: Execution,
}

#[derive(SimpleObject)]
pub struct RecordStepPayload {
    pub step: StepExecution,
}

#[derive(SimpleObject)]
pub struct ImportExecutionsPayload {
    pub imported: i32,
    /// Already known by externalId.
    pub skipped: i32,
    /// Breaches the imported durations crossed.
    pub breaches: i32,
}

#[derive(Default)]
pub struct ExecutionMutation;

#[Object]
impl ExecutionMutation {
    async fn start_execution(
        &self,
        ctx: &Context<'_>,
        input: StartExecutionInput,
    ) -> Result<ExecutionPayload> {
        let auth = ctx.writer()?;
        let args = StartArgs {
            workflow_id: parse_id(&input.workflow_id, "workflow")?,
            input_data: input.input_data.0,
            started_at: input.started_at,
            external_id: input.external_id,
        };
        let m = executions::start(ctx.state()?, auth, args).await?;
        Ok(ExecutionPayload { execution: m })
    }

    async fn record_step(
        &self,
        ctx: &Context<'_>,
        input: RecordStepInput,
    ) -> Result<RecordStepPayload> {
        let auth = ctx.writer()?;
        let args = StepArgs {
            execution_id: parse_id(&input.execution_id, "execution")?,
            step_name: input.step_name,
            status: input.status,
            started_at: input.started_at,
            completed_at: input.completed_at,
            approver: input.approver,
            decision: input.decision,
            error: input.error,
        };
        let m = executions::record_step(ctx.state()?, auth, args).await?;
        Ok(RecordStepPayload { step: m })
    }

    async fn complete_execution(
        &self,
        ctx: &Context<'_>,
        input: CompleteExecutionInput,
    ) -> Result<ExecutionPayload> {
        let auth = ctx.writer()?;
        let args = CompleteArgs {
            execution_id: parse_id(&input.execution_id, "execution")?,
            status: input.status,
            completed_at: input.completed_at,
            error: input.error,
        };
        let m = executions::complete(ctx.state()?, auth, args).await?;
        Ok(ExecutionPayload { execution: m })
    }

    async fn import_executions(
        &self,
        ctx: &Context<'_>,
        input: ImportExecutionsInput,
    ) -> Result<ImportExecutionsPayload> {
        let auth = ctx.writer()?;
        let mut items = Vec::with_capacity(input.executions.len());
        for (i, e) in input.executions.into_iter().enumerate() {
            let workflow_id = parse_id(&e.workflow_id, "workflow").map_err(|_| {
                AppError::not_found(format!(
                    "executions[{i}]: workflow {}",
                    e.workflow_id.as_str()
                ))
            })?;
            items.push(ImportExecution {
                workflow_id,
                external_id: e.external_id,
                input_data: e.input_data.0,
                status: e.status,
                started_at: e.started_at,
                completed_at: e.completed_at,
                error: e.error,
                steps: e
                    .steps
                    .into_iter()
                    .map(|s| ImportStep {
                        step_name: s.step_name,
                        status: s.status,
                        started_at: s.started_at,
                        completed_at: s.completed_at,
                        approver: s.approver,
                        decision: s.decision,
                        error: s.error,
                    })
                    .collect(),
            });
        }
        let r = executions::import(ctx.state()?, auth, items).await?;
        Ok(ImportExecutionsPayload {
            imported: r.imported as i32,
            skipped: r.skipped as i32,
            breaches: r.breaches as i32,
        })
    }
}

//! Executions' part of the schema: the reporting API and its queries.
use super::objects::{Execution, StepExecution};
use super::service::{
    self as executions, Completion, ExecutionRecord, ImportExecution, Start, StepRun,
};
use crate::auth::CtxAuth;
use crate::entity::execution;
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::pagination::{Page, paginate};
use crate::ids::parse_id;
use crate::model::ExecutionStatus;
use crate::tenancy;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use sea_orm::{ColumnTrait, QueryFilter};

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
        Ok(paginate(db, q, first, after).await?)
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
    #[graphql(flatten)]
    pub start: Start,
}

#[derive(InputObject)]
pub struct RecordStepInput {
    pub execution_id: ID,
    #[graphql(flatten)]
    pub step: StepRun,
}

#[derive(InputObject)]
pub struct CompleteExecutionInput {
    pub execution_id: ID,
    #[graphql(flatten)]
    pub completion: Completion,
}

#[derive(InputObject)]
pub struct ImportExecutionInput {
    pub workflow_id: ID,
    #[graphql(flatten)]
    pub record: ExecutionRecord,
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
        let workflow_id = parse_id(&input.workflow_id, "workflow")?;
        let m = executions::start(ctx.state()?, auth, workflow_id, input.start).await?;
        Ok(ExecutionPayload { execution: m })
    }

    async fn record_step(
        &self,
        ctx: &Context<'_>,
        input: RecordStepInput,
    ) -> Result<RecordStepPayload> {
        let auth = ctx.writer()?;
        let execution_id = parse_id(&input.execution_id, "execution")?;
        let m = executions::record_step(ctx.state()?, auth, execution_id, input.step).await?;
        Ok(RecordStepPayload { step: m })
    }

    async fn complete_execution(
        &self,
        ctx: &Context<'_>,
        input: CompleteExecutionInput,
    ) -> Result<ExecutionPayload> {
        let auth = ctx.writer()?;
        let execution_id = parse_id(&input.execution_id, "execution")?;
        let m = executions::complete(ctx.state()?, auth, execution_id, input.completion).await?;
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
                record: e.record,
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

//! The executions the API returns (`Execution`, `StepExecution`): object types that the SLA
//! room's breaches and the Node interface reference.
use crate::entity::{execution, step_execution};
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::loaders;
use crate::model::StepRunStatus;
use crate::model::{ApprovalDecision, ExecutionStatus, stored};
use crate::workflows::objects::Workflow;
use async_graphql::{ComplexObject, Context, Result};
use std::sync::Arc;

pub type Execution = execution::Model;

#[ComplexObject]
impl Execution {
    async fn workflow(&self, ctx: &Context<'_>) -> Result<Option<Arc<Workflow>>> {
        loaders::one(&ctx.loaders()?.workflows, self.workflow_id).await
    }
    async fn status(&self) -> Result<ExecutionStatus> {
        Ok(stored(ExecutionStatus::parse, &self.status)?)
    }
    /// When its SLA clocks were paused, in order: by `pauseExecutionSla` (every SLA; `sla`
    /// null) or by an SLA's pause condition (that SLA only).
    async fn sla_pauses(&self, ctx: &Context<'_>) -> Result<Vec<crate::sla::pauses::SlaPause>> {
        crate::sla::pauses::listed(ctx, self.id, self.company_id, None).await
    }
    /// Reported steps, in start order.
    async fn steps(&self, ctx: &Context<'_>) -> Result<Vec<StepExecution>> {
        let s = ctx
            .loaders()?
            .steps
            .load_one(self.id)
            .await
            .map_err(AppError::from)?;
        Ok(s.unwrap_or_default())
    }
}

pub type StepExecution = step_execution::Model;

#[ComplexObject]
impl StepExecution {
    async fn status(&self) -> Result<StepRunStatus> {
        Ok(stored(StepRunStatus::parse, &self.status)?)
    }
    async fn decision(&self) -> Result<Option<ApprovalDecision>> {
        Ok(match &self.decision {
            Some(d) => Some(stored(ApprovalDecision::parse, d)?),
            None => None,
        })
    }
}

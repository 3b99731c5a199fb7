//! The executions the API returns (`Execution`, `StepExecution`): object types that the SLA
//! room's breaches and the Node interface reference.
use crate::entity::{execution, step_execution};
use crate::error::AppError;
use crate::graphql::context::CtxExt;
use crate::model::StepRunStatus;
use crate::model::{ApprovalDecision, ExecutionStatus, stored};
use crate::workflows::objects::Workflow;
use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct Execution(pub execution::Model);

#[Object]
impl Execution {
    pub async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn workflow(&self, ctx: &Context<'_>) -> Result<Option<Workflow>> {
        let w = ctx
            .loaders()?
            .workflows
            .load_one(self.0.workflow_id)
            .await
            .map_err(AppError::from)?;
        Ok(w.map(Workflow))
    }
    /// The host engine's id for this execution.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    async fn status(&self) -> Result<ExecutionStatus> {
        Ok(stored(ExecutionStatus::parse, &self.0.status)?)
    }
    async fn input_data(&self) -> Json<Value> {
        Json(self.0.input_data.clone())
    }
    /// The version of its workflow's definition it ran; null for executions recorded before
    /// versions were kept.
    async fn workflow_version(&self) -> Option<i32> {
        self.0.workflow_version
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Reported steps, in start order.
    async fn steps(&self, ctx: &Context<'_>) -> Result<Vec<StepExecution>> {
        let s = ctx
            .loaders()?
            .steps
            .load_one(self.0.id)
            .await
            .map_err(AppError::from)?;
        Ok(s.unwrap_or_default()
            .into_iter()
            .map(StepExecution)
            .collect())
    }
}

pub struct StepExecution(pub step_execution::Model);

#[Object]
impl StepExecution {
    pub async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn step_name(&self) -> &str {
        &self.0.step_name
    }
    /// The step's position in the workflow, when the name matches one of its steps.
    async fn step_index(&self) -> Option<i32> {
        self.0.step_index
    }
    async fn action_type(&self) -> Option<&str> {
        self.0.action_type.as_deref()
    }
    async fn status(&self) -> Result<StepRunStatus> {
        Ok(stored(StepRunStatus::parse, &self.0.status)?)
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }
    async fn approver(&self) -> Option<&str> {
        self.0.approver.as_deref()
    }
    async fn decision(&self) -> Result<Option<ApprovalDecision>> {
        Ok(match &self.0.decision {
            Some(d) => Some(stored(ApprovalDecision::parse, d)?),
            None => None,
        })
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

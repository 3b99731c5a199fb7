//! The workflows the API returns (`Workflow`, `WorkflowVersion`): object types that other
//! rooms (executions, SLAs, simulations, suggestions, templates) reference.
use super::flows::StepFlow;
use super::step_stats::StepStats;
use super::steps::action_types;
use crate::auth::CtxAuth;
use crate::catalog::objects::Action;
use crate::entity::{workflow, workflow_version};
use crate::error::AppError;
use crate::graphql::context::CtxExt;
use crate::graphql::types::User;
use crate::model::{WorkflowStatus, WorkflowType, stored};
use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct Workflow(pub workflow::Model);

#[Object]
impl Workflow {
    pub async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn workflow_type(&self) -> Result<WorkflowType> {
        Ok(stored(WorkflowType::parse, &self.0.workflow_type)?)
    }
    async fn status(&self) -> Result<WorkflowStatus> {
        Ok(stored(WorkflowStatus::parse, &self.0.status)?)
    }
    /// The steps: `[{name, action, approver?, conditions?, branches?, default_next?,
    /// max_iterations?, input?, description?, parallel?}]`. A `next_step` or `default_next` of
    /// `"$end"` ends the workflow; action `"gateway"` is a routing step (no time, no catalog
    /// entry); `parallel: {group, lane}` puts a step in a lane of a parallel group, which takes
    /// as long as its slowest lane.
    async fn steps(&self) -> Json<Value> {
        Json(self.0.steps.clone())
    }
    async fn input_schema(&self) -> Option<Json<Value>> {
        self.0.input_schema.clone().map(Json)
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::types::user_by_id(ctx, self.0.owner_id).await
    }
    /// The catalog actions its steps use (in first-use order; types missing from the catalog
    /// are left out).
    async fn actions(&self, ctx: &Context<'_>) -> Result<Vec<Action>> {
        let types = action_types(&self.0.steps);
        let mut found = ctx
            .loaders()?
            .actions
            .load_many(types.iter().cloned())
            .await
            .map_err(crate::error::AppError::from)?;
        Ok(types
            .iter()
            .filter_map(|t| found.remove(t))
            .map(Action)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The current definition's number: 1 at creation, one more with each update that changes
    /// the name, description, type, steps or input schema.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Every definition it has had, oldest first (the last is the current one).
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowVersion>> {
        let auth = ctx.auth()?;
        let all = super::versions::list(&ctx.state()?.db, auth, self.0.id).await?;
        Ok(all.into_iter().map(WorkflowVersion).collect())
    }
    /// The flows between its steps, as the simulator routes them: branches, the next step,
    /// skips of conditional steps, and the lanes of parallel groups. `"$end"` is the end.
    async fn step_flows(&self) -> Result<Vec<StepFlow>> {
        let c = super::steps::compile(&self.0.steps).map_err(AppError::Internal)?;
        Ok(super::flows::flows(&c))
    }
    /// Each step's recorded runs (executions started in the last `days`, or all of them):
    /// count, p50 and p95 duration, and its share of the breached executions' time. Steps of
    /// the definition come first, in order, then any other step names the history holds.
    async fn step_stats(&self, ctx: &Context<'_>, days: Option<i32>) -> Result<Vec<StepStats>> {
        let auth = ctx.auth()?;
        let st = ctx.state()?;
        if days.is_some_and(|d| !(1..=36_600).contains(&d)) {
            return Err(AppError::bad("days must be between 1 and 36600").into());
        }
        let since = days.map(|d| st.clock.now() - chrono::Duration::days(d as i64));
        let order = super::steps::step_names(&self.0.steps);
        Ok(super::step_stats::load(&st.db, auth.company_id, self.0.id, since, &order).await?)
    }
}

/// One definition a workflow has had.
pub struct WorkflowVersion(pub workflow_version::Model);

#[Object]
impl WorkflowVersion {
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn workflow_type(&self) -> Result<WorkflowType> {
        Ok(stored(WorkflowType::parse, &self.0.workflow_type)?)
    }
    async fn steps(&self) -> Json<Value> {
        Json(self.0.steps.clone())
    }
    async fn input_schema(&self) -> Option<Json<Value>> {
        self.0.input_schema.clone().map(Json)
    }
    /// Who saved it; null for command-line work.
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        crate::graphql::types::user_by_id(ctx, self.0.created_by).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

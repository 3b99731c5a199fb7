//! The workflows the API returns (`Workflow`, `WorkflowVersion`): object types that other
//! rooms (executions, SLAs, simulations, suggestions, templates) reference.
use super::flows::StepFlow;
use super::step_stats::StepStats;
use super::steps::action_types;
use crate::auth::CtxAuth;
use crate::catalog::objects::Action;
use crate::entity::{workflow, workflow_version};
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::types::User;
use crate::model::{WorkflowStatus, WorkflowType, stored};
use async_graphql::{ComplexObject, Context, Result};
use chrono::{DateTime, Utc};

pub type Workflow = workflow::Model;

#[ComplexObject]
impl Workflow {
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    async fn workflow_type(&self) -> Result<WorkflowType> {
        Ok(stored(WorkflowType::parse, &self.workflow_type)?)
    }
    async fn status(&self) -> Result<WorkflowStatus> {
        Ok(stored(WorkflowStatus::parse, &self.status)?)
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<User>>> {
        crate::graphql_base::types::user_by_id(ctx, self.owner_id).await
    }
    /// The catalog actions its steps use (in first-use order; types missing from the catalog
    /// are left out).
    async fn actions(&self, ctx: &Context<'_>) -> Result<Vec<Action>> {
        let types = action_types(&self.steps);
        let mut found = ctx
            .loaders()?
            .actions
            .load_many(types.iter().cloned())
            .await
            .map_err(crate::error::AppError::from)?;
        Ok(types.iter().filter_map(|t| found.remove(t)).collect())
    }
    /// Every definition it has had, oldest first (the last is the current one).
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowVersion>> {
        let auth = ctx.auth()?;
        Ok(super::versions::list(&ctx.state()?.db, auth, self.id).await?)
    }
    /// The flows between its steps, as the simulator routes them: branches, the next step,
    /// skips of conditional steps, and the lanes of parallel groups. `"$end"` is the end.
    async fn step_flows(&self) -> Result<Vec<StepFlow>> {
        let c = super::steps::compile(&self.steps).map_err(AppError::Internal)?;
        Ok(super::flows::flows(&c))
    }
    /// Its steps against its history: the newest completed executions (at most 50,000), their
    /// recorded step runs replayed on the steps by token-based replay. Fitness, precision
    /// (escaping edges) and fitting cases as pm4py computes them, and the steps that most
    /// often deviate.
    async fn conformance(
        &self,
        ctx: &Context<'_>,
    ) -> Result<super::conformance::WorkflowConformance> {
        let auth = ctx.auth()?;
        let c = super::steps::compile(&self.steps).map_err(AppError::Internal)?;
        Ok(super::conformance::load(&ctx.state()?.db, auth.company_id, self.id, &c).await?)
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
        let order = super::steps::step_names(&self.steps);
        Ok(super::step_stats::load(&st.db, auth.company_id, self.id, since, &order).await?)
    }
}

/// One definition a workflow has had.
pub type WorkflowVersion = workflow_version::Model;

#[ComplexObject]
impl WorkflowVersion {
    async fn workflow_type(&self) -> Result<WorkflowType> {
        Ok(stored(WorkflowType::parse, &self.workflow_type)?)
    }
    /// Who saved it; null for command-line work.
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<User>>> {
        crate::graphql_base::types::user_by_id(ctx, self.created_by).await
    }
}

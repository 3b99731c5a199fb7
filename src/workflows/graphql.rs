//! Workflows' part of the schema.
use super::flows::StepFlow;
use super::service::{self, WorkflowFields, WorkflowFilter};
use super::step_stats::StepStats;
use super::steps::action_types;
use super::versions::WorkflowDiff;
use crate::auth::CtxAuth;
use crate::catalog::graphql::{Action, DeletePayload};
use crate::entity::{workflow, workflow_version};
use crate::error::AppError;
use crate::graphql::pagination::{Page, paginate};
use crate::graphql::{CtxExt, User};
use crate::ids::parse_id;
use crate::model::{WorkflowStatus, WorkflowType, stored};
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject};
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
        crate::graphql::user_by_id(ctx, self.0.owner_id).await
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
        let order: Vec<String> = self
            .0
            .steps
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
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
        crate::graphql::user_by_id(ctx, self.0.created_by).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject, Default)]
pub struct WorkflowFilterInput {
    pub status: Option<WorkflowStatus>,
    pub workflow_type: Option<WorkflowType>,
    pub owner_id: Option<ID>,
    /// Matches names containing this text.
    pub search: Option<String>,
}

#[derive(Default)]
pub struct WorkflowQuery;

#[Object]
impl WorkflowQuery {
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<WorkflowFilterInput>,
    ) -> Result<Page<Workflow>> {
        let auth = ctx.auth()?;
        let f = filter.unwrap_or_default();
        let owner_id = match f.owner_id {
            Some(o) => Some(parse_id(&o, "user")?),
            None => None,
        };
        let q = service::filtered(
            auth,
            &WorkflowFilter {
                status: f.status,
                workflow_type: f.workflow_type,
                owner_id,
                search: f.search,
            },
        );
        let db = &ctx.state()?.db;
        Ok(paginate(db, q, workflow::Column::Id, first, after, |m| {
            (m.id, Workflow(m))
        })
        .await?)
    }

    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Workflow> {
        let auth = ctx.auth()?;
        let id = parse_id(&id, "workflow")?;
        Ok(Workflow(service::get(&ctx.state()?.db, auth, id).await?))
    }

    /// What changed from one version of a workflow to another: steps added, removed and
    /// changed (by name), the other fields that differ, and whether the change breaks (a
    /// removed step, or changed conditions or branches), as for template diffs.
    async fn workflow_version_diff(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        from_version: i32,
        to_version: i32,
    ) -> Result<WorkflowDiff> {
        let auth = ctx.auth()?;
        let id = parse_id(&workflow_id, "workflow")?;
        let db = &ctx.state()?.db;
        let a = super::versions::get(db, auth, id, from_version).await?;
        let b = super::versions::get(db, auth, id, to_version).await?;
        Ok(super::versions::diff(&a, &b))
    }
}

#[derive(InputObject)]
pub struct CreateWorkflowInput {
    pub name: String,
    pub description: Option<String>,
    #[graphql(default_with = "WorkflowType::Custom")]
    pub workflow_type: WorkflowType,
    /// A list of step objects; see `Workflow.steps`.
    pub steps: Json<Value>,
    pub input_schema: Option<Json<Value>>,
    /// Defaults to the caller.
    pub owner_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateWorkflowInput {
    pub id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub workflow_type: Option<WorkflowType>,
    pub status: Option<WorkflowStatus>,
    pub steps: Option<Json<Value>>,
    /// `null` removes the schema; leaving the field out keeps it.
    pub input_schema: MaybeUndefined<Json<Value>>,
    pub owner_id: Option<ID>,
}

#[derive(InputObject)]
pub struct DeleteWorkflowInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct ActivateWorkflowInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct WorkflowPayload {
    pub workflow: Workflow,
}

#[derive(Default)]
pub struct WorkflowMutation;

#[Object]
impl WorkflowMutation {
    async fn create_workflow(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkflowInput,
    ) -> Result<WorkflowPayload> {
        let auth = ctx.writer()?;
        let owner_id = match &input.owner_id {
            Some(o) => Some(parse_id(o, "user")?),
            None => None,
        };
        let f = WorkflowFields {
            name: Some(input.name),
            description: input.description,
            workflow_type: Some(input.workflow_type),
            status: None,
            steps: Some(input.steps.0),
            input_schema: Some(input.input_schema.map(|j| j.0)),
            owner_id,
        };
        let m = service::create(&ctx.state()?.writer, auth, f).await?;
        Ok(WorkflowPayload {
            workflow: Workflow(m),
        })
    }

    async fn update_workflow(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkflowInput,
    ) -> Result<WorkflowPayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "workflow")?;
        let owner_id = match &input.owner_id {
            Some(o) => Some(parse_id(o, "user")?),
            None => None,
        };
        let f = WorkflowFields {
            name: input.name,
            description: input.description,
            workflow_type: input.workflow_type,
            status: input.status,
            steps: input.steps.map(|j| j.0),
            input_schema: match input.input_schema {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(j) => Some(Some(j.0)),
            },
            owner_id,
        };
        let m = service::update(&ctx.state()?.writer, auth, id, f).await?;
        Ok(WorkflowPayload {
            workflow: Workflow(m),
        })
    }

    async fn delete_workflow(
        &self,
        ctx: &Context<'_>,
        input: DeleteWorkflowInput,
    ) -> Result<DeletePayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "workflow")?;
        service::delete(&ctx.state()?.db, auth, id).await?;
        Ok(DeletePayload {
            deleted_id: input.id,
        })
    }

    async fn activate_workflow(
        &self,
        ctx: &Context<'_>,
        input: ActivateWorkflowInput,
    ) -> Result<WorkflowPayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "workflow")?;
        let m = service::activate(&ctx.state()?.db, auth, id).await?;
        Ok(WorkflowPayload {
            workflow: Workflow(m),
        })
    }
}

//! Workflows' part of the schema.
use super::objects::Workflow;
use super::service::{self, WorkflowFields, WorkflowFilter};
use super::versions::WorkflowDiff;
use crate::auth::CtxAuth;
use crate::entity::workflow;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::pagination::{Page, paginate};
use crate::graphql_base::types::DeletePayload;
use crate::ids::parse_id;
use crate::model::{WorkflowStatus, WorkflowType};
use crate::tenancy;
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject};
use serde_json::Value;

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
        Ok(paginate(db, q, first, after).await?)
    }

    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Workflow> {
        let auth = ctx.auth()?;
        let id = parse_id(&id, "workflow")?;
        Ok(tenancy::get::<workflow::Entity>(&ctx.state()?.db, auth, id).await?)
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
        let m = service::create(&ctx.state()?.writer, auth, f, ctx.state()?.clock.now()).await?;
        Ok(WorkflowPayload { workflow: m })
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
        let m =
            service::update(&ctx.state()?.writer, auth, id, f, ctx.state()?.clock.now()).await?;
        Ok(WorkflowPayload { workflow: m })
    }

    async fn delete_workflow(
        &self,
        ctx: &Context<'_>,
        input: DeleteWorkflowInput,
    ) -> Result<DeletePayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "workflow")?;
        tenancy::delete::<workflow::Entity>(&ctx.state()?.db, auth, id).await?;
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
        let m = service::activate(&ctx.state()?.db, auth, id, ctx.state()?.clock.now()).await?;
        Ok(WorkflowPayload { workflow: m })
    }
}

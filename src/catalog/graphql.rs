//! The catalog's part of the schema.
use super::objects::Action;
use super::schema::SchemaViolation;
use super::service::{self, ActionFields, ActionFilter};
use crate::auth::CtxAuth;
use crate::entity::action;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::pagination::{Page, paginate};
use crate::graphql_base::types::DeletePayload;
use crate::ids::parse_id;
use crate::model::LatencyClass;
use crate::tenancy;
use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use serde_json::Value;

/// An action that workflow steps can run.
#[derive(InputObject, Default)]
pub struct ActionFilterInput {
    pub action_type: Option<String>,
    pub latency_class: Option<LatencyClass>,
    pub is_active: Option<bool>,
    /// Matches names containing this text.
    pub search: Option<String>,
}

#[derive(SimpleObject)]
pub struct InputValidation {
    pub valid: bool,
    pub errors: Vec<SchemaViolation>,
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// The caller's catalog, in creation order.
    async fn actions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ActionFilterInput>,
    ) -> Result<Page<Action>> {
        let auth = ctx.auth()?;
        let f = filter.unwrap_or_default();
        let q = service::filtered(
            auth,
            &ActionFilter {
                action_type: f.action_type,
                latency_class: f.latency_class,
                is_active: f.is_active,
                search: f.search,
            },
        );
        let db = &ctx.state()?.db;
        Ok(paginate(db, q, first, after).await?)
    }

    async fn action(&self, ctx: &Context<'_>, id: ID) -> Result<Action> {
        let auth = ctx.auth()?;
        let id = parse_id(&id, "action")?;
        Ok(tenancy::get::<action::Entity>(&ctx.state()?.db, auth, id).await?)
    }

    /// Checks an input document against the action's `inputSchema`, listing every violation
    /// with its JSON pointer.
    async fn validate_action_input(
        &self,
        ctx: &Context<'_>,
        action_type: String,
        input: Json<Value>,
    ) -> Result<InputValidation> {
        let auth = ctx.auth()?;
        let errors =
            service::validate_input(&ctx.state()?.db, auth, &action_type, &input.0).await?;
        Ok(InputValidation {
            valid: errors.is_empty(),
            errors,
        })
    }
}

#[derive(InputObject)]
pub struct CreateActionInput {
    pub name: String,
    pub action_type: String,
    pub description: Option<String>,
    #[graphql(default = false)]
    pub is_idempotent: bool,
    #[graphql(default_with = "LatencyClass::Medium")]
    pub latency_class: LatencyClass,
    #[graphql(default)]
    pub side_effects: Vec<String>,
    pub input_schema: Option<Json<Value>>,
    pub output_schema: Option<Json<Value>>,
    #[graphql(default = true)]
    pub is_active: bool,
}

#[derive(InputObject)]
pub struct UpdateActionInput {
    pub id: ID,
    #[graphql(flatten)]
    pub fields: ActionFields,
}

#[derive(InputObject)]
pub struct DeleteActionInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct ActionPayload {
    pub action: Action,
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    async fn create_action(
        &self,
        ctx: &Context<'_>,
        input: CreateActionInput,
    ) -> Result<ActionPayload> {
        let auth = ctx.writer()?;
        let fields = ActionFields {
            name: Some(input.name),
            action_type: Some(input.action_type),
            description: input.description,
            is_idempotent: Some(input.is_idempotent),
            latency_class: Some(input.latency_class),
            side_effects: Some(input.side_effects),
            input_schema: Some(input.input_schema.map(|j| j.0)).into(),
            output_schema: Some(input.output_schema.map(|j| j.0)).into(),
            is_active: Some(input.is_active),
        };
        let m = service::create(&ctx.state()?.db, auth, fields, ctx.state()?.clock.now()).await?;
        Ok(ActionPayload { action: m })
    }

    async fn update_action(
        &self,
        ctx: &Context<'_>,
        input: UpdateActionInput,
    ) -> Result<ActionPayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "action")?;
        let m = service::update(
            &ctx.state()?.db,
            auth,
            id,
            input.fields,
            ctx.state()?.clock.now(),
        )
        .await?;
        Ok(ActionPayload { action: m })
    }

    async fn delete_action(
        &self,
        ctx: &Context<'_>,
        input: DeleteActionInput,
    ) -> Result<DeletePayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "action")?;
        tenancy::delete::<action::Entity>(&ctx.state()?.db, auth, id).await?;
        Ok(DeletePayload {
            deleted_id: input.id,
        })
    }
}

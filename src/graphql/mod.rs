//! Schema assembly: MergedObject roots, limits, per-request context (caller, loaders),
//! pagination and the metrics extension.
pub mod extension;
pub mod http;
pub mod limits;
pub mod loaders;
pub mod node;
pub mod pagination;
pub mod persisted;
pub mod tokens;
pub mod ws;

use crate::AppState;
use crate::auth::AuthState;
use crate::error::{AppError, AppResult};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Context, MergedObject, Schema, SchemaBuilder};
use std::sync::Arc;

#[derive(MergedObject, Default)]
pub struct Query(
    crate::catalog::graphql::CatalogQuery,
    crate::workflows::graphql::WorkflowQuery,
    crate::simulation::graphql::SimulationQuery,
    crate::workflows::execution_graphql::ExecutionQuery,
    crate::sla::graphql::SlaQuery,
    crate::templates::graphql::TemplateQuery,
    crate::suggestions::graphql::SuggestionQuery,
    tokens::TokenQuery,
    node::NodeQuery,
    MetaQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    crate::catalog::graphql::CatalogMutation,
    crate::workflows::graphql::WorkflowMutation,
    crate::simulation::graphql::SimulationMutation,
    crate::workflows::execution_graphql::ExecutionMutation,
    crate::sla::graphql::SlaMutation,
    crate::templates::graphql::TemplateMutation,
    crate::suggestions::graphql::SuggestionMutation,
    tokens::TokenMutation,
);

#[derive(async_graphql::MergedSubscription, Default)]
pub struct Subscription(crate::sla::graphql::SlaSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_recursive_depth(32)
    .limit_directives(16)
}

pub fn build_schema(state: Arc<AppState>) -> AppSchema {
    builder()
        .extension(extension::MetricsExtension(state.metrics.clone()))
        .extension(limits::LimitsExtension(state.config.limits.clone()))
        .data(state)
        .finish()
}

/// The SDL, without needing a database.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The types of the operations a request may run: the named one, or every operation of the
/// document when none is named. Empty when the document does not parse.
pub fn operation_types(query: &str, operation_name: Option<&str>) -> Vec<OperationType> {
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return Vec::new();
    };
    match &doc.operations {
        DocumentOperations::Single(op) => vec![op.node.ty],
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| operation_name.is_none_or(|n| n == name.as_str()))
            .map(|(_, op)| op.node.ty)
            .collect(),
    }
}

/// Per-request helpers for resolvers.
pub trait CtxExt {
    fn state(&self) -> AppResult<&Arc<AppState>>;
    fn loaders(&self) -> AppResult<&loaders::Loaders>;
}

impl CtxExt for Context<'_> {
    fn state(&self) -> AppResult<&Arc<AppState>> {
        self.data::<Arc<AppState>>()
            .map_err(|_| AppError::Internal("application state missing from schema".into()))
    }

    fn loaders(&self) -> AppResult<&loaders::Loaders> {
        match self.data_opt::<loaders::Loaders>() {
            Some(l) => Ok(l),
            None => match self.data_opt::<AuthState>() {
                Some(AuthState::User(_)) => Err(AppError::Internal("data loaders missing".into())),
                _ => Err(AppError::Unauthenticated),
            },
        }
    }
}

/// The caller and their company.
#[derive(async_graphql::SimpleObject)]
pub struct Viewer {
    pub user_id: async_graphql::ID,
    pub company_id: async_graphql::ID,
    pub email: String,
    pub role: crate::model::Role,
}

#[derive(Default)]
pub struct MetaQuery;

#[async_graphql::Object]
impl MetaQuery {
    /// Who the token belongs to.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        use crate::auth::CtxAuth;
        let a = ctx.auth()?;
        Ok(Viewer {
            user_id: a.user_id.unwrap_or_default().into(),
            company_id: a.company_id.into(),
            email: a.email.clone(),
            role: a.role,
        })
    }
}

/// A person in the caller's company.
pub struct User(pub crate::entity::user::Model);

/// The user with this id, through the request's loader: None for no id, or for an id outside
/// the caller's company.
pub async fn user_by_id(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<User>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let u = ctx
        .loaders()?
        .users
        .load_one(id)
        .await
        .map_err(AppError::from)?;
    Ok(u.map(User))
}

#[async_graphql::Object]
impl User {
    pub async fn id(&self) -> async_graphql::ID {
        self.0.id.into()
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> async_graphql::Result<crate::model::Role> {
        Ok(crate::model::stored(
            crate::model::Role::parse,
            &self.0.role,
        )?)
    }
}

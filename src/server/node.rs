//! Relay's object identification: every object with an id implements `Node`, and
//! `node(id:)` and `nodes(ids:)` refetch any of them by id alone.
//!
//! Ids are the stored UUIDs. They are unique across every type (v7 UUIDs), so they need no
//! type prefix, and they are the same ids that exports, the CLI and the REST export carry: a
//! client can cache by id and refetch later. Lookups are scoped to the caller's company:
//! another company's id answers null, exactly like an unknown one (and API tokens only to
//! admins, as in `apiTokens`).
use crate::auth::CtxAuth;
use crate::catalog::objects::Action;
use crate::entity::{
    action, api_token, breach, execution, simulation, sla, step_execution, suggestion, template,
    user, workflow,
};
use crate::error::AppError;
use crate::executions::objects::{Execution, StepExecution};
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::tokens::ApiToken;
use crate::graphql_base::types::User;
use crate::model::Role;
use crate::simulation::graphql::Simulation;
use crate::sla::graphql::{Sla, SlaBreach};
use crate::suggestions::graphql::Suggestion;
use crate::templates::graphql::ProcessTemplate;
use crate::workflows::objects::Workflow;
use async_graphql::{Context, ID, Interface, Object, Result};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

/// Most ids one `nodes` call may ask for.
pub const MAX_NODES: usize = 100;

/// An object that can be refetched by its id with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Globally unique, stable and opaque."))]
pub enum Node {
    Workflow(Workflow),
    Execution(Execution),
    StepExecution(StepExecution),
    Sla(Sla),
    SlaBreach(SlaBreach),
    Action(Action),
    ProcessTemplate(ProcessTemplate),
    Suggestion(Suggestion),
    Simulation(Simulation),
    User(User),
    ApiToken(ApiToken),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this id, of any type; null when there is none in your company (or,
    /// for templates, in the marketplace).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(fetch(ctx, std::slice::from_ref(&id)).await?.pop().flatten())
    }

    /// The objects with these ids, in the same order; null where there is none in your
    /// company (or, for templates, in the marketplace). At most 100 ids.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::BadInput(format!(
                "nodes takes at most {MAX_NODES} ids, got {}",
                ids.len()
            ))
            .into());
        }
        fetch(ctx, &ids).await
    }
}

/// Loads each table in turn (one query per table, only while ids remain unfound).
async fn fetch(ctx: &Context<'_>, ids: &[ID]) -> Result<Vec<Option<Node>>> {
    let a = ctx.auth()?;
    let db = &ctx.state()?.db;
    let mut out: Vec<Option<Node>> = ids.iter().map(|_| None).collect();
    let mut wanted: HashMap<Uuid, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Ok(u) = Uuid::parse_str(id) {
            wanted.entry(u).or_default().push(i);
        }
    }
    macro_rules! load {
        ($entity:ident, $variant:ident) => {
            if !wanted.is_empty() {
                let rows = $entity::Entity::find()
                    .filter($entity::Column::CompanyId.eq(a.company_id))
                    .filter($entity::Column::Id.is_in(wanted.keys().copied()))
                    .all(db)
                    .await
                    .map_err(AppError::from)?;
                for m in rows {
                    for pos in wanted.remove(&m.id).unwrap_or_default() {
                        out[pos] = Some(Node::$variant(m.clone()));
                    }
                }
            }
        };
    }
    load!(workflow, Workflow);
    load!(execution, Execution);
    load!(sla, Sla);
    load!(breach, SlaBreach);
    load!(action, Action);
    load!(template, ProcessTemplate);
    if !wanted.is_empty() {
        // Other companies' public templates are readable too (the marketplace).
        let public = template::Entity::find()
            .filter(template::Column::IsPublic.eq(true))
            .filter(template::Column::Id.is_in(wanted.keys().copied()))
            .all(db)
            .await
            .map_err(AppError::from)?;
        for m in public {
            for pos in wanted.remove(&m.id).unwrap_or_default() {
                out[pos] = Some(Node::ProcessTemplate(m.clone()));
            }
        }
    }
    load!(suggestion, Suggestion);
    load!(simulation, Simulation);
    load!(step_execution, StepExecution);
    load!(user, User);
    if a.role == Role::Admin {
        load!(api_token, ApiToken);
    }
    Ok(out)
}

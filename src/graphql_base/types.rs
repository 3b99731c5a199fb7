//! Types every room shares: the caller (`viewer`), users, and the payload of a deletion.
use super::context::CtxExt;
use super::loaders;
use crate::entity::user;
use async_graphql::{Context, ID, SimpleObject};

/// What a delete mutation returns: the id that no longer exists.
#[derive(SimpleObject)]
pub struct DeletePayload {
    pub deleted_id: ID,
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
pub type User = user::Model;

/// The user with this id, through the request's loader: None for no id, or for an id outside
/// the caller's company.
pub async fn user_by_id(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<std::sync::Arc<User>>> {
    let Some(id) = id else {
        return Ok(None);
    };
    loaders::one(&ctx.loaders()?.users, id).await
}

#[async_graphql::ComplexObject]
impl User {
    async fn role(&self) -> async_graphql::Result<crate::model::Role> {
        Ok(crate::model::stored(crate::model::Role::parse, &self.role)?)
    }
}

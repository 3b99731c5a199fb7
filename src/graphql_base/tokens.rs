//! API tokens in the schema: admins list their company's tokens and revoke them.
use super::context::CtxExt;
use super::pagination::{Page, paginate};
use super::types::User;
use crate::auth::{self, CtxAuth};
use crate::entity::api_token;
use crate::ids::parse_id;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// An API token (never its secret: only its hash is stored).
pub type ApiToken = api_token::Model;

#[ComplexObject]
impl ApiToken {
    /// Whose requests the token makes.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<User>>> {
        super::types::user_by_id(ctx, Some(self.user_id)).await
    }
    async fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// The company's API tokens, oldest first (admins only).
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<ApiToken>> {
        let a = ctx.auth()?;
        a.require_admin()?;
        let q = api_token::Entity::find().filter(api_token::Column::CompanyId.eq(a.company_id));
        let db = &ctx.state()?.db;
        Ok(paginate(db, q, first, after).await?)
    }
}

#[derive(InputObject)]
pub struct RevokeApiTokenInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiTokenPayload {
    pub api_token: ApiToken,
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Revokes a token of the company (admins only). It stops working at once on this
    /// replica, and within `TOKEN_CACHE_SECONDS` on every other; WebSockets opened with it are
    /// closed with 4403. Revoking it again is a CONFLICT.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiTokenInput,
    ) -> Result<RevokeApiTokenPayload> {
        let a = ctx.auth()?;
        a.require_admin()?;
        let st = ctx.state()?;
        let id = parse_id(&input.id, "token")?;
        let t = auth::revoke_token(&st.db, a.company_id, id, st.clock.now()).await?;
        st.tokens.forget(&t.token_hash).await;
        Ok(RevokeApiTokenPayload { api_token: t })
    }
}

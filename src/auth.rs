//! API tokens, roles and the tenant context every resolver receives.
//!
//! A token is `wi_` followed by 64 hex digits (32 random bytes). Only its SHA-256 is stored,
//! so a database leak does not leak usable tokens.
use crate::entity::{api_token, company, user};
use crate::error::{AppError, AppResult};
use crate::model::Role;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Who is calling: always derived from the token, never from input.
#[derive(Clone, Debug)]
pub struct AuthContext {
    pub company_id: Uuid,
    /// The token's user; None for work done from the command line, which is attributed to no
    /// one rather than to an invented user (who would then receive every alert email).
    pub user_id: Option<Uuid>,
    pub email: String,
    pub role: Role,
}

impl AuthContext {
    /// The caller for command-line work on a company's data: an admin without a user.
    pub fn command_line(company_id: Uuid) -> Self {
        AuthContext {
            company_id,
            user_id: None,
            email: "command line".into(),
            role: Role::Admin,
        }
    }

    /// Mutations need an admin or an editor.
    pub fn require_writer(&self) -> AppResult<()> {
        match self.role {
            Role::Admin | Role::Editor => Ok(()),
            Role::Viewer => Err(AppError::Forbidden(
                "viewers may read but not change anything".into(),
            )),
        }
    }

    pub fn require_admin(&self) -> AppResult<()> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(AppError::Forbidden("this needs an admin token".into())),
        }
    }
}

/// The authentication outcome of one request or WebSocket connection.
#[derive(Clone, Debug)]
pub enum AuthState {
    Anonymous,
    Invalid,
    User(AuthContext),
}

impl AuthState {
    pub fn context(&self) -> AppResult<&AuthContext> {
        match self {
            AuthState::User(a) => Ok(a),
            _ => Err(AppError::Unauthenticated),
        }
    }
}

/// Access to the caller from inside a resolver.
pub trait CtxAuth {
    fn auth(&self) -> AppResult<&AuthContext>;
    /// The caller, who must be allowed to write.
    fn writer(&self) -> AppResult<&AuthContext> {
        let a = self.auth()?;
        a.require_writer()?;
        Ok(a)
    }
}

impl CtxAuth for async_graphql::Context<'_> {
    fn auth(&self) -> AppResult<&AuthContext> {
        match self.data_opt::<AuthState>() {
            Some(s) => s.context(),
            None => Err(AppError::Unauthenticated),
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("wi_{}", hex::encode(bytes))
}

/// Extracts the token from an `Authorization` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let v = value.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// Resolves a bearer token to the caller (one query; see [`TokenCache`]).
pub async fn authenticate(db: &impl ConnectionTrait, token: &str) -> AppResult<AuthState> {
    authenticate_hash(db, hash_token(token)).await
}

async fn authenticate_hash(db: &impl ConnectionTrait, hash: String) -> AppResult<AuthState> {
    let Some((tok, u)) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash))
        .filter(api_token::Column::RevokedAt.is_null())
        .find_also_related(user::Entity)
        .one(db)
        .await?
    else {
        return Ok(AuthState::Invalid);
    };
    let Some(u) = u else {
        return Ok(AuthState::Invalid);
    };
    if !u.is_active || u.company_id != tok.company_id {
        return Ok(AuthState::Invalid);
    }
    let Some(role) = Role::parse(&u.role) else {
        return Ok(AuthState::Invalid);
    };
    Ok(AuthState::User(AuthContext {
        company_id: u.company_id,
        user_id: Some(u.id),
        email: u.email,
        role,
    }))
}

/// Verified tokens by their hash, for a bounded time: a request costs no query for its
/// token. Revoking a token or changing a user through this process forgets at once; a change
/// made elsewhere (another replica, the CLI) takes effect within the bound.
pub struct TokenCache {
    cache: moka::future::Cache<String, AuthState>,
    ttl: std::time::Duration,
}

impl TokenCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        TokenCache {
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            ttl,
        }
    }

    /// How long a verified (or refused) token is trusted without a query.
    pub fn bound(&self) -> std::time::Duration {
        self.ttl
    }

    /// The caller behind a token: from the cache, or one query (shared by concurrent callers
    /// of the same token). A database failure is not cached.
    pub async fn authenticate(
        &self,
        db: &impl ConnectionTrait,
        token: &str,
    ) -> AppResult<AuthState> {
        let hash = hash_token(token);
        self.cache
            .try_get_with(hash.clone(), authenticate_hash(db, hash))
            .await
            .map_err(|e| AppError::Internal(format!("authenticating a token: {e}")))
    }

    /// Forgets one token (after it was revoked here).
    pub async fn forget(&self, token_hash: &str) {
        self.cache.invalidate(token_hash).await;
    }

    /// Forgets every token (after a user changed here).
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }
}

/// A company's API tokens with their users, newest first.
pub async fn list_tokens(
    db: &impl ConnectionTrait,
    company_id: Uuid,
) -> AppResult<Vec<(api_token::Model, Option<user::Model>)>> {
    use sea_orm::QueryOrder;
    Ok(api_token::Entity::find()
        .filter(api_token::Column::CompanyId.eq(company_id))
        .order_by_desc(api_token::Column::CreatedAt)
        .order_by_desc(api_token::Column::Id)
        .find_also_related(user::Entity)
        .all(db)
        .await?)
}

/// Revokes one of a company's tokens. Revoking it again is a CONFLICT.
pub async fn revoke_token(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    now: chrono::DateTime<Utc>,
) -> AppResult<api_token::Model> {
    let Some(t) = api_token::Entity::find_by_id(id)
        .filter(api_token::Column::CompanyId.eq(company_id))
        .one(db)
        .await?
    else {
        return Err(AppError::not_found(format!("token {id}")));
    };
    if t.revoked_at.is_some() {
        return Err(AppError::conflict(format!("token {id} is already revoked")));
    }
    let mut am: api_token::ActiveModel = t.into();
    am.revoked_at = Set(Some(now));
    am.updated_at = Set(now);
    Ok(am.update(db).await?)
}

/// What `token create` made.
pub struct IssuedToken {
    pub token: String,
    pub company_id: Uuid,
    pub user_id: Uuid,
}

/// Finds or creates the company, finds or creates the user (updating the role), and issues a
/// new token for them.
pub async fn issue_token(
    db: &impl ConnectionTrait,
    company_name: &str,
    email: &str,
    role: Role,
    now: DateTime<Utc>,
) -> AppResult<IssuedToken> {
    let a = ensure_user(db, company_name, email, role, now).await?;
    let user_id = a.user_id.expect("ensure_user returns a user");
    let token = generate_token();
    api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(a.company_id),
        user_id: Set(user_id),
        token_hash: Set(hash_token(&token)),
        name: Set("cli".into()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(IssuedToken {
        token,
        company_id: a.company_id,
        user_id,
    })
}

/// Finds or creates the company and the user (updating the role), without issuing a token.
pub async fn ensure_user(
    db: &impl ConnectionTrait,
    company_name: &str,
    email: &str,
    role: Role,
    now: DateTime<Utc>,
) -> AppResult<AuthContext> {
    let company_name = company_name.trim();
    let email = email.trim().to_ascii_lowercase();
    if company_name.is_empty() {
        return Err(AppError::bad("company name must not be empty"));
    }
    if !email.contains('@') {
        return Err(AppError::bad(format!("{email:?} is not an email address")));
    }
    let company = match company::Entity::find()
        .filter(company::Column::Name.eq(company_name))
        .one(db)
        .await?
    {
        Some(c) => c,
        None => create_company(db, company_name, now).await?,
    };
    let existing = user::Entity::find()
        .filter(user::Column::CompanyId.eq(company.id))
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?;
    let u = match existing {
        Some(u) if u.role == role.as_str() => u,
        Some(u) => {
            let mut am: user::ActiveModel = u.into();
            am.role = Set(role.as_str().to_string());
            am.updated_at = Set(now);
            am.update(db).await?
        }
        None => {
            let name = email.split('@').next().unwrap_or_default().to_string();
            user::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(company.id),
                email: Set(email.clone()),
                name: Set(name),
                role: Set(role.as_str().to_string()),
                is_active: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?
        }
    };
    Ok(AuthContext {
        company_id: company.id,
        user_id: Some(u.id),
        email: u.email,
        role,
    })
}

/// Creates a company (the name is trimmed and must not be empty).
pub async fn create_company(
    db: &impl ConnectionTrait,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<company::Model> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::bad("company name must not be empty"));
    }
    Ok(company::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_string()),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// The company a command-line command works on: the one named, or the only one there is.
/// `Ok(None)` means the named company does not exist and `create` allows making it.
pub async fn resolve_company(
    db: &impl ConnectionTrait,
    name: Option<&str>,
    create: bool,
) -> AppResult<Option<company::Model>> {
    use sea_orm::QueryOrder;
    let all = company::Entity::find()
        .order_by_asc(company::Column::Name)
        .all(db)
        .await?;
    let known = || match all.len() {
        0 => "there are no companies yet".to_string(),
        _ => {
            let names: Vec<String> = all.iter().map(|c| format!("{:?}", c.name)).collect();
            format!("known companies: {}", names.join(", "))
        }
    };
    match name.map(str::trim) {
        Some(n) => match all.iter().find(|c| c.name == n) {
            Some(c) => Ok(Some(c.clone())),
            None if create && !n.is_empty() => Ok(None),
            None => Err(AppError::bad(format!(
                "no company {n:?}; {} (pass --create-company to create it)",
                known()
            ))),
        },
        None if all.len() == 1 => Ok(all.into_iter().next()),
        None => Err(AppError::bad(format!("--company is needed: {}", known()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}

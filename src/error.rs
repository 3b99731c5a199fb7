//! One error type for the whole service, mapped onto GraphQL errors that always carry
//! `extensions.code`.
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required: send `Authorization: Bearer <token>`")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error")]
    Db(DbErr),
    #[error("internal error")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<DbErr> for AppError {
    /// A unique-key violation is the caller's conflict, not a server fault.
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                AppError::Conflict("a row with the same unique key already exists".into())
            }
            _ => AppError::Db(e),
        }
    }
}

impl From<std::sync::Arc<DbErr>> for AppError {
    fn from(e: std::sync::Arc<DbErr>) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadInput(_) => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::Db(_) | AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn bad(msg: impl Into<String>) -> Self {
        AppError::BadInput(msg.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        AppError::Conflict(msg.into())
    }
}

/// Gives every error in a response an `extensions.code`.
///
/// A resolver's `?` on an [`AppError`] keeps the error as the GraphQL error's source, so its
/// code is read from there (and server faults are logged here, once). Errors raised by the
/// GraphQL engine itself (a syntax error, an unknown field, a wrong variable type, a depth or
/// complexity limit) have no source; they are all the client's to fix: BAD_USER_INPUT.
pub fn ensure_codes(resp: &mut async_graphql::Response) {
    for err in &mut resp.errors {
        let has_code = err
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        let code = match err.source::<AppError>() {
            Some(app) => {
                match app {
                    AppError::Db(e) => {
                        tracing::error!(error = %e, path = ?err.path, "database error")
                    }
                    AppError::Internal(e) => {
                        tracing::error!(error = %e, path = ?err.path, "internal error")
                    }
                    _ => {}
                }
                app.code()
            }
            None => "BAD_USER_INPUT",
        };
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

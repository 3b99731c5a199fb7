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
        err.message = excerpt_long_lines(&err.message);
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

/// A message whose lines are short, unchanged; else each long line cut to a window around the
/// column a caret line (`^`) points at (or its start), so that a syntax error in a 1 MB
/// document quotes 120 characters of it, not the whole line.
pub fn excerpt_long_lines(message: &str) -> String {
    const LONG: usize = 240;
    const HALF: usize = 60;
    if message.lines().all(|l| l.chars().count() <= LONG) {
        return message.to_string();
    }
    let caret = message
        .lines()
        .find_map(|l| l.find('^').map(|b| l[..b].chars().count()))
        .unwrap_or(0);
    let start = caret.saturating_sub(HALF);
    message
        .lines()
        .map(|l| {
            let n = l.chars().count();
            if n <= LONG {
                return l.to_string();
            }
            let cut: String = l.chars().skip(start).take(2 * HALF).collect();
            let before = if start > 0 { "…" } else { "" };
            let after = if start + 2 * HALF < n { "…" } else { "" };
            format!("{before}{cut}{after}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod excerpt_tests {
    #[test]
    fn a_long_line_is_cut_around_the_caret() {
        let line = format!("1 | {}@{}", "a".repeat(5000), "b".repeat(5000));
        let caret = format!("  | {}^---", " ".repeat(5000));
        let msg = format!(" --> 1:5001\n  |\n{line}\n{caret}\n  |\n  = expected selection");
        let short = super::excerpt_long_lines(&msg);
        assert!(short.len() < 600, "{} bytes", short.len());
        assert!(short.contains("a@b") && short.contains("^---"), "{short}");
        assert!(short.ends_with("= expected selection"));
        assert_eq!(super::excerpt_long_lines("short"), "short");
    }
}

//! Per-request helpers for resolvers: the application state and the request's loaders.
use super::loaders::Loaders;
use crate::AppState;
use crate::auth::AuthState;
use crate::error::{AppError, AppResult};
use async_graphql::Context;
use std::sync::Arc;

/// Per-request helpers for resolvers.
pub trait CtxExt {
    fn state(&self) -> AppResult<&Arc<AppState>>;
    fn loaders(&self) -> AppResult<&Loaders>;
}

impl CtxExt for Context<'_> {
    fn state(&self) -> AppResult<&Arc<AppState>> {
        self.data::<Arc<AppState>>()
            .map_err(|_| AppError::Internal("application state missing from schema".into()))
    }

    fn loaders(&self) -> AppResult<&Loaders> {
        match self.data_opt::<Loaders>() {
            Some(l) => Ok(l),
            None => match self.data_opt::<AuthState>() {
                Some(AuthState::User(_)) => Err(AppError::Internal("data loaders missing".into())),
                _ => Err(AppError::Unauthenticated),
            },
        }
    }
}

//! Opaque GraphQL IDs. They are UUID v7 strings; anything else names nothing, so it is
//! NOT_FOUND exactly like another company's id.
use crate::error::{AppError, AppResult};
use uuid::Uuid;

pub fn parse_id(id: &async_graphql::ID, what: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::not_found(format!("{what} {}", id.as_str())))
}

//! The GraphQL base every room builds on: the request context (context.rs), the batched
//! loaders (loaders.rs), Relay pagination (pagination.rs), the shared types (types.rs) and the
//! API tokens' part of the schema (tokens.rs). It imports no room; the schema's assembly and
//! the transports that import every room are `server/`.
pub mod context;
pub mod loaders;
pub mod pagination;
pub mod tokens;
pub mod types;

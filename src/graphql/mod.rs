//! GraphQL: the shared base that rooms build on (context.rs, types.rs, pagination.rs,
//! loaders.rs), the schema's assembly (schema.rs, node.rs), and the transports (http.rs,
//! ws.rs, persisted.rs) with their limits. The assembly and ws.rs (which runs live events
//! through the SLA hub's cohorts) are the only files here that import rooms.
pub mod context;
pub mod error_codes;
pub mod http;
pub mod limits;
pub mod loaders;
pub mod node;
pub mod operations;
pub mod pagination;
pub mod persisted;
pub mod schema;
pub mod text;
pub mod tokens;
pub mod types;
pub mod ws;

pub use schema::{AppSchema, Mutation, Query, Subscription, build_schema, sdl};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};

/// The types of the operations a request may run: the named one, or every operation of the
/// document when none is named. Empty when the document does not parse.
pub fn operation_types(query: &str, operation_name: Option<&str>) -> Vec<OperationType> {
    match async_graphql::parser::parse_query(query) {
        Ok(doc) => document_operation_types(&doc, operation_name),
        Err(_) => Vec::new(),
    }
}

/// [`operation_types`] of a parsed document.
pub fn document_operation_types(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Vec<OperationType> {
    match &doc.operations {
        DocumentOperations::Single(op) => vec![op.node.ty],
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| operation_name.is_none_or(|n| n == name.as_str()))
            .map(|(_, op)| op.node.ty)
            .collect(),
    }
}

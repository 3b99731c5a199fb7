//! Executions: the reporting API (start, record step, complete, import) and its GraphQL
//! types. Arrows run one way: executions -> workflows (definitions) and the SLA runtime
//! (deadlines, breaches); neither imports this room.
mod completion;
pub mod graphql;
pub mod objects;
pub mod service;

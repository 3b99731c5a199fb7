//! The action catalog: what each action does, how it behaves, and the JSON Schemas of its
//! input and output.
pub mod graphql;
pub mod metrics;
pub mod objects;
pub mod schema;
pub mod service;

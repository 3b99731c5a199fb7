//! Dry-run simulation: a pure engine ([`engine`]) that follows one input through a workflow
//! and explores every path across the input space, plus its service and GraphQL surface.
pub mod engine;
pub mod graphql;
pub mod service;

//! Dry-run simulation: a pure engine ([`engine`]) that follows one input through a workflow
//! and explores every path across the input space, a Monte Carlo forecast ([`forecast`]) over
//! the choices the input cannot decide, plus its service and GraphQL surface.
pub mod engine;
pub mod forecast;
pub mod graphql;
pub mod holdout;
pub mod service;

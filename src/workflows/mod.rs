//! Workflow definitions (and, with the SLA work, executions reported by host engines).
pub mod branch_model;
pub mod conformance;
pub mod flows;
pub mod graphql;
pub mod objects;
pub mod service;
pub mod step_stats;
pub mod steps;
pub mod versions;

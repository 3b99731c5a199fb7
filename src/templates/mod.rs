//! Blueprint templates: versioned, validated, exported and imported (JSON blueprints and
//! BPMN 2.0), diffed, and instantiated as workflows.
pub mod bpmn;
pub mod bpmn_flow;
pub mod graphql;
pub mod model;
pub mod service;

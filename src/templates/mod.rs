//! Blueprint templates: versioned, validated, exported and imported (JSON blueprints and
//! BPMN 2.0), diffed, and instantiated as workflows.
pub mod actions;
pub mod blueprint;
pub mod body;
pub mod bpmn;
pub mod bpmn_flow;
pub mod diff;
pub mod graphql;
pub mod layout;
pub mod semver;
pub mod service;
pub mod steps_graph;
#[cfg(test)]
mod tests;
pub mod validation;
pub mod variables;

//! SeaORM entities, one file per table. Enumerated columns are stored as lower-case strings
//! and converted by the typed enums in `crate::model`.
pub mod action;
pub mod alert_outbox;
pub mod api_token;
pub mod breach;
pub mod company;
pub mod execution;
pub mod simulation;
pub mod sla;
pub mod sla_event;
pub mod step_execution;
pub mod suggestion;
pub mod template;
pub mod user;
pub mod workflow;
pub mod workflow_version;

//! The live breach stream, a room of its own above `sla/` and beside the transports.
//!
//! - `log.rs`: the `sla_events` log as the stream reads it: snapshots, heads, replay after a
//!   sequence, retention.
//! - `hub.rs`: cohorts of equal subscriptions, one execution per cohort and event, bounded
//!   queues and the overflow policy, and the dispatcher that follows the log.
//! - `graphql.rs`: the `slaBreachEvents` subscription and `slaBreachEventsHead`.
//!
//! Its API to the transport (`server/ws.rs`) is [`Hub::join`], [`Hub::leave`] and
//! [`Replay`]; to the SLA domain it is one signal, the `Notify` the SLA runtime raises once per
//! commit that appended events (`SlaRuntime::events_committed`). `sla/` does not import it.
pub mod graphql;
pub mod hub;
pub mod log;

pub use hub::{Hub, Replay, ReplayError};

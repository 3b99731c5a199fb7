//! workflow-intel: a GraphQL server that adds intelligence to workflow automation.
//!
//! This file holds the application state every room is handed ([`AppState`]) and the
//! background timings; `app.rs` wires the pieces together (config → database → services →
//! schema → router) and starts the background tasks.
pub mod app;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod conditions;
pub mod config;
pub mod conformance;
pub mod db;
pub mod discovery;
pub mod entity;
pub mod error;
pub mod executions;
pub mod faults;
pub mod graphql_base;
pub mod history;
pub mod ids;
pub mod listener;
pub mod live;
pub mod metrics;
pub mod model;
pub mod placeholders;
pub mod seed;
pub mod server;
pub mod simulation;
pub mod sla;
pub mod stats;
pub mod suggestions;
pub mod telemetry;
pub mod templates;
pub mod tenancy;
pub mod workflows;

use clock::Clock;
use config::Config;
use metrics::Metrics;
use sea_orm::DatabaseConnection;
use sla::runtime::SlaRuntime;
use std::sync::Arc;
use std::time::Duration;

/// Everything a resolver or background task needs, shared by reference.
pub struct AppState {
    /// Reads (and short autocommit writes).
    pub db: DatabaseConnection,
    /// Write transactions: on a SQLite file, the one connection that writes, so writers queue
    /// in the pool instead of sleeping in SQLite's busy handler; elsewhere the same pool.
    pub writer: DatabaseConnection,
    /// Group commit for the hot write paths (execution reporting) through the writer.
    pub writes: db::GroupWriter,
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    /// The deadline watcher, the signal that breach events committed, and the wake-ups of the
    /// mailer and the notifier.
    pub sla: SlaRuntime,
    /// Verified API tokens, for `TOKEN_CACHE_SECONDS`.
    pub tokens: auth::TokenCache,
    /// Names this process in outbox claims.
    pub instance_id: String,
    /// Last refresh of the SLO gauges (they are computed at scrape time, at most every 5 s).
    pub gauges_refreshed: std::sync::Mutex<Option<std::time::Instant>>,
}

impl AppState {
    /// Whether breaches get alert emails: alerts enabled and an SMTP server configured.
    pub fn alerts_active(&self) -> bool {
        self.config.sla_alerts_enabled && self.config.smtp_url.is_some()
    }

    /// Which alerts a new breach gets: email when [`Self::alerts_active`], its channels and
    /// escalation levels whenever alerts are enabled.
    pub fn alerting(&self) -> sla::escalation::Alerting {
        sla::escalation::Alerting {
            email: self.alerts_active(),
            channels: self.config.sla_alerts_enabled,
        }
    }
}

/// Timing of the background tasks.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Backstop poll of the breach event log.
    pub event_poll: Duration,
    /// Backstop re-arm of the deadline watcher from the database.
    pub rearm_every: Duration,
    /// Backstop poll of the alert outbox.
    pub outbox_poll: Duration,
    /// How long an outbox claim lasts.
    pub lease: chrono::Duration,
}

impl Timing {
    /// The timing a configuration asks for.
    pub fn from_config(c: &Config) -> Self {
        let poll = Duration::from_millis(c.poll_interval_ms);
        Timing {
            event_poll: poll,
            outbox_poll: poll,
            lease: chrono::Duration::seconds(c.outbox_lease_seconds),
            ..Timing::default()
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            event_poll: Duration::from_secs(1),
            rearm_every: Duration::from_secs(30),
            outbox_poll: Duration::from_secs(2),
            lease: chrono::Duration::seconds(sla::mailer::DEFAULT_LEASE_SECONDS),
        }
    }
}

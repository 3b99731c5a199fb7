//! workflow-intel: a GraphQL server that adds intelligence to workflow automation.
//!
//! [`build`] wires the pieces together: config → database → services → schema → router.
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
pub mod graphql;
pub mod history;
pub mod ids;
pub mod listener;
pub mod metrics;
pub mod model;
pub mod placeholders;
pub mod seed;
pub mod server;
pub mod simulation;
pub mod sla;
pub mod stats;
pub mod suggestions;
pub mod templates;
pub mod tenancy;
pub mod workflows;

use clock::{Clock, SystemClock};
use config::Config;
use metrics::Metrics;
use sea_orm::DatabaseConnection;
use sla::runtime::SlaRuntime;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

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
    /// The deadline watcher, the live breach stream and the mailer's wake-up.
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

/// The background tasks of one process; dropping this stops them.
pub struct Background(Vec<JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// A fully wired application, ready to serve.
pub struct App {
    pub state: Arc<AppState>,
    pub schema: graphql::AppSchema,
    pub router: axum::Router,
}

/// Builds the application on a migrated database, with the system clock.
pub fn build(config: Config, db: impl Into<db::Pools>) -> App {
    build_with_clock(config, db, Arc::new(SystemClock))
}

/// Builds the application with an injected clock (tests move time instead of sleeping).
pub fn build_with_clock(config: Config, pools: impl Into<db::Pools>, clock: Arc<dyn Clock>) -> App {
    let metrics = Arc::new(Metrics::new());
    let db::Pools {
        read: mut db,
        write: mut writer,
    } = pools.into();
    for conn in [&mut db, &mut writer] {
        let statements = metrics.internals.db_statements_total.clone();
        conn.set_metric_callback(move |_| statements.inc());
    }
    let state = Arc::new(AppState {
        tokens: auth::TokenCache::new(Duration::from_secs(config.token_cache_seconds)),
        writes: db::GroupWriter::start(
            writer.clone(),
            db::GroupCounters {
                commits: metrics.internals.write_group_commits_total.clone(),
                jobs: metrics.internals.write_group_jobs_total.clone(),
            },
        ),
        db,
        writer,
        config,
        sla: SlaRuntime::new(&metrics),
        metrics,
        clock,
        instance_id: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
        gauges_refreshed: std::sync::Mutex::new(None),
    });
    let schema = graphql::build_schema(state.clone());
    let router = server::router(schema.clone(), state.clone());
    App {
        state,
        schema,
        router,
    }
}

impl App {
    /// Starts the breach event dispatcher, the deadline watcher and (when alerts are active) the
    /// mailer. The dispatcher's place in the log is read first, so that an event committed
    /// before its task first runs still reaches the subscribers of this process.
    pub async fn start_background(&self, timing: Timing) -> Result<Background, String> {
        let st = &self.state;
        st.sla
            .hub
            .start_at_head(&st.db)
            .await
            .map_err(|e| format!("reading the breach event log: {e}"))?;
        if st.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            // One process per SQLite database: this one owns the deadline watcher from the start.
            st.sla.watcher.own();
        }
        let hub = st.sla.hub.clone();
        let mut tasks = vec![
            tokio::spawn(hub.run(self.schema.clone(), st.db.clone(), timing.event_poll)),
            tokio::spawn(st.sla.watcher.clone().run(st.clone(), timing.rearm_every)),
            tokio::spawn(sla::hub::run_retention(st.clone())),
        ];
        if st.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            tasks.push(tokio::spawn(sla::replicas::run_listener(st.clone())));
        }
        if st.alerts_active() {
            let url = st.config.smtp_url.clone().unwrap_or_default();
            let mailer = sla::mailer::Mailer::with_limits(
                &url,
                &st.config.default_from_email,
                timing.lease,
                Duration::from_secs(st.config.smtp_timeout_seconds),
                st.config.smtp_concurrency as usize,
            )?;
            tasks.push(tokio::spawn(sla::outbox::work(
                mailer,
                st.clone(),
                st.sla.mailer_wake.clone(),
                timing.outbox_poll,
            )));
        }
        if st.config.sla_alerts_enabled {
            // The request bound stays under half the lease, as the SMTP one does.
            let lease = timing.lease.num_seconds().max(2) as u64;
            let timeout = st.config.alert_http_timeout_seconds.min(lease / 2).max(1);
            let notifier = sla::notifier::Notifier::new(
                timing.lease,
                Duration::from_secs(timeout),
                st.config.smtp_concurrency as usize,
            )
            .map_err(|e| e.to_string())?;
            tasks.push(tokio::spawn(sla::outbox::work(
                notifier,
                st.clone(),
                st.sla.notifier_wake.clone(),
                timing.outbox_poll,
            )));
        }
        Ok(Background(tasks))
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
/// Connections are held to the limits of [`listener`].
pub fn serve(
    listener: tokio::net::TcpListener,
    app: &App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
    let limits = listener::Limits::from_config(&app.state.config);
    listener::serve(
        listener,
        app.router.clone(),
        limits,
        app.state.metrics.clone(),
        shutdown,
    )
}

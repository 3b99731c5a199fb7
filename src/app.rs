//! The wiring: [`build`] puts the pieces together (config → database → services → schema →
//! router), [`App::start_background`] starts the background tasks, [`serve`] serves.
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sla::runtime::SlaRuntime;
use crate::{AppState, Timing, auth, db, listener, live, server};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

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
    /// The live breach stream's hub (woken by `state.sla.events`).
    pub live: Arc<live::Hub>,
    pub schema: server::AppSchema,
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
        let commands = metrics.internals.db_commands_total.clone();
        conn.set_metric_callback(move |info| {
            commands.inc();
            statements.inc_by(db::batch::statements_in(&info.statement.sql) as u64);
            crate::telemetry::statement(info);
        });
    }
    let sla = SlaRuntime::default();
    let live = Arc::new(live::Hub::new(
        metrics.internals.breach_event_renders_total.clone(),
        sla.events.clone(),
    ));
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
        sla,
        metrics,
        clock,
        instance_id: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
        gauges_refreshed: std::sync::Mutex::new(None),
    });
    let schema = server::build_schema(state.clone());
    let router = server::router(schema.clone(), state.clone(), live.clone());
    App {
        state,
        live,
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
        self.live
            .start_at_head(&st.db)
            .await
            .map_err(|e| format!("reading the breach event log: {e}"))?;
        let hub = self.live.clone();
        let mut tasks = vec![
            tokio::spawn(hub.run(self.schema.clone(), st.db.clone(), timing.event_poll)),
            tokio::spawn(live::log::run_retention(
                st.db.clone(),
                st.clock.clone(),
                st.config.event_retention_days,
            )),
        ];
        tasks.extend(st.sla.start(st, &timing)?);
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

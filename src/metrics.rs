//! The Prometheus registry and every metric family, declared in one place.
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    pub graphql_requests_total: IntCounterVec,
    pub graphql_request_duration_seconds: HistogramVec,
    pub graphql_subscriptions_active: IntGauge,
    pub graphql_websocket_connections_active: IntGauge,
    pub deadline_watcher_owner: IntGauge,
    /// The server's own workings: statements, live-stream renders, lagged subscribers,
    /// group commits.
    pub internals: Internals,
    pub workflow_execution_total: IntCounterVec,
    pub workflow_execution_duration_seconds: HistogramVec,
    pub workflow_sla_breach_total: IntCounterVec,
    pub workflow_sla_target_seconds: GaugeVec,
    pub workflow_sla_percentage: GaugeVec,
    pub action_execution_total: IntCounterVec,
    /// Legacy name (dashboards use it); promtool objects to the abbreviated unit, so
    /// `action_execution_duration_seconds` is its conventional twin.
    pub action_execution_duration_ms: HistogramVec,
    pub action_execution_duration_seconds: HistogramVec,
    pub action_success_rate: GaugeVec,
    pub workflow_simulation_total: IntCounterVec,
    pub workflow_suggestion_total: IntCounterVec,
    pub workflow_suggestion_confidence: HistogramVec,
    pub workflow_simulation_duration_seconds: Histogram,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14_400.0, 86_400.0,
];

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid histogram");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

fn plain_histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid histogram");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid gauge");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn plain_counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid counter");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

/// Counters of the server's own workings.
pub struct Internals {
    /// SQL statements this process sent (every backend), those of a batch each counted.
    pub db_statements_total: IntCounter,
    /// Commands sent to the database: a statement alone, or a batch of them sent as one (on
    /// SQLite, one hand-off to a connection's thread and back).
    pub db_commands_total: IntCounter,
    /// Executions of a subscription document for a live event: one per cohort and event,
    /// however many subscribers the cohort has.
    pub breach_event_renders_total: IntCounter,
    /// Subscribers closed because their queue overflowed.
    pub subscribers_lagged_total: IntCounter,
    /// Group commits of the SQLite writer, and the write jobs they carried.
    pub write_group_commits_total: IntCounter,
    pub write_group_jobs_total: IntCounter,
    /// HTTP connections open now (WebSockets included), and those the server closed, by
    /// why: `header_timeout`, `idle_timeout`, `shed` (the oldest waiting connection, closed to
    /// admit a new one at the cap) or `refused` (at the cap with none waiting).
    pub http_connections_open: IntGauge,
    pub http_connections_closed_total: IntCounterVec,
}

impl Internals {
    fn new(r: &Registry) -> Self {
        Internals {
            db_statements_total: plain_counter(
                r,
                "workflow_intel_db_statements_total",
                "SQL statements sent to the database by this process.",
            ),
            db_commands_total: plain_counter(
                r,
                "workflow_intel_db_commands_total",
                "Commands sent to the database: a statement, or a batch of statements sent as one.",
            ),
            breach_event_renders_total: plain_counter(
                r,
                "workflow_intel_breach_event_renders_total",
                "Executions of a subscription for a live breach event (one per cohort and event).",
            ),
            subscribers_lagged_total: plain_counter(
                r,
                "workflow_intel_subscribers_lagged_total",
                "WebSocket subscribers closed with 1013 because their queue overflowed.",
            ),
            write_group_commits_total: plain_counter(
                r,
                "workflow_intel_write_group_commits_total",
                "Commits of the SQLite writer's groups of write transactions.",
            ),
            write_group_jobs_total: plain_counter(
                r,
                "workflow_intel_write_group_jobs_total",
                "Write transactions committed as part of a group (jobs / commits = group size).",
            ),
            http_connections_open: gauge(
                r,
                "workflow_intel_http_connections_open",
                "HTTP connections open now, WebSockets included.",
            ),
            http_connections_closed_total: counter(
                r,
                "workflow_intel_http_connections_closed_total",
                "HTTP connections the server closed, by reason (header_timeout, idle_timeout, shed, refused).",
                &["reason"],
            ),
        }
    }
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid gauge");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

/// HTTP requests: count and latency.
fn http_families(r: &Registry) -> (IntCounterVec, HistogramVec) {
    (
        counter(
            r,
            "http_requests_total",
            "HTTP requests served, by method, matched route and status code.",
            &["method", "route", "status"],
        ),
        histogram(
            r,
            "http_request_duration_seconds",
            "HTTP request latency, by method and matched route.",
            &["method", "route"],
            LATENCY_BUCKETS,
        ),
    )
}

/// GraphQL operations, live subscriptions and sockets, and the deadline watcher's owner.
fn graphql_families(r: &Registry) -> (IntCounterVec, HistogramVec, IntGauge, IntGauge, IntGauge) {
    (
        counter(
            r,
            "graphql_requests_total",
            "GraphQL operations executed, by operation type and outcome (ok or error).",
            &["operation_type", "outcome"],
        ),
        histogram(
            r,
            "graphql_request_duration_seconds",
            "GraphQL operation latency, by operation type.",
            &["operation_type"],
            LATENCY_BUCKETS,
        ),
        gauge(
            r,
            "graphql_subscriptions_active",
            "GraphQL subscriptions currently streaming.",
        ),
        gauge(
            r,
            "graphql_websocket_connections_active",
            "WebSocket connections currently open on /graphql.",
        ),
        gauge(
            r,
            "workflow_intel_sla_clock_owner",
            "1 while this replica owns the SLA deadline watcher (always 1 on SQLite).",
        ),
    )
}

/// Executions, breaches and each SLA's target and compliance.
fn workflow_families(
    r: &Registry,
) -> (
    IntCounterVec,
    HistogramVec,
    IntCounterVec,
    GaugeVec,
    GaugeVec,
) {
    (
        counter(
            r,
            "workflow_execution_total",
            "Executions finished, by workflow type and final status.",
            &["workflow_type", "status"],
        ),
        histogram(
            r,
            "workflow_execution_duration_seconds",
            "Duration of finished executions, by workflow type.",
            &["workflow_type"],
            DURATION_BUCKETS,
        ),
        counter(
            r,
            "workflow_sla_breach_total",
            "SLA breaches recorded, by severity and workflow name.",
            &["severity", "workflow_name"],
        ),
        gauge_vec(
            r,
            "workflow_sla_target_seconds",
            "Each active SLA's target duration.",
            &["workflow_name", "sla_name"],
        ),
        gauge_vec(
            r,
            "workflow_sla_percentage",
            "Each active SLA's compliance over its SLO window, in percent.",
            &["workflow_name", "sla_name"],
        ),
    )
}

/// Finished steps by action.
fn action_families(r: &Registry) -> (IntCounterVec, HistogramVec, HistogramVec, GaugeVec) {
    (
        counter(
            r,
            "action_execution_total",
            "Finished steps, by action type and latency class.",
            &["action_type", "latency_class"],
        ),
        histogram(
            r,
            "action_execution_duration_ms",
            "Step duration in milliseconds, by action type (legacy name; see action_execution_duration_seconds).",
            &["action_type"],
            &[
                10.0,
                50.0,
                100.0,
                500.0,
                1000.0,
                5000.0,
                30_000.0,
                60_000.0,
                300_000.0,
                3_600_000.0,
            ],
        ),
        histogram(
            r,
            "action_execution_duration_seconds",
            "Step duration in seconds, by action type.",
            &["action_type"],
            &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0],
        ),
        gauge_vec(
            r,
            "action_success_rate",
            "Share of an action type's finished steps that succeeded (0 to 1).",
            &["action_type"],
        ),
    )
}

/// Suggestions and simulations.
fn intelligence_families(r: &Registry) -> (IntCounterVec, HistogramVec, IntCounterVec, Histogram) {
    (
        counter(
            r,
            "workflow_suggestion_total",
            "Suggestions created (status pending) and reviewed, by source and status.",
            &["source", "status"],
        ),
        histogram(
            r,
            "workflow_suggestion_confidence",
            "Confidence of new suggestions (0 to 1), by source.",
            &["source"],
            &[0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
        ),
        counter(
            r,
            "workflow_simulation_total",
            "Dry-run simulations, by resulting status.",
            &["status"],
        ),
        plain_histogram(
            r,
            "workflow_simulation_duration_seconds",
            "Time to run a simulation, exploration included.",
            LATENCY_BUCKETS,
        ),
    )
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let (http_requests_total, http_request_duration_seconds) = http_families(&r);
        let (
            graphql_requests_total,
            graphql_request_duration_seconds,
            graphql_subscriptions_active,
            graphql_websocket_connections_active,
            deadline_watcher_owner,
        ) = graphql_families(&r);
        let (
            workflow_execution_total,
            workflow_execution_duration_seconds,
            workflow_sla_breach_total,
            workflow_sla_target_seconds,
            workflow_sla_percentage,
        ) = workflow_families(&r);
        let (
            action_execution_total,
            action_execution_duration_ms,
            action_execution_duration_seconds,
            action_success_rate,
        ) = action_families(&r);
        let (
            workflow_suggestion_total,
            workflow_suggestion_confidence,
            workflow_simulation_total,
            workflow_simulation_duration_seconds,
        ) = intelligence_families(&r);
        Metrics {
            internals: Internals::new(&r),
            http_requests_total,
            http_request_duration_seconds,
            graphql_requests_total,
            graphql_request_duration_seconds,
            graphql_subscriptions_active,
            graphql_websocket_connections_active,
            deadline_watcher_owner,
            workflow_execution_total,
            workflow_execution_duration_seconds,
            workflow_sla_breach_total,
            workflow_sla_target_seconds,
            workflow_sla_percentage,
            action_execution_total,
            action_execution_duration_ms,
            action_execution_duration_seconds,
            action_success_rate,
            workflow_suggestion_total,
            workflow_suggestion_confidence,
            workflow_simulation_total,
            workflow_simulation_duration_seconds,
            registry: r,
        }
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        if let Err(e) = enc.encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

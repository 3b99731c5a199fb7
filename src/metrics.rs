//! The Prometheus registry and every metric family, declared in one place.
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    pub graphql_requests_total: IntCounterVec,
    pub graphql_request_duration_seconds: HistogramVec,
    pub graphql_subscriptions_active: IntGauge,
    pub graphql_websocket_connections_active: IntGauge,
    pub workflow_simulation_total: IntCounterVec,
    pub workflow_simulation_duration_seconds: Histogram,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
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

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid gauge");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new();
        Metrics {
            http_requests_total: counter(
                &r,
                "http_requests_total",
                "HTTP requests served, by method, matched route and status code.",
                &["method", "route", "status"],
            ),
            http_request_duration_seconds: histogram(
                &r,
                "http_request_duration_seconds",
                "HTTP request latency, by method and matched route.",
                &["method", "route"],
                LATENCY_BUCKETS,
            ),
            graphql_requests_total: counter(
                &r,
                "graphql_requests_total",
                "GraphQL operations executed, by operation type and outcome (ok or error).",
                &["operation_type", "outcome"],
            ),
            graphql_request_duration_seconds: histogram(
                &r,
                "graphql_request_duration_seconds",
                "GraphQL operation latency, by operation type.",
                &["operation_type"],
                LATENCY_BUCKETS,
            ),
            graphql_subscriptions_active: gauge(
                &r,
                "graphql_subscriptions_active",
                "GraphQL subscriptions currently streaming.",
            ),
            graphql_websocket_connections_active: gauge(
                &r,
                "graphql_websocket_connections_active",
                "WebSocket connections currently open on /graphql.",
            ),
            workflow_simulation_total: counter(
                &r,
                "workflow_simulation_total",
                "Dry-run simulations, by resulting status.",
                &["status"],
            ),
            workflow_simulation_duration_seconds: plain_histogram(
                &r,
                "workflow_simulation_duration_seconds",
                "Time to run a simulation, exploration included.",
                LATENCY_BUCKETS,
            ),
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

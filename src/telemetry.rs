//! Traces: OpenTelemetry spans per GraphQL request, per resolver of an object or list (the
//! ones that touch the store; async-graphql's tracing extension), and per SQL statement,
//! exported over OTLP/HTTP (`tracing-opentelemetry`, `opentelemetry-otlp`) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and off otherwise: then no span is made at all.
//!
//! A statement's span is made from the store's own timing (SeaORM's metric callback: the
//! statement, how long it took, whether it failed), as a child of the resolver's span that ran
//! it, with the SQL (placeholders, never the values) in `db.query.text`.
use crate::config::{Config, OtlpProtocol};
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ON: AtomicBool = AtomicBool::new(false);

/// The instrumentation scope of every span we make.
const SCOPE: &str = "workflow-intel";

/// Whether traces are being exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The tracer provider, while traces are exported; dropping it sends what is buffered.
pub struct Telemetry(SdkTracerProvider);

impl Drop for Telemetry {
    fn drop(&mut self) {
        ON.store(false, Ordering::Relaxed);
        let provider = self.0.clone();
        // The exporter's HTTP client blocks: flush on a thread of its own.
        let _ = std::thread::spawn(move || provider.shutdown()).join();
    }
}

/// The exporter and provider for the configured collector, or None when none is configured.
/// Built on a thread of its own: the exporter's blocking HTTP client may not be made inside
/// the async runtime.
pub fn start(cfg: &Config) -> anyhow::Result<Option<Telemetry>> {
    let Some(base) = cfg
        .otel_exporter_otlp_endpoint
        .clone()
        .filter(|e| !e.is_empty())
    else {
        return Ok(None);
    };
    let protocol = match cfg.otel_exporter_otlp_protocol {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
        OtlpProtocol::HttpJson => Protocol::HttpJson,
    };
    let endpoint = format!("{}/v1/traces", base.trim_end_matches('/'));
    let provider = std::thread::spawn(move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .with_protocol(protocol)
            .build()?;
        let resource = Resource::builder().with_service_name(SCOPE).build();
        anyhow::Ok(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build(),
        )
    })
    .join()
    .map_err(|_| anyhow::anyhow!("building the OTLP exporter panicked"))??;
    global::set_tracer_provider(provider.clone());
    ON.store(true, Ordering::Relaxed);
    Ok(Some(Telemetry(provider)))
}

/// The `tracing` layer that turns spans into OpenTelemetry spans.
pub fn layer<S>(t: &Telemetry) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(t.0.tracer(SCOPE))
}

/// A span for one SQL statement that just ran, under the current span (the resolver's).
pub fn statement(info: &sea_orm::metric::Info<'_>) {
    if !enabled() {
        return;
    }
    let end = SystemTime::now();
    let start = end.checked_sub(info.elapsed).unwrap_or(end);
    let sql = &info.statement.sql;
    let operation = sql
        .split_whitespace()
        .next()
        .unwrap_or("SQL")
        .to_ascii_uppercase();
    let system = match info.statement.db_backend {
        sea_orm::DatabaseBackend::Postgres => "postgresql",
        sea_orm::DatabaseBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    let parent = tracing::Span::current().context();
    let tracer = global::tracer(SCOPE);
    let mut span = tracer
        .span_builder(operation.clone())
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.text", sql.clone()),
            KeyValue::new("error", info.failed),
        ])
        .start_with_context(&tracer, &parent);
    span.end_with_timestamp(end);
}

//! The top of the house: the schema's assembly, which imports every room (schema.rs,
//! node.rs), and the transports with what every request passes through (http.rs, ws.rs,
//! persisted.rs, operations.rs, limits.rs, text.rs).
//!
//! This file is the HTTP surface: /graphql (POST, GET and WebSocket upgrade, in `http.rs`),
//! CORS, /metrics, /healthz, /readyz and the embedded pages: the playground and the SLA board.
pub mod http;
pub mod limits;
pub mod node;
pub mod operations;
pub mod persisted;
pub mod schema;
pub mod text;
pub mod ws;

pub use schema::{AppSchema, Mutation, Query, Subscription, build_schema, sdl};

use self::http::{self as gql_http, Http, auth_state, header_token};
use self::persisted::PersistedQueries;
use crate::AppState;
use crate::auth::AuthState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub fn router(schema: AppSchema, state: Arc<AppState>, live: Arc<crate::live::Hub>) -> Router {
    let persisted = Arc::new(PersistedQueries::new(
        state.config.persisted_queries_cache_bytes,
    ));
    let cors = cors(&state.config.cors_allowed_origins);
    let http = Http {
        schema,
        state,
        persisted,
        live,
    };
    Router::new()
        .route("/graphql", get(gql_http::get).post(gql_http::post))
        .route("/metrics", get(metrics))
        .route("/api/templates/{id}/export", get(export_template))
        .route("/api/breaches.csv", get(export_breaches))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .route("/playground", get(|| page(HTML, INDEX_HTML)))
        .route("/playground/", get(|| page(HTML, INDEX_HTML)))
        .route("/playground/app.js", get(|| page(JS, APP_JS)))
        .route("/playground/app.css", get(|| page(CSS, APP_CSS)))
        .route("/board", get(|| page(HTML, BOARD_HTML)))
        .route("/board/", get(|| page(HTML, BOARD_HTML)))
        .route("/board/app.js", get(|| page(JS, BOARD_JS)))
        .route("/board/app.css", get(|| page(CSS, BOARD_CSS)))
        .layer(cors)
        .layer(middleware::from_fn_with_state(http.clone(), track_http))
        .with_state(http)
}

/// CORS for browser apps on the origins in `CORS_ALLOWED_ORIGINS` (none by default: same
/// origin only). Bearer tokens travel in `Authorization`, so credentials (cookies) are never
/// allowed, and there is no wildcard.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        // Browsers send the scheme and host in lower case.
        .filter_map(|o| HeaderValue::from_str(&o.to_ascii_lowercase()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("apollographql-client-name"),
            HeaderName::from_static("apollographql-client-version"),
        ])
        .max_age(Duration::from_secs(600))
}

async fn track_http(State(http): State<Http>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let m = &http.state.metrics;
    m.http_requests_total
        .with_label_values(&[&method, &route, resp.status().as_str()])
        .inc();
    m.http_request_duration_seconds
        .with_label_values(&[&method, &route])
        .observe(start.elapsed().as_secs_f64());
    resp
}

async fn metrics(State(http): State<Http>) -> Response {
    if !http.state.config.prometheus_metrics_enabled {
        return (
            StatusCode::NOT_FOUND,
            "metrics are disabled (PROMETHEUS_METRICS_ENABLED=false)\n",
        )
            .into_response();
    }
    http.state.sla.refresh_gauges(&http.state).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        http.state.metrics.render(),
    )
        .into_response()
}

/// An API error as JSON: `{"error": {"code", "message"}}`.
fn api_error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// The caller of a bearer-authenticated API route, or its 401.
async fn api_caller(
    http: &Http,
    headers: &HeaderMap,
) -> Result<crate::auth::AuthContext, Response> {
    match auth_state(&http.state, header_token(headers)).await {
        AuthState::User(a) => Ok(a),
        _ => Err(api_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "send Authorization: Bearer <token>".into(),
        )),
    }
}

/// `GET /api/templates/{id}/export` (bearer auth): the blueprint document, for scripts and
/// backups.
async fn export_template(
    State(http): State<Http>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let auth = match api_caller(&http, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("template {id} not found"),
        );
    };
    match crate::templates::service::export(&http.state.db, &auth, id).await {
        Ok(doc) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"blueprint.json\""),
                ),
            ],
            doc,
        )
            .into_response(),
        Err(e) => {
            let status = match e.code() {
                "NOT_FOUND" => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            api_error(status, e.code(), e.to_string())
        }
    }
}

/// `GET /api/breaches.csv` (bearer auth): the company's breaches that `severity`, `slaId`,
/// `workflowId` and `acknowledged` select, newest first, for a report.
async fn export_breaches(
    State(http): State<Http>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let auth = match api_caller(&http, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let csv = match crate::sla::export::filter(&q) {
        Ok(f) => crate::sla::export::breaches_csv(&http.state.db, &auth, &f).await,
        Err(e) => Err(e),
    };
    match csv {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"breaches.csv\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            let status = match e.code() {
                "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            api_error(status, e.code(), e.to_string())
        }
    }
}

async fn readyz(State(http): State<Http>) -> Response {
    match http.state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

static INDEX_HTML: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/playground/index.html"));
static APP_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/playground/app.js"));
static APP_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/playground/app.css"));

static BOARD_HTML: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/playground/board.html"));
static BOARD_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/playground/board.js"));
static BOARD_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/playground/board.css"));

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// An embedded page or asset (the playground's and the board's).
async fn page(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

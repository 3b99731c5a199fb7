//! The HTTP surface: /graphql (POST, GET and WebSocket upgrade), /metrics, /healthz, /readyz
//! and the embedded playground.
use crate::AppState;
use crate::auth::{self, AuthState};
use crate::graphql::AppSchema;
use crate::graphql::loaders::Loaders;
use crate::graphql::ws;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Data};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body (and WebSocket message) accepted.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest number of operations in one batched POST.
pub const MAX_BATCH: usize = 10;

#[derive(Clone)]
pub struct Http {
    pub schema: AppSchema,
    pub state: Arc<AppState>,
}

pub fn router(schema: AppSchema, state: Arc<AppState>) -> Router {
    let http = Http { schema, state };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/metrics", get(metrics))
        .route("/api/templates/{id}/export", get(export_template))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .route("/playground", get(playground_index))
        .route("/playground/", get(playground_index))
        .route("/playground/app.js", get(playground_js))
        .route("/playground/app.css", get(playground_css))
        .layer(middleware::from_fn_with_state(http.clone(), track_http))
        .with_state(http)
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

/// A GraphQL-shaped error response for failures before execution.
fn request_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({
        "errors": [{"message": message.into(), "extensions": {"code": "BAD_USER_INPUT"}}]
    });
    (status, axum::Json(body)).into_response()
}

fn json_response(resp: &BatchResponse) -> Response {
    match serde_json::to_vec(resp) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "serialising a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Authenticates a bearer token and builds the per-request data: the caller and loaders
/// bound to their company.
async fn auth_state(state: &AppState, token: Option<&str>) -> AuthState {
    match token {
        None => AuthState::Anonymous,
        Some(t) => match state.tokens.authenticate(&state.db, t).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "authenticating a token");
                AuthState::Invalid
            }
        },
    }
}

fn data_for(state: &AppState, auth: AuthState) -> Data {
    let mut data = Data::default();
    if let AuthState::User(a) = &auth {
        data.insert(Loaders::new(state.db.clone(), a.company_id));
    }
    data.insert(auth);
    data
}

fn header_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer)
}

async fn execute(http: &Http, headers: &HeaderMap, batch: BatchRequest) -> Response {
    let auth = auth_state(&http.state, header_token(headers)).await;
    let batch = match batch {
        BatchRequest::Single(mut r) => {
            r.data = data_for(&http.state, auth);
            BatchRequest::Single(r)
        }
        // Each operation gets its own loaders; the caller is authenticated once.
        BatchRequest::Batch(rs) => BatchRequest::Batch(
            rs.into_iter()
                .map(|mut r| {
                    r.data = data_for(&http.state, auth.clone());
                    r
                })
                .collect(),
        ),
    };
    json_response(&http.schema.execute_batch(batch).await)
}

async fn graphql_post(State(http): State<Http>, headers: HeaderMap, body: Body) -> Response {
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return request_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds the limit of {MAX_BODY_BYTES} bytes (2 MB)"),
            );
        }
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "malformed request body: expected JSON like {{\"query\": \"…\", \"variables\": {{…}}}}: {e}"
                ),
            );
        }
    };
    if let BatchRequest::Batch(rs) = &batch
        && (rs.is_empty() || rs.len() > MAX_BATCH)
    {
        return request_error(
            StatusCode::BAD_REQUEST,
            format!("a batch must hold 1 to {MAX_BATCH} operations"),
        );
    }
    execute(&http, &headers, batch).await
}

async fn graphql_get(State(http): State<Http>, req: Request) -> Response {
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        return websocket(http, req).await;
    }
    let query = req.uri().query().unwrap_or_default();
    let gql = match async_graphql::http::parse_query_string(query) {
        Ok(r) => r,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                format!("malformed query string: expected ?query=…&variables=…: {e}"),
            );
        }
    };
    let kinds = crate::graphql::operation_types(&gql.query, gql.operation_name.as_deref());
    if kinds.contains(&OperationType::Mutation) {
        return request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
    }
    let headers = req.headers().clone();
    execute(&http, &headers, BatchRequest::Single(gql)).await
}

/// Counts an open WebSocket connection until it closes.
struct WsGuard(prometheus::IntGauge);

impl Drop for WsGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn websocket(http: Http, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let upgrade = upgrade.protocols(ws::Protocol::NAMES);
    // A client that offers no subprotocol speaks graphql-transport-ws; one that offers only
    // others is refused.
    let offered = parts.headers.contains_key(header::SEC_WEBSOCKET_PROTOCOL);
    let protocol = match upgrade.selected_protocol().and_then(|v| v.to_str().ok()) {
        Some(name) => ws::Protocol::from_name(name),
        None if !offered => Some(ws::Protocol::TransportWs),
        None => None,
    };
    let Some(protocol) = protocol else {
        return request_error(
            StatusCode::BAD_REQUEST,
            "unsupported WebSocket subprotocol: use graphql-transport-ws or graphql-ws",
        );
    };
    let Http { schema, state } = http;
    upgrade
        .max_message_size(MAX_BODY_BYTES)
        // Small buffers: most connections are idle subscribers (the defaults, 128 KiB each,
        // would cost ~150 KB per subscriber).
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| async move {
            let gauge = state.metrics.graphql_websocket_connections_active.clone();
            gauge.inc();
            let _guard = WsGuard(gauge);
            ws::serve(socket, protocol, schema, state).await
        })
}

async fn metrics(State(http): State<Http>) -> Response {
    if !http.state.config.prometheus_metrics_enabled {
        return (
            StatusCode::NOT_FOUND,
            "metrics are disabled (PROMETHEUS_METRICS_ENABLED=false)\n",
        )
            .into_response();
    }
    crate::sla::effects::refresh_sla_gauges(&http.state).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        http.state.metrics.render(),
    )
        .into_response()
}

/// `GET /api/templates/{id}/export` (bearer auth): the blueprint document, for scripts and
/// backups.
async fn export_template(
    State(http): State<Http>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let error = |status: StatusCode, code: &str, message: String| {
        (
            status,
            axum::Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response()
    };
    let auth = match auth_state(&http.state, header_token(&headers)).await {
        AuthState::User(a) => a,
        _ => {
            return error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "send Authorization: Bearer <token>".into(),
            );
        }
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error(
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
            error(status, e.code(), e.to_string())
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

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn playground_index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn playground_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn playground_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

//! GraphQL over HTTP, as the GraphQL-over-HTTP specification has it:
//! - the answer's media type is negotiated from `Accept`: `application/graphql-response+json`
//!   when the client asks for it, `application/json` otherwise (and for clients that don't say);
//! - a request error (the document does not parse or validate, variables don't coerce, a limit
//!   is hit) has no `data`, and answers 400 under `application/graphql-response+json`, 200
//!   under `application/json`;
//! - a POST must say `Content-Type: application/json` (415 otherwise); missing or mistyped
//!   parameters are 400; a GET may not run a mutation (405, `Allow: POST`);
//! - persisted queries are resolved before any of that, so every rule sees the real document.
//!
//! Also the WebSocket upgrade on the same path, with its `Origin` check.
use crate::AppState;
use crate::auth::{self, AuthState};
use crate::graphql_base::loaders::Loaders;
use crate::server::AppSchema;
use crate::server::persisted::{PersistedError, PersistedQueries};
use crate::server::ws;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchResponse, Data, Executor};
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct Http {
    pub schema: AppSchema,
    pub state: Arc<AppState>,
    pub persisted: Arc<PersistedQueries>,
    /// The live stream's hub, which WebSocket subscribers join.
    pub live: Arc<crate::live::Hub>,
}

/// The media type of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Json,
    GraphqlResponse,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json; charset=utf-8",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// The media type the client ranks highest (`q`): an exact type beats a wildcard of the same
/// weight, and `application/graphql-response+json` beats `application/json`. No `Accept`
/// means `application/json`; an `Accept` that lists nothing we produce gives None (406).
pub fn negotiate(accept: Option<&str>) -> Option<Media> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Media::Json);
    };
    let mut best: Option<((u32, u8), Media)> = None;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let ty = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let (media, rank) = match ty.as_str() {
            "application/graphql-response+json" => (Media::GraphqlResponse, 2),
            "application/json" => (Media::Json, 1),
            "application/*" | "*/*" => (Media::Json, 0),
            _ => continue,
        };
        let key = ((q.clamp(0.0, 1.0) * 1000.0) as u32, rank);
        if key.0 > 0 && best.is_none_or(|(b, _)| key > b) {
            best = Some((key, media));
        }
    }
    best.map(|(_, m)| m)
}

/// A request refused before execution: `{"errors": [...]}` without `data`.
pub struct Refusal {
    status: StatusCode,
    /// A request error in the spec's sense: 200 under application/json.
    request_error: bool,
    code: &'static str,
    message: String,
    allow: Option<&'static str>,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            request_error: false,
            code,
            message: message.into(),
            allow: None,
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", message)
    }

    pub fn respond(self, media: Media) -> Response {
        let status = if self.request_error && media == Media::Json {
            StatusCode::OK
        } else {
            self.status
        };
        let body =
            json!({"errors": [{"message": self.message, "extensions": {"code": self.code}}]});
        let mut resp = answer(status, media, &body);
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body is never read: the connection cannot carry another request.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<PersistedError> for Refusal {
    fn from(e: PersistedError) -> Self {
        let mut r = Refusal::new(StatusCode::BAD_REQUEST, e.code(), e.message());
        r.request_error = !matches!(e, PersistedError::Invalid(_));
        r
    }
}

fn answer(status: StatusCode, media: Media, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    answer_bytes(status, media, bytes)
}

fn answer_bytes(status: StatusCode, media: Media, bytes: Vec<u8>) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(media.content_type()),
            ),
            (
                header::VARY,
                HeaderValue::from_static("Accept, Authorization"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The parameters of one operation (`query`, `operationName`, `variables`, `extensions`).
type Params = Map<String, Value>;

enum Operations {
    Single(Params),
    Batch(Vec<Params>),
}

fn not_acceptable() -> Response {
    Refusal::new(
        StatusCode::NOT_ACCEPTABLE,
        "NOT_ACCEPTABLE",
        "Accept lists no type this server answers in: use application/graphql-response+json or application/json",
    )
    .respond(Media::Json)
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// `POST /graphql`: one operation, or a batch (an array), as `application/json`.
pub async fn post(State(http): State<Http>, headers: HeaderMap, body: Body) -> Response {
    let Some(media) = negotiate(accept(&headers)) else {
        return not_acceptable();
    };
    match read_post(&http, &headers, body).await {
        Ok(ops) => execute(&http, &headers, media, ops).await,
        Err(r) => r.respond(media),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let unsupported = |m: String| {
        Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            m,
        )
    };
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported(
            "send the body as Content-Type: application/json".into(),
        ));
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let mut parts = ct.split(';').map(str::trim);
    if parts.next() != Some("application/json") {
        return Err(unsupported(format!(
            "Content-Type {ct:?} is not supported: send application/json"
        )));
    }
    for p in parts {
        if let Some(cs) = p.strip_prefix("charset=")
            && !cs.trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(unsupported(format!(
                "charset {cs} is not supported: send utf-8"
            )));
        }
    }
    Ok(())
}

async fn read_post(http: &Http, headers: &HeaderMap, body: Body) -> Result<Operations, Refusal> {
    check_content_type(headers)?;
    let limits = &http.state.config.limits();
    let max = limits.body_bytes as usize;
    let wait = http.state.config.http_body_timeout_seconds;
    let read = axum::body::to_bytes(body, max);
    let bytes = match tokio::time::timeout(std::time::Duration::from_secs(wait), read).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            let mut r = Refusal::bad(format!(
                "the request body is over the limit of {max} bytes (setting GRAPHQL_MAX_BODY_BYTES)"
            ));
            r.status = StatusCode::PAYLOAD_TOO_LARGE;
            return Err(r);
        }
        Err(_) => {
            return Err(Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!(
                    "the request body did not arrive within {wait} s (setting HTTP_BODY_TIMEOUT_SECONDS)"
                ),
            ));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::bad(
            "the request body is empty: send {\"query\": \"…\"}",
        ));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Refusal::bad(format!(
            "malformed request body: expected JSON like {{\"query\": \"…\", \"variables\": {{…}}}}: {e}"
        ))
    })?;
    let ops = match value {
        Value::Object(m) => Operations::Single(m),
        Value::Array(items) => {
            if items.is_empty() || items.len() as u64 > limits.batch {
                return Err(Refusal::bad(format!(
                    "a batch must hold 1 to {} operations (setting GRAPHQL_MAX_BATCH); this one holds {}",
                    limits.batch,
                    items.len()
                )));
            }
            let ops = items.into_iter().map(|v| match v {
                Value::Object(m) => Ok(m),
                _ => Err(Refusal::bad(
                    "each operation of a batch must be a JSON object",
                )),
            });
            Operations::Batch(ops.collect::<Result<_, _>>()?)
        }
        _ => {
            return Err(Refusal::bad(
                "the request body must be a JSON object (or an array of them)",
            ));
        }
    };
    match ops {
        Operations::Single(mut p) => {
            prepare(http, &mut p).await?;
            Ok(Operations::Single(p))
        }
        Operations::Batch(mut ps) => {
            for p in &mut ps {
                prepare(http, p).await?;
            }
            Ok(Operations::Batch(ps))
        }
    }
}

/// Checks the parameters' types, resolves a persisted query, and requires a document.
async fn prepare(http: &Http, p: &mut Params) -> Result<(), Refusal> {
    type Check = fn(&Value) -> bool;
    let kinds: [(&str, Check, &str); 4] = [
        ("query", Value::is_string, "a string"),
        ("operationName", Value::is_string, "a string"),
        ("variables", Value::is_object, "an object"),
        ("extensions", Value::is_object, "an object"),
    ];
    for (name, ok, what) in kinds {
        if let Some(v) = p.get(name)
            && !v.is_null()
            && !ok(v)
        {
            return Err(Refusal::bad(format!("`{name}` must be {what}, got {v}")));
        }
    }
    http.persisted.resolve(p).await?;
    match p.get("query").and_then(Value::as_str) {
        Some(q) if !q.trim().is_empty() => Ok(()),
        _ => Err(Refusal::bad(
            "missing `query`: send the GraphQL document as {\"query\": \"…\"} (or a persisted query's hash in extensions.persistedQuery)",
        )),
    }
}

/// `GET /graphql`: a query (never a mutation) from the query string, or the WebSocket upgrade.
pub async fn get(State(http): State<Http>, req: Request) -> Response {
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        return websocket(http, req).await;
    }
    let Some(media) = negotiate(accept(req.headers())) else {
        return not_acceptable();
    };
    let mut p = match read_get(req.uri()) {
        Ok(p) => p,
        Err(r) => return r.respond(media),
    };
    if let Err(r) = prepare(&http, &mut p).await {
        return r.respond(media);
    }
    let query = p.get("query").and_then(Value::as_str).unwrap_or_default();
    let name = p.get("operationName").and_then(Value::as_str);
    if crate::server::operations::operation_types(query, name).contains(&OperationType::Mutation) {
        let mut r = Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        );
        r.allow = Some("POST");
        return r.respond(media);
    }
    execute(&http, req.headers(), media, Operations::Single(p)).await
}

/// The parameters of a GET: `variables` and `extensions` are URL-encoded JSON.
fn read_get(uri: &Uri) -> Result<Params, Refusal> {
    let Query(raw) = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map_err(|e| Refusal::bad(format!("malformed query string: {e}")))?;
    let mut p = Params::new();
    for (k, v) in raw {
        let value = match k.as_str() {
            "variables" | "extensions" => serde_json::from_str(&v)
                .map_err(|e| Refusal::bad(format!("`{k}` must be URL-encoded JSON: {e}")))?,
            _ => Value::String(v),
        };
        p.insert(k, value);
    }
    Ok(p)
}

/// Authenticates a bearer token (through the token cache).
pub async fn auth_state(state: &AppState, token: Option<&str>) -> AuthState {
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

/// The per-request data: the caller, and loaders bound to their company.
fn data_for(state: &AppState, auth: AuthState) -> Data {
    let mut data = Data::default();
    if let AuthState::User(a) = &auth {
        data.insert(Loaders::new(state.db.clone(), a.company_id));
    }
    data.insert(auth);
    data
}

pub fn header_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer)
}

fn to_request(
    state: &AppState,
    auth: &AuthState,
    p: Params,
) -> Result<async_graphql::Request, Refusal> {
    let mut r: async_graphql::Request = serde_json::from_value(Value::Object(p))
        .map_err(|e| Refusal::bad(format!("invalid request parameters: {e}")))?;
    r.data = data_for(state, auth.clone());
    Ok(r)
}

async fn execute(http: &Http, headers: &HeaderMap, media: Media, ops: Operations) -> Response {
    let auth = auth_state(&http.state, header_token(headers)).await;
    let state = &http.state;
    match ops {
        Operations::Single(p) => match to_request(state, &auth, p) {
            Ok(r) => respond(media, BatchResponse::Single(http.schema.execute(r).await)),
            Err(e) => e.respond(media),
        },
        // Each operation gets its own loaders; the caller is authenticated once.
        Operations::Batch(ps) => {
            let rs = ps.into_iter().map(|p| to_request(state, &auth, p));
            match rs.collect::<Result<Vec<_>, _>>() {
                Ok(rs) => {
                    let batch = async_graphql::BatchRequest::Batch(rs);
                    respond(media, http.schema.execute_batch(batch).await)
                }
                Err(e) => e.respond(media),
            }
        }
    }
}

/// Sorts every object's fields by name. async-graphql puts a query's fields in the order they
/// finish resolving (concurrently), so without this the same query could answer its fields in
/// a different order each time; sorted, as they were when the answer went through a JSON tree.
fn sort_fields(v: &mut async_graphql::Value) {
    match v {
        async_graphql::Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_fields);
        }
        async_graphql::Value::List(l) => l.iter_mut().for_each(sort_fields),
        _ => {}
    }
}

/// Whether a response is a request error: no data, and no error that happened during
/// execution (those carry a path).
fn is_request_error(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null
        && !r.errors.is_empty()
        && r.errors.iter().all(|e| e.path.is_empty())
}

/// One response as JSON, and whether it is a request error: no data, and no error that
/// happened during execution (those carry a path).
fn body_of(r: &async_graphql::Response) -> (Value, bool) {
    let request_error = is_request_error(r);
    let mut v = serde_json::to_value(r).unwrap_or_else(|e| {
        tracing::error!(error = %e, "serialising a GraphQL response");
        json!({"errors": [{"message": "internal error", "extensions": {"code": "INTERNAL"}}]})
    });
    if request_error && let Some(m) = v.as_object_mut() {
        m.remove("data");
    }
    (v, request_error)
}

fn respond(media: Media, resp: BatchResponse) -> Response {
    match resp {
        // The usual answer, with data: serialised straight to bytes, not through a JSON tree.
        BatchResponse::Single(mut r) if !is_request_error(&r) => match serde_json::to_vec({
            sort_fields(&mut r.data);
            &r
        }) {
            Ok(bytes) => answer_bytes(StatusCode::OK, media, bytes),
            Err(_) => answer(StatusCode::OK, media, &body_of(&r).0),
        },
        BatchResponse::Single(r) => {
            let (body, request_error) = body_of(&r);
            let status = if request_error && media == Media::GraphqlResponse {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            answer(status, media, &body)
        }
        BatchResponse::Batch(rs) => {
            let bodies = rs.iter().map(|r| body_of(r).0).collect();
            answer(StatusCode::OK, media, &Value::Array(bodies))
        }
    }
}

/// Whether a WebSocket upgrade may proceed: no `Origin` (servers, CLIs), the server's own
/// origin (the `Host` it was reached at), or one of `CORS_ALLOWED_ORIGINS`.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
    if allowed.contains(&origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
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
    if !origin_allowed(&parts.headers, &http.state.config.cors_allowed_origins) {
        return Refusal::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "this Origin may not open a WebSocket here: add it to CORS_ALLOWED_ORIGINS",
        )
        .respond(Media::Json);
    }
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
        return Refusal::bad(
            "unsupported WebSocket subprotocol: use graphql-transport-ws or graphql-ws",
        )
        .respond(Media::Json);
    };
    let Http {
        schema,
        state,
        live,
        ..
    } = http;
    upgrade
        .max_message_size(state.config.graphql_max_body_bytes as usize)
        .max_frame_size(state.config.graphql_max_body_bytes as usize)
        // Small buffers: most connections are idle subscribers (the defaults, 128 KiB each,
        // would cost ~150 KB per subscriber).
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| async move {
            let gauge = state.metrics.graphql_websocket_connections_active.clone();
            gauge.inc();
            let _guard = WsGuard(gauge);
            ws::serve(socket, protocol, schema, state, live).await
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_is_negotiated_by_weight_then_specificity() {
        use Media::*;
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(negotiate(Some("*/*")), Some(Json));
        assert_eq!(negotiate(Some("application/json")), Some(Json));
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(
            negotiate(Some("application/graphql-response+json, */*")),
            Some(GraphqlResponse)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }

    #[test]
    fn origins_are_the_servers_own_or_listed() {
        let h = |origin: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
            m.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            m
        };
        let listed = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed(&h("http://127.0.0.1:8080"), &[]));
        assert!(origin_allowed(&h("https://app.example.com"), &listed));
        assert!(!origin_allowed(&h("https://evil.example"), &listed));
        assert!(!origin_allowed(&h("http://127.0.0.1:9999"), &[]));
        assert!(origin_allowed(&HeaderMap::new(), &[]));
    }
}

//! What standard GraphQL clients and tools send, as they send it: graphql-js's full
//! introspection query, the graphql-http conformance audit, Relay's `node`, Apollo's persisted
//! query exchange, browsers' CORS preflights and WebSocket `Origin`s.
use crate::support::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use workflow_intel::config::Config;
use workflow_intel::model::Role;

/// The playground's npm package (graphql, graphql-http, playwright-core), or None with a
/// notice; REQUIRE_BROWSER=1 (CI) makes a missing one a failure.
pub fn node_package() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground");
    let have = dir.join("node_modules/graphql-http").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if have {
        return Some(dir);
    }
    let msg = "client tool test skipped: needs node and `npm ci` in playground/";
    if std::env::var("REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("NOTICE: {msg}");
    None
}

/// Runs `node SCRIPT ARGS…` from the playground package (with `CHROMIUM` set when given)
/// and parses the JSON it prints on its last line.
pub async fn node_json(dir: &Path, script: &str, args: &[&str], chromium: Option<&str>) -> Value {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join(script)).args(args);
    if let Some(c) = chromium {
        cmd.env("CHROMIUM", c);
    }
    let out = cmd.output().await.expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} {args:?} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("null"))
        .unwrap_or_else(|e| panic!("bad output {e}: {stdout}"))
}

async fn clients(dir: &Path, args: &[&str]) -> Value {
    node_json(dir, "clients.mjs", args, None).await
}

#[tokio::test]
async fn graphql_js_full_introspection_builds_the_schema_in_schema_graphql() {
    let Some(dir) = node_package() else { return };
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Viewer).await;
    let schema_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let url = app.url("/graphql");
    let report = clients(
        &dir,
        &["introspect", &url, &t, schema_file.to_str().unwrap()],
    )
    .await;
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["differences"], json!([]), "{report}");
    // Every type, field, argument and enum value: far more than a handful.
    assert!(report["lines"].as_u64().unwrap() > 500, "{report}");
}

#[tokio::test]
async fn the_graphql_over_http_audit_passes_every_item() {
    let Some(dir) = node_package() else { return };
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Viewer).await;
    let url = app.url("/graphql");
    let results = clients(&dir, &["audit", &url, &t]).await;
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 61, "graphql-http's audit changed size");
    let failing: Vec<&Value> = results.iter().filter(|r| r["status"] != "ok").collect();
    assert!(failing.is_empty(), "{failing:#?}");
}

async fn post_raw(app: &TestApp, headers: &[(&str, &str)], body: &str) -> (u16, String, Value) {
    let mut req = app.client.post(app.url("/graphql")).body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    (status, ct, resp.json().await.unwrap())
}

const GQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn media_types_are_negotiated_with_the_specs_status_codes() {
    let app = TestApp::spawn().await;
    let json_ct = [("content-type", "application/json")];
    let both = [
        ("content-type", "application/json"),
        ("accept", GQL_RESPONSE),
    ];
    // A validation failure: 400 and no data under graphql-response+json…
    let bad = r#"{"query": "{ nonsense }"}"#;
    let (status, ct, v) = post_raw(&app, &both, bad).await;
    assert_eq!((status, ct.starts_with(GQL_RESPONSE)), (400, true), "{v}");
    assert!(
        v.get("data").is_none() && code(&v) == "BAD_USER_INPUT",
        "{v}"
    );
    // …200 under application/json, the default for clients that don't ask.
    let (status, ct, v) = post_raw(&app, &json_ct, bad).await;
    assert_eq!(
        (status, ct.starts_with("application/json")),
        (200, true),
        "{v}"
    );
    assert!(v.get("data").is_none(), "{v}");
    // An execution error is not a request error: 200 with data, under either type.
    let unauth = r#"{"query": "{ viewer { email } }"}"#;
    let (status, _, v) = post_raw(&app, &both, unauth).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(code(&v), "UNAUTHENTICATED");
    assert!(v.get("data").is_some(), "{v}");
    // A POST without a usable Content-Type.
    let (status, _, v) = post_raw(&app, &[], unauth).await;
    assert_eq!((status, code(&v)), (415, "UNSUPPORTED_MEDIA_TYPE"));
    let (status, _, _) = post_raw(&app, &[("content-type", "text/plain")], unauth).await;
    assert_eq!(status, 415);
    // Nothing acceptable; a missing query; a mistyped parameter.
    let (status, _, _) = post_raw(&app, &[json_ct[0], ("accept", "text/html")], unauth).await;
    assert_eq!(status, 406);
    let (status, _, v) = post_raw(&app, &json_ct, r#"{"qeury": "{ __typename }"}"#).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("missing `query`"), "{v}");
    let (status, _, v) = post_raw(
        &app,
        &json_ct,
        r#"{"query": "{ __typename }", "variables": "x"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("`variables` must be an object"), "{v}");
}

#[tokio::test]
async fn a_refused_document_names_the_limit_it_hit_and_by_how_much() {
    let config = Config {
        graphql_max_depth: 3,
        graphql_max_aliases: 2,
        graphql_max_complexity: 10,
        ..Config::default()
    };
    let app = TestApp::spawn_with(config).await;
    let t = app.token("Acme", "admin@acme.io", Role::Viewer).await;
    let cases = [
        ("{ workflows { edges { node { name } } } }", "depth", 4),
        (
            "{ a: viewer { email } b: viewer { email } c: viewer { email } }",
            "alias count",
            3,
        ),
        (
            "{ viewer { email role userId companyId } workflows { totalCount } actions { totalCount } w: workflows { totalCount } }",
            "complexity",
            11,
        ),
    ];
    for (query, limit, actual) in cases {
        let v = app.gql(Some(&t), query, json!({})).await;
        let e = &v["errors"][0]["extensions"];
        assert_eq!(e["code"], "LIMIT_EXCEEDED", "{v}");
        assert_eq!(e["limit"], limit, "{v}");
        assert_eq!(e["actual"], actual, "{v}");
        assert!(message(&v).contains("GRAPHQL_MAX_"), "{v}");
    }
    // The standard introspection shape passes a depth limit of 3.
    let v = app
        .data(
            &t,
            "{ __schema { types { fields { args { type { ofType { ofType { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert!(v["__schema"]["types"].as_array().unwrap().len() > 20);
}

#[tokio::test]
async fn node_refetches_any_object_by_id_within_the_callers_company_only() {
    let app = TestApp::spawn().await;
    let a = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let b = app.token("Beta", "admin@beta.io", Role::Admin).await;
    let wf = create_workflow(
        &app,
        &a,
        "Refetch Me",
        json!([{"name": "s", "action": "x"}]),
    )
    .await;
    let sla = app
        .data(&a, "mutation($w: ID!) { createSla(input: {workflowId: $w, name: \"Fast\", targetDurationSeconds: 60}) { sla { id } } }", json!({"w": wf["id"]}))
        .await["createSla"]["sla"]["id"]
        .clone();
    let me = app.data(&a, "{ viewer { userId } }", json!({})).await["viewer"]["userId"].clone();
    let q = "query($id: ID!) { node(id: $id) { __typename id ... on Workflow { name } ... on Sla { name } } }";
    let v = app.data(&a, q, json!({"id": wf["id"]})).await;
    assert_eq!(
        v["node"],
        json!({"__typename": "Workflow", "id": wf["id"], "name": "Refetch Me"})
    );
    // Another company's id is null, exactly like an unknown or malformed one.
    for id in [
        wf["id"].clone(),
        json!(uuid::Uuid::now_v7().to_string()),
        json!("nope"),
    ] {
        let v = app.gql(Some(&b), q, json!({"id": id})).await;
        assert_eq!(v, json!({"data": {"node": null}}));
    }
    let many = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }";
    let ids = json!([sla, "nope", wf["id"], me, wf["id"]]);
    let v = app.data(&a, many, json!({"ids": ids})).await;
    let types: Vec<Value> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["__typename"].clone())
        .collect();
    assert_eq!(
        types,
        vec![
            json!("Sla"),
            Value::Null,
            json!("Workflow"),
            json!("User"),
            json!("Workflow")
        ]
    );
    let v = app.data(&b, many, json!({"ids": ids})).await;
    assert!(
        v["nodes"].as_array().unwrap().iter().all(Value::is_null),
        "{v}"
    );
    let too_many: Vec<String> = (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let v = app.gql(Some(&a), many, json!({"ids": too_many})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
}

fn sha256(q: &str) -> String {
    hex::encode(Sha256::digest(q.as_bytes()))
}

#[tokio::test]
async fn apollo_persisted_queries_register_once_then_run_by_hash_over_post_and_get() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Viewer).await;
    let query = "query Me { viewer { email } }";
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}});
    let post = |body: Value| {
        app.client
            .post(app.url("/graphql"))
            .bearer_auth(&t)
            .header(
                "accept",
                "application/graphql-response+json,application/json;q=0.9",
            )
            .json(&body)
            .send()
    };
    // Apollo Client's exchange: the hash alone, a miss, then the query with its hash.
    let resp = post(json!({"extensions": ext, "operationName": "Me"}))
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(message(&v), "PersistedQueryNotFound");
    assert_eq!(code(&v), "PERSISTED_QUERY_NOT_FOUND");
    let v: Value = post(json!({"query": query, "extensions": ext}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["viewer"]["email"], "admin@acme.io");
    let v: Value = post(json!({"extensions": ext}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["viewer"]["email"], "admin@acme.io");
    // By hash over GET: a short URL a CDN can key on.
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("operationName", "Me"), ("extensions", &ext.to_string())])
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Authorization")
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"]["viewer"]["email"], "admin@acme.io");
    // A hash that is not the query's is refused, and does not poison the cache.
    let lie = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256("{ __typename }")}});
    let resp = post(json!({"query": query, "extensions": lie}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = post(json!({"extensions": lie}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&v), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn a_mutation_persisted_by_hash_still_cannot_run_over_get() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let m = "mutation { deleteAction(input: {id: \"00000000-0000-0000-0000-000000000000\"}) { deletedId } }";
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(m)}});
    let v = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&t)
        .json(&json!({"query": m, "extensions": ext}))
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), 200);
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", ext.to_string())])
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_answers_listed_origins_only_and_never_with_credentials() {
    let listed = "http://app.example.com";
    let app = TestApp::spawn_with(Config {
        cors_allowed_origins: vec![listed.into()],
        ..Config::default()
    })
    .await;
    let resp = preflight(&app, listed).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], listed);
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert!(h.get("access-control-allow-credentials").is_none());
    let resp = preflight(&app, "http://evil.example").await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // The default: same origin only.
    let plain = TestApp::spawn().await;
    let resp = preflight(&plain, listed).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

async fn upgrade_status(app: &TestApp, origin: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = app
        .url("/graphql")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

#[tokio::test]
async fn websocket_origins_are_checked_against_the_same_list() {
    let listed = "http://app.example.com";
    let app = TestApp::spawn_with(Config {
        cors_allowed_origins: vec![listed.into()],
        ..Config::default()
    })
    .await;
    let own = app.url("");
    assert_eq!(
        upgrade_status(&app, None).await,
        101,
        "no Origin: a server or CLI"
    );
    assert_eq!(
        upgrade_status(&app, Some(&own)).await,
        101,
        "the server's own origin"
    );
    assert_eq!(upgrade_status(&app, Some(listed)).await, 101);
    assert_eq!(upgrade_status(&app, Some("http://evil.example")).await, 403);
}

/// A page on a second origin (another port) that queries the API over HTTP and over a
/// WebSocket, as a frontend served from its own origin does.
fn cross_origin_page(api: &str, token: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>app</title><script>
const API = "{api}", T = "{token}", Q = "{{ viewer {{ email }} }}";
window.result = (async () => {{
  const out = {{}};
  try {{
    const r = await fetch(API + "/graphql", {{method: "POST", body: JSON.stringify({{query: Q}}),
      headers: {{"content-type": "application/json", authorization: "Bearer " + T}}}});
    out.http = (await r.json()).data.viewer.email;
  }} catch (e) {{ out.http = "refused"; }}
  out.ws = await new Promise((resolve) => {{
    const ws = new WebSocket(API.replace("http", "ws") + "/graphql", "graphql-transport-ws");
    ws.onopen = () => ws.send(JSON.stringify({{type: "connection_init", payload: {{Authorization: "Bearer " + T}}}}));
    ws.onmessage = (m) => {{
      const msg = JSON.parse(m.data);
      if (msg.type === "connection_ack") ws.send(JSON.stringify({{id: "1", type: "subscribe", payload: {{query: Q}}}}));
      if (msg.type === "next") {{ resolve(msg.payload.data.viewer.email); ws.close(1000); }}
    }};
    ws.onerror = () => resolve("refused");
  }});
  return out;
}})();
</script>"#
    )
}

#[tokio::test]
async fn a_browser_app_on_a_listed_origin_queries_and_subscribes_and_an_unlisted_one_cannot() {
    let Some(dir) = node_package() else { return };
    let Some(browser) = crate::browser::available("CORS browser test") else {
        return;
    };
    for listed in [true, false] {
        // The page's origin must be known before the server starts: bind it first.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let config = Config {
            cors_allowed_origins: if listed { vec![origin.clone()] } else { vec![] },
            ..Config::default()
        };
        let app = TestApp::spawn_with(config).await;
        let t = app.token("Acme", "admin@acme.io", Role::Viewer).await;
        let html = cross_origin_page(&app.url(""), &t);
        let router = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(html) }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        let page = format!("{origin}/");
        let result = node_json(&dir, "page-result.mjs", &[&page], Some(&browser)).await;
        let expected = if listed {
            json!({"http": "admin@acme.io", "ws": "admin@acme.io"})
        } else {
            json!({"http": "refused", "ws": "refused"})
        };
        assert_eq!(result, expected, "listed: {listed}");
    }
}

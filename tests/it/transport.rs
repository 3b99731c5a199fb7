//! HTTP and WebSocket transport: bad input gets clear errors and the server stays up.
use crate::support::*;
use serde_json::{Value, json};
use workflow_intel::model::Role;

async fn raw_post(app: &TestApp, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON error body"))
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;

    let (status, v) = raw_post(&app, "{\"query\": \"{ actions { totalCount } ").await;
    assert_eq!(status, 400);
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("malformed"));

    let v = app
        .gql(Some(&t), "{ actions { totalCount nonsense } }", json!({}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("nonsense"));

    let v = app
        .gql(
            Some(&t),
            "query($f: Int) { actions(first: $f) { totalCount } }",
            json!({"f": "ten"}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");

    let v = app
        .gql(Some(&t), "{ actions(first: 1 { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");

    let big = format!(
        "{{\"query\": \"{{ actions {{ totalCount }} }}\", \"variables\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let (status, v) = raw_post(&app, big).await;
    assert_eq!(status, 413);
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("GRAPHQL_MAX_BODY_BYTES"), "{v}");

    // A hostile introspection document: too deep even for introspection's own limit.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(25),
        "} ".repeat(25)
    );
    let v = app.gql(Some(&t), &deep, json!({})).await;
    assert_eq!(code(&v), "LIMIT_EXCEEDED", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["limit"], "introspection depth");
    assert!(v.get("data").is_none(), "a request error has no data: {v}");

    // Still serving.
    let d = app.data(&t, "{ actions { totalCount } }", json!({})).await;
    assert_eq!(d["actions"]["totalCount"], 0);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// Documents are parsed once and kept by their text; every request is still checked: a kept
/// document over a limit is refused every time, and NUL in the variables of a document kept
/// from a clean request is refused too.
#[tokio::test]
async fn a_document_parsed_once_is_still_checked_on_every_request() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(25),
        "} ".repeat(25)
    );
    for _ in 0..3 {
        let v = app.gql(Some(&t), &deep, json!({})).await;
        assert_eq!(code(&v), "LIMIT_EXCEEDED", "{v}");
    }
    let q = "query($n: String) { workflows(first: 1, filter: {search: $n}) { totalCount } }";
    for _ in 0..2 {
        let d = app.data(&t, q, json!({"n": "clean"})).await;
        assert_eq!(d["workflows"]["totalCount"], 0, "{d}");
    }
    let v = app.gql(Some(&t), q, json!({"n": "a\u{0}b"})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert!(message(&v).contains("NUL"), "{v}");
    // A document that does not parse is answered alike each time.
    for _ in 0..2 {
        let v = app
            .gql(Some(&t), "{ workflows(first: 1 { totalCount } }", json!({}))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    }
}

/// A response's fields come in one order, by name, whatever order they finish resolving in
/// (async-graphql resolves a query's fields concurrently and records them as they finish).
#[tokio::test]
async fn fields_come_in_one_order_whatever_order_they_resolve_in() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let query =
        "{ zz: __typename workflows(first: 1) { totalCount edges { cursor } } aa: __typename }";
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let text = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&t)
            .json(&json!({"query": query}))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("body");
        seen.insert(text);
    }
    let texts: Vec<String> = seen.into_iter().collect();
    assert_eq!(
        texts,
        [
            "{\"data\":{\"aa\":\"Query\",\"workflows\":{\"edges\":[],\"totalCount\":0},\"zz\":\"Query\"}}"
        ]
    );
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ viewer { email } }")])
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"]["viewer"]["email"], "admin@acme.io");
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            "mutation { deleteAction(input: {id: \"x\"}) { deletedId } }",
        )])
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    app.data(&t, "{ actions { totalCount } }", json!({})).await;
    let _ = app.gql(None, "{ actions { totalCount } }", json!({})).await;
    let text = app.metrics().await;
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let value = |name: &str, label: (&str, &str)| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    assert!(
        value("graphql_requests_total", ("outcome", "ok")) >= 1.0,
        "{text}"
    );
    assert!(
        value("graphql_requests_total", ("outcome", "error")) >= 1.0,
        "{text}"
    );
    assert!(
        value("http_requests_total", ("route", "/graphql")) >= 2.0,
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
    // The scrape reflects the same registry the server updates.
    let in_process = app
        .app
        .state
        .metrics
        .graphql_requests_total
        .with_label_values(&["query", "ok"])
        .get();
    assert!(in_process >= 1);
}

#[tokio::test]
async fn websocket_handshake_on_graphql_path() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;

    // graphql-transport-ws with the Authorization form.
    let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
    ws.send(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {t}")}}),
    )
    .await;
    let ack = ws.next().await.expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    // A query over the socket runs as the token's user.
    ws.send(json!({"type": "subscribe", "id": "1", "payload": {"query": "{ viewer { email } }"}}))
        .await;
    let next = ws.next().await.expect("next");
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["viewer"]["email"], "admin@acme.io");
    let complete = ws.next().await.expect("complete");
    assert_eq!(complete["type"], "complete");

    // The legacy graphql-ws protocol with the token form.
    let mut ws = Ws::connect(&app, "graphql-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"token": t}}))
        .await;
    let ack = ws.next().await.expect("ack");
    assert_eq!(ack["type"], "connection_ack");

    // No token: refused.
    let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {}}))
        .await;
    let refused = ws.next().await;
    assert!(
        refused
            .as_ref()
            .is_none_or(|m| m["type"] != "connection_ack"),
        "{refused:?}"
    );
}

/// A batch as Apollo's BatchHttpLink sends it (an array of operations with their names and
/// variables): answered in order, each operation checked on its own (limits, NUL), and one
/// refusal does not take the others down.
#[tokio::test]
async fn a_batch_is_answered_in_order_and_each_operation_is_checked_on_its_own() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let aliases: String = (0..=app.app.state.config.graphql_max_aliases)
        .map(|i| format!(" a{i}: __typename"))
        .collect();
    let batch = json!([
        {"operationName": "Me", "variables": {}, "query": "query Me { viewer { email } }"},
        {"operationName": null, "variables": {}, "query": format!("{{{aliases} }}")},
        {"operationName": "W", "variables": {"n": "a\u{0}b"},
         "query": "query W($n: String) { workflows(first: 1, filter: {search: $n}) { totalCount } }"},
        {"operationName": "W", "variables": {"n": "x"},
         "query": "query W($n: String) { workflows(first: 1, filter: {search: $n}) { totalCount } }"},
    ]);
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&t)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let answers = v.as_array().expect("an array of answers");
    assert_eq!(answers.len(), 4, "{v}");
    assert_eq!(
        answers[0]["data"]["viewer"]["email"], "admin@acme.io",
        "{v}"
    );
    assert_eq!(code(&answers[1]), "LIMIT_EXCEEDED", "{v}");
    assert_eq!(
        answers[1]["errors"][0]["extensions"]["limit"],
        "alias count"
    );
    assert_eq!(code(&answers[2]), "BAD_USER_INPUT", "{v}");
    assert!(message(&answers[2]).contains("NUL"), "{v}");
    assert_eq!(answers[3]["data"]["workflows"]["totalCount"], 0, "{v}");
}

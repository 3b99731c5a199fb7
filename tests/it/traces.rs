//! Traces over OTLP: the server binary, given `OTEL_EXPORTER_OTLP_ENDPOINT`, sends its spans
//! to a receiver on loopback that speaks OTLP/HTTP (JSON encoding); the dashboard query's
//! trace holds the request, the `slaBreaches` resolver and, under it, its SQL statements.
use crate::cli::CliDb;
use crate::smtp::free_port;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DASHBOARD: &str = "{ slaBreaches(first: 20) { totalCount nodes { id severity sla { name targetDurationSeconds } execution { id status workflow { name } } } } }";

/// Every span received: (name, span id, parent span id, trace id, attributes).
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Span>>>);

#[derive(Clone, Debug)]
struct Span {
    name: String,
    id: String,
    parent: String,
    trace: String,
    attributes: HashMap<String, Value>,
}

async fn receive(State(r): State<Received>, body: Bytes) -> &'static str {
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let spans = doc["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default());
    let mut got = r.0.lock().unwrap();
    for s in spans {
        let attributes = s["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["key"].as_str().unwrap_or_default().to_string(),
                    a["value"].clone(),
                )
            })
            .collect();
        got.push(Span {
            name: s["name"].as_str().unwrap_or_default().into(),
            id: s["spanId"].as_str().unwrap_or_default().into(),
            parent: s["parentSpanId"].as_str().unwrap_or_default().into(),
            trace: s["traceId"].as_str().unwrap_or_default().into(),
            attributes,
        });
    }
    "{}"
}

async fn receiver() -> (Received, String) {
    let r = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, format!("http://{addr}"))
}

fn text(s: &Span, key: &str) -> String {
    s.attributes
        .get(key)
        .and_then(|v| v["stringValue"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The dashboard query's resolver span and the statements under it, once all have arrived.
fn dashboard_trace(spans: &[Span]) -> Option<(Span, Vec<Span>)> {
    let field = spans
        .iter()
        .find(|s| s.name == "field" && text(s, "path") == "slaBreaches")?;
    let statements: Vec<Span> = spans
        .iter()
        .filter(|s| s.parent == field.id && s.name == "SELECT")
        .cloned()
        .collect();
    (!statements.is_empty()).then(|| (field.clone(), statements))
}

#[tokio::test]
async fn the_dashboard_query_s_trace_holds_its_resolver_and_its_statements() {
    let (received, endpoint) = receiver().await;
    let db = CliDb::new().await;
    let token = db.admin_token();
    let bind = format!("127.0.0.1:{}", free_port());
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let mut child = db.spawn_limited(&["serve", "--bind", &bind], &env, 1024);
    let client = reqwest::Client::new();
    let base = format!("http://{bind}");
    let mut up = false;
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not answer on {bind}");
    let answer: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": DASHBOARD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["slaBreaches"]["totalCount"], 0, "{answer}");
    let mut found = None;
    for _ in 0..100 {
        found = dashboard_trace(&received.0.lock().unwrap());
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let spans = received.0.lock().unwrap().clone();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let (field, statements) = found.unwrap_or_else(|| panic!("no dashboard trace in {names:?}"));
    // The statement reads the breaches (the page, with its joins) and their count, with the
    // SQL (placeholders, not values) and the store: one statement, the count a subquery.
    let sql: Vec<String> = statements
        .iter()
        .map(|s| text(s, "db.query.text"))
        .collect();
    assert!(
        sql.iter().any(|q| q.contains("FROM \"sla_breaches\"")),
        "{sql:?}"
    );
    assert!(
        sql.iter().any(|q| q.contains("sla_breach_counts")),
        "{sql:?}"
    );
    for s in &statements {
        assert!(text(s, "db.query.text").contains("sla_breach"), "{s:?}");
        assert!(
            ["sqlite", "postgresql"].contains(&text(s, "db.system.name").as_str()),
            "{s:?}"
        );
        assert_eq!(s.trace, field.trace);
    }
    // The resolver is inside the request: one trace from the request down to the SQL.
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut up = &field;
    let mut chain = vec![up.name.clone()];
    while let Some(p) = by_id.get(up.parent.as_str()) {
        up = p;
        chain.push(up.name.clone());
    }
    assert_eq!(
        chain.last().map(String::as_str),
        Some("request"),
        "{chain:?}"
    );
    assert!(chain.contains(&"execute".to_string()), "{chain:?}");
}

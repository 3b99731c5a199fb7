//! The playground in headless Chromium, with every request outside our server blocked:
//! GraphiQL renders and runs a query. Skipped with a notice where Chromium or the playground's
//! node_modules are missing, unless REQUIRE_BROWSER=1 (CI) makes that a failure.
use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;
use workflow_intel::model::Role;

#[tokio::test]
async fn playground_renders_and_runs_a_query_offline() {
    let Some(browser) = crate::browser::available("playground browser test") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground/e2e.mjs");
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let wf = create_workflow(
        &app,
        &t,
        "Playground Check",
        json!([{"name": "s", "action": "x"}]),
    )
    .await;
    app.data(
        &t,
        "mutation($w: ID!) { createSla(input: {workflowId: $w, name: \"Playground SLA\", targetDurationSeconds: 50}) { sla { id } } }",
        json!({"w": wf["id"]}),
    )
    .await;
    let started = app
        .data(&t, "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id startedAt } } }", json!({"w": wf["id"]}))
        .await["startExecution"]["execution"]
        .clone();
    let started_at =
        chrono::DateTime::parse_from_rfc3339(started["startedAt"].as_str().unwrap()).unwrap();
    // 55 s: over the 50 s target, and within CLOCK_SKEW_SECONDS of the server's time (the
    // watcher would only record the breach itself 50 s after the start, long after the page).
    let completed_at = (started_at + chrono::Duration::seconds(55)).to_rfc3339();

    let out = tokio::process::Command::new("node")
        .arg(&script)
        .arg(app.url(""))
        .arg(&t)
        .arg(started["id"].as_str().unwrap())
        .arg(&completed_at)
        .env("CHROMIUM", &browser)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "e2e failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("bad report {e}: {stdout}"));
    assert_eq!(
        report["blocked"],
        json!([]),
        "the page tried to reach other hosts"
    );
    assert!(
        report["result"]
            .as_str()
            .unwrap()
            .contains("Playground Check"),
        "{report}"
    );
    assert!(report["requests"].as_u64().unwrap() >= 3, "{report}");
    assert_the_schema_reached_docs_and_editor(&report);
    // The subscription ran over a WebSocket to our own /graphql and showed the breach.
    let sockets = report["websockets"].as_array().unwrap();
    assert!(!sockets.is_empty(), "{report}");
    let ws_origin = app.url("/graphql").replace("http://", "ws://");
    assert!(
        sockets
            .iter()
            .all(|u| u.as_str().unwrap().starts_with(&ws_origin)),
        "{report}"
    );
    assert_eq!(report["completion"], 200);
    let sub = report["subscription"].as_str().unwrap();
    assert!(
        sub.contains("DETECTED") && sub.contains("Playground SLA"),
        "{report}"
    );
}

/// GraphiQL's own introspection passed the limits: the docs explorer lists Query's fields,
/// nothing went wrong on first load, and the editor completes a field name.
fn assert_the_schema_reached_docs_and_editor(report: &Value) {
    let docs = report["docsFields"].as_array().unwrap();
    for field in ["workflows", "slaBreaches", "node", "nodes"] {
        assert!(
            docs.iter().any(|f| f == field),
            "{field} missing from {docs:?}"
        );
    }
    let first = report["initialResult"].as_str().unwrap();
    assert!(!first.contains("error"), "first load showed: {first}");
    let hints = report["hints"].as_array().unwrap();
    assert!(hints.iter().any(|h| h == "slaBreaches"), "{report}");
}

//! The demo tells one story: its SLA fits its history, a typical request is predicted inside
//! it (a large one, waiting on the director and the CFO, is predicted past it), the catalog's latency classes agree with what the history recorded, and a live run that
//! breaches records its steps, so the heat map shows where its time went.
use crate::sla::{eventually, t0};
use crate::support::*;
use chrono::Duration;
use serde_json::json;
use std::sync::Arc;
use workflow_intel::clock::ManualClock;
use workflow_intel::config::Config;
use workflow_intel::model::LatencyClass;
use workflow_intel::seed;

const SIMULATE: &str = r#"mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) { simulation {
  status warnings { code message } executionPath { name predictedDurationMs } } } }"#;

/// Whether an average of `ms` agrees with `class`: it lies between the neighbouring classes'
/// documented defaults.
fn agrees(class: LatencyClass, ms: f64) -> bool {
    use LatencyClass::*;
    let order = [Instant, Fast, Medium, Slow, VerySlow];
    let i = order.iter().position(|c| *c == class).unwrap();
    let below = i
        .checked_sub(1)
        .map_or(0.0, |j| order[j].default_duration_ms() as f64);
    let above = order
        .get(i + 1)
        .map_or(f64::MAX, |c| c.default_duration_ms() as f64);
    below < ms && ms < above
}

#[tokio::test]
async fn the_demo_sla_fits_its_history_and_a_live_breach_shows_on_the_heat_map() {
    let clock = Arc::new(ManualClock::new(t0()));
    let mut conn = fresh_db().await;
    workflow_intel::db::migrate(&conn).await.unwrap();
    let issued = seed::seed_demo(&conn).await.unwrap();
    let app = TestApp::spawn_on(Config::default(), &mut conn, Some(clock.clone())).await;
    let admin = seed::demo_auth(&issued);
    let state = &app.app.state;
    seed::seed_demo_history(state, &admin).await.unwrap();
    seed::seed_demo_sla(state, &admin).await.unwrap();
    let token = issued.token;
    let q = "{ workflows(first: 50) { nodes { id name } } slas(first: 10) { nodes { id targetDurationSeconds metrics { total met compliancePercentage targetPercentage meetsTarget } } } }";
    let d = app.data(&token, q, json!({})).await;
    let wf = id_named(&d["workflows"], seed::DISCOUNT_WORKFLOW);
    let m = &d["slas"]["nodes"][0]["metrics"];
    assert!(
        m["total"].as_i64().unwrap() >= 20,
        "the last day has history: {m}"
    );
    assert_eq!(m["meetsTarget"], true, "the SLA fits its history: {m}");

    simulations_fit(&app, &token, &wf).await;
    classes_agree(&app, &token).await;
    live_breach_shows_on_the_heat_map(&app, &token, &wf, &clock, &admin).await;
}

/// A typical request (a small discount) is predicted inside the SLA; a large one is not.
async fn simulations_fit(app: &TestApp, token: &str, wf: &str) {
    // A typical request (a small discount) is predicted inside the SLA; a large one is not.
    let sim = |amount: i64| json!({"input": {"workflowId": wf, "inputData": {"amount": amount, "customer": "Customer 1"}}});
    let typical =
        app.data(token, SIMULATE, sim(4_000)).await["simulateWorkflow"]["simulation"].clone();
    let codes: Vec<&str> = typical["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    assert!(!codes.contains(&"SLA_TARGET_EXCEEDED"), "{typical}");
    let large =
        app.data(token, SIMULATE, sim(70_000)).await["simulateWorkflow"]["simulation"].clone();
    let total = |v: &serde_json::Value| -> i64 {
        v["executionPath"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["predictedDurationMs"].as_i64())
            .sum()
    };
    assert!(
        total(&typical) < 45_000 && total(&large) > 2 * total(&typical),
        "{typical} {large}"
    );
    // A large one waits on the director and the CFO: over the target, as in the history.
    assert!(
        large["warnings"]
            .to_string()
            .contains("SLA_TARGET_EXCEEDED"),
        "{large}"
    );
}

/// The catalog's classes agree with the recorded averages.
async fn classes_agree(app: &TestApp, token: &str) {
    // The catalog's classes agree with the recorded averages.
    let q = "{ actions(first: 20) { nodes { actionType latencyClass avgExecutionTimeMs executionCount } } }";
    let actions = app.data(token, q, json!({})).await["actions"]["nodes"].clone();
    let measured: Vec<&serde_json::Value> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["executionCount"].as_i64() > Some(0))
        .collect();
    assert_eq!(measured.len(), 2, "validation and approval: {actions}");
    for a in measured {
        let class =
            LatencyClass::parse(&a["latencyClass"].as_str().unwrap().to_ascii_lowercase()).unwrap();
        assert!(
            agrees(class, a["avgExecutionTimeMs"].as_f64().unwrap()),
            "{a}"
        );
    }
}

/// A live run of a large discount: no breached time before, some after it breaches.
async fn live_breach_shows_on_the_heat_map(
    app: &TestApp,
    token: &str,
    wf: &str,
    clock: &ManualClock,
    admin: &workflow_intel::auth::AuthContext,
) {
    let state = &app.app.state;
    // A live run of a large discount: no breached time before, some after it breaches.
    let share = || async {
        let q = "query($id: ID!) { workflow(id: $id) { stepStats { step breachedTimeShare } } }";
        let s = app.data(token, q, json!({"id": wf})).await["workflow"]["stepStats"].clone();
        s.as_array()
            .unwrap()
            .iter()
            .map(|x| x["breachedTimeShare"].as_f64().unwrap())
            .sum::<f64>()
    };
    let before = share().await;
    let q = "mutation($w: ID!) { startExecution(input: {workflowId: $w, inputData: {amount: 60000}}) { execution { id startedAt } } }";
    let e = app.data(token, q, json!({"w": wf})).await["startExecution"]["execution"].clone();
    clock.advance(Duration::seconds(seed::demo_run_seconds(60_000)));
    eventually("the live breach", || async {
        let q = "{ unacknowledgedBreaches(first: 10) { nodes { execution { id } } } }";
        let b = app.data(token, q, json!({})).await["unacknowledgedBreaches"]["nodes"].clone();
        b.as_array()
            .unwrap()
            .iter()
            .any(|x| x["execution"]["id"] == e["id"])
    })
    .await;
    let id = uuid::Uuid::parse_str(e["id"].as_str().unwrap()).unwrap();
    let started = e["startedAt"].as_str().unwrap().parse().unwrap();
    seed::finish_demo_run(state, admin, id, started, 60_000)
        .await
        .unwrap();
    let after = share().await;
    assert!(after > before, "breached time {before} -> {after}");
    let q = "query($id: ID!) { execution(id: $id) { status steps { stepName durationMs } } }";
    let run = app.data(token, q, json!({"id": e["id"]})).await["execution"].clone();
    let names: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["stepName"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Validate",
            "Manager Approval",
            "Director Approval",
            "CFO Approval"
        ],
        "{run}"
    );
}

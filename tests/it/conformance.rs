//! A model that allows far more than its history: `Workflow.conformance` measures it, and a
//! simulation says so, along with a route the input did not decide and a path no case took.
use crate::support::{TestApp, create_action, create_workflow};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use workflow_intel::model::Role;

/// Any of a, b, c and d, again and again: a flower.
fn flower() -> Value {
    let branch = |s: &str| json!({"condition": {"route": s}, "next_step": s, "probability": 0.2});
    let mut branches: Vec<Value> = ["a", "b", "c", "d"].iter().map(|s| branch(s)).collect();
    branches.push(json!({"condition": {"route": "done"}, "next_step": "$end", "probability": 0.2}));
    let task = |s: &str| json!({"name": s, "action": format!("task_{s}"), "default_next": "pick"});
    json!([
        {"name": "pick", "action": "gateway", "max_iterations": 5, "branches": branches,
         "default_next": "$end"},
        task("a"), task("b"), task("c"), task("d"),
    ])
}

fn case(wf: &str, n: i64) -> Value {
    let start = Utc::now() - Duration::days(2) + Duration::minutes(n * 10);
    let steps: Vec<Value> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let a = start + Duration::seconds(i as i64 * 60);
            json!({"stepName": s, "status": "COMPLETED", "startedAt": a.to_rfc3339(),
                   "completedAt": (a + Duration::seconds(60)).to_rfc3339()})
        })
        .collect();
    json!({"workflowId": wf, "externalId": format!("case-{n}"), "status": "COMPLETED",
           "startedAt": start.to_rfc3339(), "completedAt": (start + Duration::seconds(240)).to_rfc3339(),
           "steps": steps})
}

#[tokio::test]
async fn a_flower_is_measured_as_imprecise_and_its_simulation_says_what_it_assumed() {
    let app = TestApp::spawn().await;
    let t = app.token("Flowers", "admin@flowers.io", Role::Admin).await;
    for s in ["a", "b", "c", "d"] {
        create_action(&app, &t, &format!("task_{s}")).await;
    }
    let wf = create_workflow(&app, &t, "Anything goes", flower()).await;
    let wid = wf["id"].as_str().unwrap().to_string();
    let cases: Vec<Value> = (0..20).map(|n| case(&wid, n)).collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }";
    let r = app.data(&t, q, json!({"i": {"executions": cases}})).await;
    assert_eq!(r["importExecutions"]["imported"], 20, "{r}");

    let q = "query($w: ID!) { workflow(id: $w) { conformance {
        cases fitness precision fittingCases deviations { step runs } warning } } }";
    let c = app.data(&t, q, json!({"w": wid})).await["workflow"]["conformance"].clone();
    // Every case fits; after each of the 4 fitting prefixes (the empty one included) the
    // model allows a, b, c and d, and the log only one of them: 12 escapes of 16.
    assert_eq!(
        (c["cases"].as_i64(), c["fittingCases"].as_i64()),
        (Some(20), Some(20)),
        "{c}"
    );
    assert_eq!(c["fitness"].as_f64(), Some(1.0), "{c}");
    assert!(
        (c["precision"].as_f64().unwrap() - 0.25).abs() < 1e-9,
        "{c}"
    );
    assert!(
        c["warning"].as_str().unwrap().contains("precision 0.25"),
        "{c}"
    );

    let q = "mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) {
        simulation { status warnings { code message } } } }";
    let input = json!({"input": {"workflowId": wid, "inputData": {}}});
    let sim = app.data(&t, q, input).await["simulateWorkflow"]["simulation"].clone();
    let codes: Vec<&str> = sim["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    for code in ["ROUTE_NOT_DECIDED", "PATH_NOT_IN_HISTORY", "LOW_PRECISION"] {
        assert!(codes.contains(&code), "{code} missing: {sim}");
    }
    // With the route given, the run goes where the input says: no undecided route.
    let input = json!({"input": {"workflowId": wid, "inputData": {"route": "a"}}});
    let sim = app.data(&t, q, input).await["simulateWorkflow"]["simulation"].clone();
    let undecided = sim["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "ROUTE_NOT_DECIDED");
    assert!(!undecided, "{sim}");
}

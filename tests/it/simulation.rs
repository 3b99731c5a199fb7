//! Dry-run simulation through GraphQL.
use crate::support::*;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use workflow_intel::model::Role;

const SIMULATE: &str = r#"mutation($input: SimulateWorkflowInput!) {
  simulateWorkflow(input: $input) { simulation {
    id status predictedDurationMs predictedDurationP95Ms
    approvalChain { step stepIndex approver condition }
    executionPath { index name action status predictedDurationMs durationSource
      condition { result expression comparisons { field operator actual missing result } } }
    branchExplorations { truncated fields unreachableSteps
      paths { steps approvalChain witness witnessVerified description predictedDurationMs
        regions { description constraints { field missing values intervals { min minInclusive max maxInclusive } } } } }
    validationErrors { code message step }
    warnings { code message step }
  } }
}"#;

pub const TABLES: &[&str] = &[
    "companies",
    "users",
    "api_tokens",
    "action_catalog",
    "workflows",
    "workflow_executions",
    "step_executions",
    "workflow_simulations",
    "workflow_slas",
    "sla_breaches",
    "sla_events",
    "alert_outbox",
    "workflow_suggestions",
    "process_templates",
];

pub async fn row_counts(app: &TestApp) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in TABLES {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {t}"),
            ))
            .await
            .unwrap()
            .unwrap();
        out.push((t.to_string(), row.try_get::<i64>("", "n").unwrap()));
    }
    out
}

async fn demo(app: &TestApp) -> (String, String) {
    let issued = workflow_intel::seed::seed_demo(&app.db).await.unwrap();
    let d = app
        .data(
            &issued.token,
            "{ workflows(filter: {search: \"Discount\"}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = d["workflows"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (issued.token, id)
}

async fn simulate(app: &TestApp, token: &str, wf: &str, input: Value) -> Value {
    app.data(
        token,
        SIMULATE,
        json!({"input": {"workflowId": wf, "inputData": input}}),
    )
    .await["simulateWorkflow"]["simulation"]
        .clone()
}

fn approvers(sim: &Value) -> Vec<String> {
    sim["approvalChain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn discount_approval_chains_and_paths() {
    let app = TestApp::spawn().await;
    let (t, wf) = demo(&app).await;
    for (amount, want) in [
        (5000, vec!["manager"]),
        (10000, vec!["manager"]),
        (10001, vec!["manager", "director"]),
        (75000, vec!["manager", "director", "cfo"]),
    ] {
        let sim = simulate(&app, &t, &wf, json!({"amount": amount})).await;
        assert_eq!(approvers(&sim), want, "amount {amount}");
        assert_eq!(sim["status"], "SUCCEEDED");
        assert_eq!(sim["validationErrors"], json!([]));
    }
    let sim = simulate(&app, &t, &wf, json!({"amount": 10001})).await;
    let director = &sim["executionPath"][2];
    assert_eq!(director["status"], "RUN");
    assert_eq!(director["condition"]["comparisons"][0]["actual"], 10001);
    assert_eq!(sim["executionPath"][3]["status"], "SKIPPED");
    assert_eq!(
        sim["approvalChain"][1]["condition"],
        json!({"amount": {"$gt": 10000}})
    );

    // Every path across the input space: the schema requires a numeric amount, so exactly
    // three regions.
    let paths = sim["branchExplorations"]["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 3, "{paths:#?}");
    assert_eq!(sim["branchExplorations"]["truncated"], false);
    let mut seen = Vec::new();
    for p in paths {
        let region = &p["regions"][0]["constraints"][0];
        assert_eq!(region["field"], "amount");
        assert_eq!(region["missing"], false);
        let iv = &region["intervals"][0];
        let w = p["witness"]["amount"].as_f64().unwrap();
        let above_min = match iv["min"].as_f64() {
            None => true,
            Some(m) if iv["minInclusive"] == true => w >= m,
            Some(m) => w > m,
        };
        let below_max = match iv["max"].as_f64() {
            None => true,
            Some(m) if iv["maxInclusive"] == true => w <= m,
            Some(m) => w < m,
        };
        assert!(above_min && below_max, "witness {w} outside {iv}");
        assert_eq!(p["witnessVerified"], true);
        // The witness, simulated on its own, takes the path's approval chain.
        let again = simulate(&app, &t, &wf, p["witness"].clone()).await;
        assert_eq!(json!(approvers(&again)), p["approvalChain"]);
        seen.push((
            iv["min"].clone(),
            iv["max"].clone(),
            p["approvalChain"].as_array().unwrap().len(),
        ));
    }
    seen.sort_by_key(|s| s.2);
    assert_eq!(
        seen,
        vec![
            (Value::Null, json!(10000.0), 1),
            (json!(10000.0), json!(50000.0), 2),
            (json!(50000.0), Value::Null, 3),
        ]
    );
}

#[tokio::test]
async fn a_missing_field_warns_and_bad_input_is_reported() {
    let app = TestApp::spawn().await;
    let (t, wf) = demo(&app).await;
    let sim = simulate(&app, &t, &wf, json!({"customer": "ACME"})).await;
    let warnings = sim["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["code"] == "MISSING_FIELD"
                && w["message"].as_str().unwrap().contains("amount")),
        "{warnings:#?}"
    );
    // The workflow's inputSchema requires amount.
    assert!(
        sim["validationErrors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "INPUT_SCHEMA")
    );
    assert_eq!(sim["status"], "INVALID");

    let v = app
        .gql(
            Some(&t),
            SIMULATE,
            json!({"input": {"workflowId": wf, "inputData": {"amount": 1}, "failSteps": ["Nope"]}}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let v = app
        .gql(
            Some(&t),
            SIMULATE,
            json!({"input": {"workflowId": wf, "inputData": [1, 2]}}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");

    let sim = app
        .data(
            &t,
            SIMULATE,
            json!({"input": {"workflowId": wf, "inputData": {"amount": 60000},
            "approvalDecisions": [{"step": "Director Approval", "decision": "REJECTED"}]}}),
        )
        .await["simulateWorkflow"]["simulation"]
        .clone();
    assert_eq!(sim["status"], "REJECTED");
    assert_eq!(sim["executionPath"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn save_time_rejections_are_clear() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for (steps, want) in [
        (
            json!([{"name": "a", "action": "x"}, {"name": "b", "action": "x", "default_next": "a"}]),
            "steps[1] (b): default_next goes back to steps[0] (a), forming a cycle",
        ),
        (
            json!([{"name": "a", "action": "x", "branches": [{"condition": {"k": 1}, "next_step": "zzz"}]}]),
            "steps[0] (a): branches[0].next_step refers to \"zzz\"",
        ),
        (
            json!([{"name": "a", "action": "x", "conditions": {"amount": {"$between": [1, 2]}}}]),
            "steps[0] (a): invalid condition: unknown operator $between (at $.amount.$between)",
        ),
    ] {
        let v = app
            .gql(
                Some(&t),
                CREATE_WORKFLOW,
                json!({"input": {"name": "w", "steps": steps}}),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT");
        let msg = message(&v);
        assert!(msg.contains(want), "{msg}\nshould contain\n{want}");
    }
}

fn metric_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.starts_with("http_")
                && !l.starts_with("graphql_")
                && !l.starts_with("workflow_simulation_")
                && !l.starts_with("workflow_intel_db_statements_total")
                && !l.starts_with("workflow_intel_db_commands_total")
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_simulation_writes_only_its_own_row() {
    let app = TestApp::spawn().await;
    let (t, wf) = demo(&app).await;
    // Start from a steady state: on PostgreSQL the SLA clock is taken a moment after start-up
    // (its gauge moving then is not the simulation's doing).
    let mut metrics_before = String::new();
    for _ in 0..100 {
        metrics_before = app.metrics().await;
        if metrics_before.contains("\nworkflow_intel_sla_clock_owner 1\n") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        metrics_before.contains("\nworkflow_intel_sla_clock_owner 1\n"),
        "this server owns the SLA clock"
    );
    let before = row_counts(&app).await;
    let sim_total = |text: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("workflow_simulation_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let sim = simulate(&app, &t, &wf, json!({"amount": 20000})).await;
    let after = row_counts(&app).await;
    for ((table, b), (_, a)) in before.iter().zip(&after) {
        let expected = if table == "workflow_simulations" {
            b + 1
        } else {
            *b
        };
        assert_eq!(*a, expected, "rows in {table}");
    }
    let metrics_after = app.metrics().await;
    assert_eq!(sim_total(&metrics_after), sim_total(&metrics_before) + 1.0);
    assert_eq!(
        metric_lines(&metrics_before),
        metric_lines(&metrics_after),
        "no other metric moved"
    );

    // It can be read back, and only by its company.
    let id = sim["id"].as_str().unwrap();
    let d = app
        .data(&t, "query($id: ID!, $w: ID!) { simulation(id: $id) { status approvalChain { approver } workflow { name } createdBy { email } } simulations(workflowId: $w) { totalCount } }", json!({"id": id, "w": wf}))
        .await;
    assert_eq!(d["simulation"]["workflow"]["name"], "Discount Approval");
    assert_eq!(d["simulations"]["totalCount"], 1);
    let other = app.token("Other", "admin@other.io", Role::Admin).await;
    app.all_not_found(
        &other,
        &[
            (
                "query($id: ID!) { simulation(id: $id) { id } }",
                json!({"id": id}),
            ),
            (
                "query($w: ID!) { simulations(workflowId: $w) { totalCount } }",
                json!({"w": wf}),
            ),
            (
                SIMULATE,
                json!({"input": {"workflowId": wf, "inputData": {}}}),
            ),
        ],
    )
    .await;
}

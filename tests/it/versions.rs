//! Version history of workflow definitions: numbered versions, the version an execution ran,
//! simulating an old version, and diffs between versions.
use crate::support::*;
use serde_json::{Value, json};
use workflow_intel::model::Role;

const UPDATE: &str = r#"mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { workflow { version } } }"#;
const VERSIONS: &str = r#"query($id: ID!) { workflow(id: $id) { version versions { version description steps createdBy { email } } } }"#;
const SIMULATE: &str = r#"mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) { simulation { workflowVersion approvalChain { approver } } } }"#;
const DIFF: &str = r#"query($w: ID!, $a: Int!, $b: Int!) { workflowVersionDiff(workflowId: $w, fromVersion: $a, toVersion: $b) {
  fromVersion toVersion steps { added removed changed } fieldsChanged breaking breakingReasons } }"#;

fn v1_steps() -> Value {
    json!([
        {"name": "Manager approval", "action": "approval", "approver": "manager"},
        {"name": "Director approval", "action": "approval", "approver": "director",
         "conditions": {"amount": {"$gt": 1000}}}
    ])
}

fn v2_steps() -> Value {
    json!([
        {"name": "Manager approval", "action": "approval", "approver": "manager"},
        {"name": "Notify finance", "action": "send_email"}
    ])
}

async fn approvers(app: &TestApp, t: &str, wf: &str, version: Option<i32>) -> (Value, Vec<String>) {
    let r = app
        .data(
            t,
            SIMULATE,
            json!({"input": {"workflowId": wf, "inputData": {"amount": 5000}, "version": version}}),
        )
        .await;
    let s = &r["simulateWorkflow"]["simulation"];
    let chain = s["approvalChain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap().to_string())
        .collect();
    (s["workflowVersion"].clone(), chain)
}

#[tokio::test]
async fn each_definition_change_is_a_version_that_executions_simulations_and_diffs_name() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for a in ["approval", "send_email"] {
        create_action(&app, &t, a).await;
    }
    let wf = create_workflow(&app, &t, "Purchases", v1_steps()).await;
    let id = wf["id"].as_str().unwrap().to_string();
    // Status alone is not part of the definition; steps are.
    let act = r#"mutation($id: ID!) { activateWorkflow(input: {id: $id}) { workflow { version status } } }"#;
    let r = app.data(&t, act, json!({"id": id})).await;
    assert_eq!(r["activateWorkflow"]["workflow"]["version"], 1);
    let r = app
        .data(
            &t,
            UPDATE,
            json!({"input": {"id": id, "steps": v2_steps()}}),
        )
        .await;
    assert_eq!(r["updateWorkflow"]["workflow"]["version"], 2);
    let r = app
        .data(
            &t,
            UPDATE,
            json!({"input": {"id": id, "steps": v2_steps()}}),
        )
        .await;
    assert_eq!(
        r["updateWorkflow"]["workflow"]["version"], 2,
        "no change, no version"
    );

    let r = app.data(&t, VERSIONS, json!({"id": id})).await;
    let versions = r["workflow"]["versions"].as_array().unwrap();
    assert_eq!(r["workflow"]["version"], 2);
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[0]["steps"],
        v1_steps(),
        "version 1 is kept as it was"
    );
    assert_eq!(versions[1]["steps"], v2_steps());
    assert_eq!(versions[1]["createdBy"]["email"], "admin@acme.io");

    // An execution records the version it ran.
    let start = r#"mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id workflowVersion } } }"#;
    let r = app.data(&t, start, json!({"w": id})).await;
    assert_eq!(r["startExecution"]["execution"]["workflowVersion"], 2);

    // Simulating version 1 follows version 1's steps.
    assert_eq!(
        approvers(&app, &t, &id, Some(1)).await,
        (
            json!(1),
            vec!["manager".to_string(), "director".to_string()]
        )
    );
    assert_eq!(
        approvers(&app, &t, &id, None).await,
        (json!(2), vec!["manager".to_string()])
    );

    diffs_and_refusals(&app, &t, &id).await;
}

/// The diff by the template rules, and what is NOT_FOUND.
async fn diffs_and_refusals(app: &TestApp, t: &str, id: &str) {
    // The diff, by the template rules.
    let r = app.data(t, DIFF, json!({"w": id, "a": 1, "b": 2})).await;
    let d = &r["workflowVersionDiff"];
    assert_eq!(d["steps"]["added"], json!(["Notify finance"]));
    assert_eq!(d["steps"]["removed"], json!(["Director approval"]));
    assert_eq!(d["fieldsChanged"], json!([]));
    assert_eq!(d["breaking"], true);
    assert_eq!(
        d["breakingReasons"],
        json!(["step \"Director approval\" was removed"])
    );
    let r = app
        .gql(Some(t), DIFF, json!({"w": id, "a": 1, "b": 9}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let r = app
        .gql(
            Some(t),
            SIMULATE,
            json!({"input": {"workflowId": id, "inputData": {}, "version": 7}}),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");

    // Another company sees none of it.
    let other = app.token("Other", "ops@other.io", Role::Admin).await;
    let r = app
        .gql(Some(&other), DIFF, json!({"w": id, "a": 1, "b": 2}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
}

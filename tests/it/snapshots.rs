//! The documents the server writes, snapshot-tested (insta): a template exported as a
//! blueprint (GraphQL and the REST download) and as BPMN 2.0, and a workflow's step flows.
//! Ids and times are redacted, so a snapshot changes only when the document's shape does.
//! `schema.graphql` is the schema's golden file (schema_file.rs fails when it is stale).
//! After an intended change: `cargo insta review`, or `INSTA_UPDATE=always cargo test`.
use crate::support::*;
use serde_json::json;
use workflow_intel::model::Role;

fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[time]",
        ),
    ]
}

const CREATE: &str = r#"mutation($input: CreateProcessTemplateInput!) { createProcessTemplate(input: $input) { template { id } } }"#;

fn template() -> serde_json::Value {
    json!({
        "name": "Standard Approval Process",
        "version": "1.2.0",
        "templateType": "APPROVAL",
        "description": "Manager approval, director above a threshold.",
        "processSteps": [
            {"name": "Validate", "action": "validation"},
            {"name": "Route", "action": "gateway", "branches": [
                {"condition": {"amount": {"$gt": "{{threshold}}"}}, "next_step": "Director Approval"}],
             "default_next": "Manager Approval"},
            {"name": "Manager Approval", "action": "approval", "approver": "{{manager}}", "default_next": "$end"},
            {"name": "Director Approval", "action": "approval", "approver": "director"}
        ],
        "variables": [
            {"name": "manager", "type": "STRING", "required": true, "description": "Who approves first"},
            {"name": "threshold", "type": "NUMBER", "required": false, "default": 10000}
        ],
        "settings": {"notifyOnComplete": true},
        "graphSpec": {
            "nodes": [
                {"id": "start", "type": "TRIGGER", "label": "Start", "x": 100, "y": 100},
                {"id": "validate", "type": "ACTION", "label": "Validate", "x": 250, "y": 100},
                {"id": "route", "type": "DECISION", "label": "Route", "x": 400, "y": 100},
                {"id": "manager", "type": "APPROVAL", "label": "Manager Approval", "x": 550, "y": 50},
                {"id": "director", "type": "APPROVAL", "label": "Director Approval", "x": 550, "y": 150},
                {"id": "end", "type": "END", "label": "End", "x": 700, "y": 100}
            ],
            "edges": [
                {"from": "start", "to": "validate"}, {"from": "validate", "to": "route"},
                {"from": "route", "to": "director", "condition": {"amount": {"$gt": 10000}}},
                {"from": "route", "to": "manager"},
                {"from": "manager", "to": "end"}, {"from": "director", "to": "end"}
            ]
        }
    })
}

#[tokio::test]
async fn exported_documents_match_their_snapshots() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let r = app.data(&t, CREATE, json!({"input": template()})).await;
    let id = r["createProcessTemplate"]["template"]["id"]
        .as_str()
        .unwrap();
    let q = "query($id: ID!) { exportProcessTemplate(id: $id) exportProcessTemplateBpmn(id: $id) }";
    let e = app.data(&t, q, json!({"id": id})).await;
    let (status, rest) = crate::templates::export_text(&app, &t, id).await;
    assert_eq!(status, 200);
    let wf = app
        .data(&t, "mutation($id: ID!) { createWorkflowFromTemplate(input: {templateId: $id, name: \"From the blueprint\", variables: {manager: \"lead\"}}) { workflow { id steps stepFlows { from to kind condition } } } }", json!({"id": id}))
        .await["createWorkflowFromTemplate"]["workflow"]
        .clone();
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!("blueprint_rest_download", rest);
        insta::assert_json_snapshot!("blueprint_graphql", e["exportProcessTemplate"]);
        insta::assert_snapshot!("bpmn", e["exportProcessTemplateBpmn"].as_str().unwrap());
        insta::assert_json_snapshot!("instantiated_workflow", wf);
    });
}

//! Models in and out. Files saved by real modellers (bpmn.io's modeler, driven in headless
//! Chromium with Camunda 7's and Camunda 8's moddle extensions; bpmn-moddle; a Signavio-shaped
//! export with loops through default flows) import, instantiate into workflows that simulate
//! without a catalog error, in their company and in another through the marketplace, and
//! round-trip. Every export opens in bpmn.io, which draws every element. A workflow discovered
//! from a log leaves as a template and as a diagram and comes back with the same structure.
use crate::support::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use workflow_intel::model::Role;

const IMPORT: &str = "mutation($input: ImportBpmnInput!) { importBpmn(input: $input) {
  template { id processSteps actions { actionType name } } warnings } }";
const INSTANTIATE: &str = "mutation($input: CreateWorkflowFromTemplateInput!) {
  createWorkflowFromTemplate(input: $input) { workflow { id } actionsCreated warnings } }";
const SIMULATE: &str =
    "mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) {
  simulation { status validationErrors { code message } } } }";
const EXPORT_TEMPLATE: &str = "query($id: ID!) { exportProcessTemplateBpmn(id: $id) }";
const EXPORT_WORKFLOW: &str = "query($id: ID!) { exportWorkflowBpmn(id: $id) }";
const FROM_WORKFLOW: &str = "mutation($i: CreateTemplateFromWorkflowInput!) {
  createTemplateFromWorkflow(input: $i) { template { id processSteps actions { actionType } } warnings } }";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bpmn")
        .join(name)
}

/// The files the modellers save: (what, XML).
async fn saved_by_modellers(dir: &Path, chromium: &str) -> Vec<(&'static str, String)> {
    let drawn = crate::clients::node_json(dir, "bpmn-js.mjs", &["model"], Some(chromium)).await;
    assert_eq!(drawn["pageErrors"], json!([]), "{drawn}");
    let moddle = crate::clients::node_json(dir, "bpmn-model.mjs", &[], None).await;
    let signavio = std::fs::read_to_string(fixture("signavio-shaped.bpmn")).unwrap();
    let camunda = drawn["camunda"].as_str().unwrap().to_string();
    let zeebe = drawn["zeebe"].as_str().unwrap().to_string();
    assert!(camunda.contains("camunda:assignee=\"sales\""), "{camunda}");
    assert!(zeebe.contains("zeebe:taskDefinition"), "{zeebe}");
    vec![
        ("camunda", camunda),
        ("zeebe", zeebe),
        ("moddle", moddle["xml"].as_str().unwrap().to_string()),
        ("signavio", signavio),
    ]
}

async fn import(app: &TestApp, t: &str, name: &str, xml: &str) -> Value {
    let input = json!({"input": {"xml": xml, "name": name, "version": "1.0.0"}});
    app.data(t, IMPORT, input).await["importBpmn"].clone()
}

/// Instantiates a template and simulates the workflow: no catalog error, and no step left
/// without its action.
async fn instantiate_valid(app: &TestApp, t: &str, template: &Value, what: &str) -> Value {
    let input = json!({"input": {"templateId": template, "name": format!("{what} workflow")}});
    let made = app.data(t, INSTANTIATE, input).await["createWorkflowFromTemplate"].clone();
    assert_eq!(made["warnings"], json!([]), "{what}: {made}");
    let wf = made["workflow"]["id"].clone();
    let input = json!({"input": {"workflowId": wf, "inputData": {}}});
    let sim = app.data(t, SIMULATE, input).await["simulateWorkflow"]["simulation"].clone();
    assert_eq!(sim["validationErrors"], json!([]), "{what}: {sim}");
    assert_eq!(sim["status"], "SUCCEEDED", "{what}: {sim}");
    made
}

/// The XML without the embedded blueprint: what another tool sees of it.
fn without_blueprint(xml: &str) -> String {
    let start = xml.find("<bpmn:extensionElements>").expect("a blueprint");
    let end = xml.find("</bpmn:extensionElements>").unwrap() + "</bpmn:extensionElements>".len();
    assert!(xml[start..end].contains("wi:blueprint"));
    format!("{}{}", &xml[..start], &xml[end..])
}

/// Routing without names: each step's action, lane, and where its flows lead.
fn routing(steps: &Value) -> Vec<Value> {
    steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["name"],
                s["action"],
                s["parallel"],
                s["default_next"],
                s["max_iterations"],
                s["branches"].as_array().map(|b| b
                    .iter()
                    .map(|b| json!([b["next_step"], b["probability"]]))
                    .collect::<Vec<_>>())
            ])
        })
        .collect()
}

/// Opens each file in bpmn.io's modeler: no error and no warning, and every element drawn.
async fn bpmn_io_draws(dir: &Path, chromium: &str, files: &[(String, String)]) {
    let tmp = std::env::temp_dir().join(format!("wi-bpmn-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut paths = Vec::new();
    for (name, xml) in files {
        let p = tmp.join(format!("{name}.bpmn"));
        std::fs::write(&p, xml).unwrap();
        paths.push(p.to_string_lossy().to_string());
    }
    let mut args = vec!["open"];
    args.extend(paths.iter().map(String::as_str));
    let opened = crate::clients::node_json(dir, "bpmn-js.mjs", &args, Some(chromium)).await;
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(opened["pageErrors"], json!([]), "{opened}");
    for ((name, xml), f) in files.iter().zip(opened["files"].as_array().unwrap()) {
        assert_eq!(
            (&f["error"], &f["warnings"]),
            (&Value::Null, &json!([])),
            "{name}: {f}"
        );
        assert_eq!(f["undrawn"], json!([]), "{name}");
        // A shape for every flow node, a connection for every flow.
        let shapes = xml.matches("<bpmndi:BPMNShape ").count();
        let flows = xml.matches("<bpmn:sequenceFlow ").count();
        assert!(shapes > 2 && flows > 1, "{name}: {xml}");
        assert_eq!(
            f["shapes"].as_u64().unwrap() as usize,
            shapes,
            "{name}: {f}"
        );
        assert_eq!(
            f["connections"].as_u64().unwrap() as usize,
            flows,
            "{name}: {f}"
        );
    }
}

#[tokio::test]
async fn files_saved_by_real_modellers_import_instantiate_simulate_and_round_trip() {
    let (Some(dir), Some(chromium)) = (
        crate::clients::node_package(),
        crate::browser::available("bpmn.io test"),
    ) else {
        return;
    };
    let app = TestApp::spawn().await;
    let a = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let b = app.token("Globex", "admin@globex.io", Role::Admin).await;
    let mut exports = Vec::new();
    for (what, xml) in saved_by_modellers(&dir, &chromium).await {
        let imported = import(&app, &a, what, &xml).await;
        let template = &imported["template"];
        let steps = &template["processSteps"];
        // Typed catalog actions, declared with the template.
        assert!(
            steps
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["action"] != "task" || what == "signavio"),
            "{what}: {steps}"
        );
        assert!(
            !template["actions"].as_array().unwrap().is_empty(),
            "{what}"
        );
        let made = instantiate_valid(&app, &a, &template["id"], what).await;
        if what == "camunda" {
            // The first model brings BPMN's task kinds into the catalog; the others reuse them.
            let created = made["actionsCreated"].to_string();
            for a in [
                "user_task",
                "script_task",
                "service_task",
                "send_task",
                "sub_process",
            ] {
                assert!(created.contains(a), "{a}: {made}");
            }
        }
        // Round trip through our own export: the same steps.
        let out = app
            .data(&a, EXPORT_TEMPLATE, json!({"id": template["id"]}))
            .await;
        let out = out["exportProcessTemplateBpmn"]
            .as_str()
            .unwrap()
            .to_string();
        let again = import(&app, &a, &format!("{what} again"), &out).await;
        assert_eq!(&again["template"]["processSteps"], steps, "{what}");
        // Read as another tool would, without our blueprint: the same routing.
        let bare = import(&app, &a, &format!("{what} bare"), &without_blueprint(&out)).await;
        assert_eq!(
            routing(&bare["template"]["processSteps"]),
            routing(steps),
            "{what}"
        );
        // Through the marketplace, in another company.
        let wf = made["workflow"]["id"].clone();
        let i = json!({"i": {"workflowId": wf, "name": format!("{what} shared"), "version": "1.0.0", "isPublic": true}});
        let shared = app.data(&a, FROM_WORKFLOW, i).await["createTemplateFromWorkflow"].clone();
        assert_eq!(shared["warnings"], json!([]), "{what}: {shared}");
        instantiate_valid(&app, &b, &shared["template"]["id"], what).await;
        let wf_xml = app.data(&a, EXPORT_WORKFLOW, json!({"id": wf})).await;
        exports.push((format!("{what}-template"), out));
        exports.push((
            format!("{what}-workflow"),
            wf_xml["exportWorkflowBpmn"].as_str().unwrap().to_string(),
        ));
        if what == "signavio" {
            signavio_specifics(&imported, steps);
        }
    }
    bpmn_io_draws(&dir, &chromium, &exports).await;
}

/// The Signavio-shaped export: its loops through default flows bounded by the converter,
/// lanes as step owners.
fn signavio_specifics(imported: &Value, steps: &Value) {
    let warnings = imported["warnings"].to_string();
    assert!(warnings.contains("max_iterations"), "{warnings}");
    let steps = steps.as_array().unwrap();
    assert_eq!(
        steps.iter().filter(|s| s["action"] != "gateway").count(),
        27
    );
    let owners: std::collections::BTreeSet<&str> =
        steps.iter().filter_map(|s| s["owner"].as_str()).collect();
    assert_eq!(owners, ["Assessors", "Claims desk", "Finance"].into());
    let bounded = steps
        .iter()
        .filter(|s| s["max_iterations"].is_number())
        .count();
    assert!(bounded >= 10, "every rework loop is bounded: {bounded}");
}

#[tokio::test]
async fn a_steps_only_template_exports_a_laid_out_diagram_that_imports_back() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for a in ["check", "pay"] {
        create_action(&app, &t, a).await;
    }
    let steps = json!([
        {"name": "Check", "action": "check"},
        {"name": "Route", "action": "gateway", "branches": [
            {"condition": {"amount": {"$gt": 100}}, "next_step": "Approve"}], "default_next": "Pay"},
        {"name": "Approve", "action": "approval", "approver": "manager"},
        {"name": "Pay", "action": "pay"},
    ]);
    let q = "mutation($i: CreateProcessTemplateInput!) { createProcessTemplate(input: $i) { template { id actions { actionType } } warnings } }";
    let i = json!({"i": {"name": "Payments", "version": "1.0.0", "templateType": "APPROVAL", "processSteps": steps}});
    let made = app.data(&t, q, i).await["createProcessTemplate"].clone();
    // The unknown action is named with its step; the known ones are declared.
    let w = made["warnings"].to_string();
    assert!(
        w.contains("steps[2] (Approve)") && w.contains("\\\"approval\\\""),
        "{w}"
    );
    assert_eq!(
        made["template"]["actions"],
        json!([{"actionType": "check"}, {"actionType": "pay"}])
    );
    let xml = app
        .data(&t, EXPORT_TEMPLATE, json!({"id": made["template"]["id"]}))
        .await;
    let xml = xml["exportProcessTemplateBpmn"].as_str().unwrap();
    for element in [
        "<bpmn:startEvent",
        "<bpmn:exclusiveGateway",
        "<bpmn:userTask",
        "<bpmn:endEvent",
        "<dc:Bounds",
    ] {
        assert!(xml.contains(element), "{element}: {xml}");
    }
    assert_eq!(xml.matches("<bpmn:serviceTask").count(), 2, "{xml}");
    let back = import(&app, &t, "Payments again", &without_blueprint(xml)).await;
    assert_eq!(routing(&back["template"]["processSteps"]), routing(&steps));
}

#[tokio::test]
async fn versions_order_as_semver_and_a_version_not_above_the_latest_is_a_conflict() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let q = "mutation($i: CreateProcessTemplateInput!) { createProcessTemplate(input: $i) { template { version } } }";
    let create = |v: &str| json!({"i": {"name": "Onboard", "version": v, "templateType": "ONBOARDING", "processSteps": []}});
    for v in [
        "1.0.0-alpha",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0",
        "2.1.0-beta.1+build.7",
    ] {
        let r = app.gql(Some(&t), q, create(v)).await;
        assert!(r["errors"].is_null(), "{v}: {r}");
    }
    for (v, latest) in [
        ("0.9.0", "2.1.0-beta.1+build.7"),
        ("2.1.0-beta.1", "2.1.0-beta.1+build.7"),
        ("1.0.0-rc.1", "2.1.0-beta.1+build.7"),
    ] {
        let r = app.gql(Some(&t), q, create(v)).await;
        assert_eq!(code(&r), "CONFLICT", "{v}: {r}");
        assert!(message(&r).contains(latest), "{r}");
    }
    let r = app.gql(Some(&t), q, create("2.1.0")).await;
    assert!(r["errors"].is_null(), "{r}");
    let r = app.gql(Some(&t), q, create("v3.0.0")).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let listed = app
        .data(
            &t,
            "{ templateVersions(name: \"Onboard\") { version } }",
            json!({}),
        )
        .await;
    let order: Vec<&str> = listed["templateVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "1.0.0-alpha",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0",
            "2.1.0-beta.1+build.7",
            "2.1.0"
        ]
    );
}

#[tokio::test]
async fn a_discovered_workflow_leaves_as_a_template_and_a_diagram_and_comes_back_the_same() {
    if crate::templates::event_logs().is_none() {
        return;
    }
    let app = TestApp::spawn().await;
    let a = app.token("Insurer", "admin@insurer.io", Role::Admin).await;
    let b = app
        .token("Reinsurer", "admin@reinsurer.io", Role::Admin)
        .await;
    let done = crate::discovery::import_running_example(&app, &a, crate::discovery::PLAIN).await;
    let wf = done.workflow_id.to_string();
    let q = "query($id: ID!) { workflow(id: $id) { steps } }";
    let steps = app.data(&a, q, json!({"id": wf})).await["workflow"]["steps"].clone();
    let i = json!({"i": {"workflowId": wf, "name": "Compensation", "version": "1.0.0", "isPublic": true}});
    let shared = app.data(&a, FROM_WORKFLOW, i).await["createTemplateFromWorkflow"].clone();
    assert_eq!(
        shared["template"]["processSteps"], steps,
        "the discovered steps, whole"
    );
    assert_eq!(shared["warnings"], json!([]));
    // The diagram alone, read by another company: the same choices (with their
    // probabilities), lanes and loops.
    let xml = app.data(&a, EXPORT_WORKFLOW, json!({"id": wf})).await;
    let xml = xml["exportWorkflowBpmn"].as_str().unwrap();
    assert!(xml.contains("wi:probability="), "{xml}");
    let back = import(&app, &b, "Compensation", &without_blueprint(xml)).await;
    let back_steps = &back["template"]["processSteps"];
    assert_eq!(
        crate::discovery::shape(back_steps),
        crate::discovery::shape(&steps)
    );
    assert_eq!(probabilities(back_steps), probabilities(&steps));
    // And the shared template instantiates in the other company, its actions created.
    instantiate_valid(&app, &b, &shared["template"]["id"], "discovered").await;
}

/// Each choice's branch probabilities, by the step each branch leads to.
fn probabilities(steps: &Value) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for s in steps.as_array().unwrap() {
        for b in s["branches"].as_array().into_iter().flatten() {
            out.insert(
                b["next_step"].to_string(),
                format!("{:.4}", b["probability"].as_f64().unwrap_or(-1.0)),
            );
        }
    }
    out
}

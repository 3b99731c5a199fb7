//! Blueprint templates: versions, validation, export/import, instantiation, diffs and BPMN.
use crate::support::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use workflow_intel::model::Role;
use workflow_intel::templates::body::{
    GraphEdge, GraphNode, GraphSpec, NodeType, TemplateBody, TemplateType, Variable, VariableType,
};
use workflow_intel::templates::{blueprint, validation};

const CREATE: &str = r#"mutation($input: CreateProcessTemplateInput!) { createProcessTemplate(input: $input) { template { id name version templateType usageCount } warnings created } }"#;
const IMPORT: &str = r#"mutation($input: ImportBlueprintInput!) { importBlueprint(input: $input) { template { id version description } warnings created } }"#;

/// The event logs folder: WI_EVENT_LOGS, else ../shared/data/event-logs. None (with a notice)
/// where absent, unless REQUIRE_EVENT_LOGS=1 makes that a failure.
pub fn event_logs() -> Option<std::path::PathBuf> {
    let dir = std::env::var("WI_EVENT_LOGS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/event-logs")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("REQUIRE_EVENT_LOGS").is_ok_and(|v| v == "1") {
        panic!(
            "event logs not found at {} (set WI_EVENT_LOGS)",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: event-log test skipped: {} not found (set WI_EVENT_LOGS)",
        dir.display()
    );
    None
}

fn standard(version: &str) -> Value {
    json!({
        "name": "Standard Approval Process",
        "version": version,
        "templateType": "APPROVAL",
        "description": "Manager approval, director above a threshold.",
        "processSteps": [
            {"name": "Validate", "action": "validation"},
            {"name": "Manager Approval", "action": "approval", "approver": "{{manager}}"},
            {"name": "Director Approval", "action": "approval", "approver": "director",
             "conditions": {"amount": {"$gt": "{{threshold}}"}}}
        ],
        "variables": [
            {"name": "manager", "type": "STRING", "required": true, "description": "Who approves first"},
            {"name": "threshold", "type": "NUMBER", "required": false, "default": 10000}
        ],
        "settings": {"notifyOnComplete": true},
        "graphSpec": {
            "nodes": [
                {"id": "start", "type": "TRIGGER", "label": "Start", "x": 100, "y": 100},
                {"id": "step1", "type": "ACTION", "label": "Validate", "x": 200, "y": 100}
            ],
            "edges": [{"from": "start", "to": "step1"}]
        }
    })
}

async fn create(app: &TestApp, t: &str, input: Value) -> Value {
    app.data(t, CREATE, json!({"input": input})).await["createProcessTemplate"].clone()
}

/// The REST download of a template's blueprint: status and body.
pub(crate) async fn export_text(app: &TestApp, token: &str, id: &str) -> (u16, String) {
    let resp = app
        .client
        .get(app.url(&format!("/api/templates/{id}/export")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_seed_template_round_trips_exactly() {
    let app = TestApp::spawn().await;
    let a = app.token("A", "admin@a.io", Role::Admin).await;
    let b = app.token("B", "admin@b.io", Role::Admin).await;
    let created = create(&app, &a, standard("1.2.0")).await;
    assert_eq!(created["template"]["templateType"], "APPROVAL");
    let id = created["template"]["id"].as_str().unwrap();
    let (status, first) = export_text(&app, &a, id).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(doc["format"], "workflow-intel/blueprint");
    assert_eq!(doc["formatVersion"], 1);
    assert_eq!(
        doc["template"]["graphSpec"]["nodes"][0],
        json!({"id": "start", "type": "trigger", "label": "Start", "x": 100.0, "y": 100.0})
    );
    assert_eq!(doc["template"]["graphSpec"]["nodes"][1]["x"], 200.0);
    assert_eq!(
        doc["template"]["graphSpec"]["edges"],
        json!([{"from": "start", "to": "step1"}])
    );
    assert!(!first.contains(id), "no internal ids");
    assert!(
        !first.contains("usageCount") && !first.contains("company"),
        "no tenant data"
    );
    // GraphQL export is the same document.
    let g = app
        .data(
            &a,
            "query($id: ID!) { exportProcessTemplate(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(g["exportProcessTemplate"], doc);

    // Import into another company, export again: byte-identical.
    let imported = app
        .data(&b, IMPORT, json!({"input": {"blueprint": doc}}))
        .await;
    let id2 = imported["importBlueprint"]["template"]["id"]
        .as_str()
        .unwrap();
    let (_, second) = export_text(&app, &b, id2).await;
    assert_eq!(first, second);

    // The REST export needs a token and respects tenancy.
    let resp = app
        .client
        .get(app.url(&format!("/api/templates/{id}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, _) = export_text(&app, &b, id).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn versions_conflicts_and_validation() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    // In semver order (a version at or below the latest is a CONFLICT): 1.10.0 comes after
    // 1.2.0, which text order would not say.
    for v in ["1.0.0", "1.2.0", "1.10.0", "2.0.0"] {
        create(&app, &t, standard(v)).await;
    }
    let d = app
        .data(&t, "{ templateVersions(name: \"Standard Approval Process\") { version } processTemplate(name: \"Standard Approval Process\") { version } }", json!({}))
        .await;
    let versions: Vec<&str> = d["templateVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["1.0.0", "1.2.0", "1.10.0", "2.0.0"]);
    assert_eq!(d["processTemplate"]["version"], "2.0.0");
    let d = app.data(&t, "{ processTemplate(name: \"Standard Approval Process\", version: \"1.2.0\") { version } }", json!({})).await;
    assert_eq!(d["processTemplate"]["version"], "1.2.0");
    let v = app.gql(Some(&t), "{ processTemplate(name: \"Standard Approval Process\", version: \"9.9.9\") { version } }", json!({})).await;
    assert_eq!(code(&v), "NOT_FOUND");

    let v = app
        .gql(Some(&t), CREATE, json!({"input": standard("1.2.0")}))
        .await;
    assert_eq!(code(&v), "CONFLICT");

    // Import: identical is a no-op, different is a CONFLICT unless overwrite.
    let id = app
        .data(
            &t,
            "{ processTemplate(name: \"Standard Approval Process\", version: \"1.2.0\") { id } }",
            json!({}),
        )
        .await["processTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = app
        .data(
            &t,
            "query($id: ID!) { exportProcessTemplate(id: $id) }",
            json!({"id": id}),
        )
        .await["exportProcessTemplate"]
        .clone();
    let same = app
        .data(&t, IMPORT, json!({"input": {"blueprint": doc}}))
        .await;
    assert_eq!(same["importBlueprint"]["created"], false);
    assert_eq!(same["importBlueprint"]["template"]["id"], id.as_str());
    let mut changed = doc.clone();
    changed["template"]["description"] = json!("different");
    let v = app
        .gql(Some(&t), IMPORT, json!({"input": {"blueprint": changed}}))
        .await;
    assert_eq!(code(&v), "CONFLICT");
    let over = app
        .data(
            &t,
            IMPORT,
            json!({"input": {"blueprint": changed, "overwrite": true}}),
        )
        .await;
    assert_eq!(
        over["importBlueprint"]["template"]["description"],
        "different"
    );
    let mut future = doc.clone();
    future["formatVersion"] = json!(7);
    let v = app
        .gql(Some(&t), IMPORT, json!({"input": {"blueprint": future}}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(
        message(&v).contains("format version 7 is not supported"),
        "{v}"
    );

    // Validation names the offending part.
    let mut bad_edge = standard("3.0.0");
    bad_edge["graphSpec"]["edges"] =
        json!([{"from": "start", "to": "step1"}, {"from": "step1", "to": "nowhere"}]);
    let v = app.gql(Some(&t), CREATE, json!({"input": bad_edge})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).starts_with("graphSpec.edges[1].to"), "{v}");
    let v = app
        .gql(Some(&t), CREATE, json!({"input": standard("1.2")}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).starts_with("version"), "{v}");
    let mut bad_var = standard("3.0.1");
    bad_var["processSteps"][0]["input"] = json!({"to": "{{ghost}}"});
    let v = app.gql(Some(&t), CREATE, json!({"input": bad_var})).await;
    assert!(message(&v).starts_with("processSteps[0].input.to"), "{v}");
}

#[tokio::test]
async fn instantiate_diff_and_semver_warning() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for (ty, lat) in [("validation", "INSTANT"), ("approval", "SLOW")] {
        app.data(
            &t,
            CREATE_ACTION,
            json!({"input": {"name": ty, "actionType": ty, "latencyClass": lat}}),
        )
        .await;
    }
    let v120 = create(&app, &t, standard("1.2.0")).await;
    let id = v120["template"]["id"].as_str().unwrap();
    let inst = r#"mutation($input: CreateWorkflowFromTemplateInput!) { createWorkflowFromTemplate(input: $input) { workflow { id status steps workflowType } } }"#;
    let v = app
        .gql(
            Some(&t),
            inst,
            json!({"input": {"templateId": id, "name": "Mine", "variables": {}}}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("variables.manager"), "{v}");
    let v = app
        .gql(
            Some(&t),
            inst,
            json!({"input": {"templateId": id, "name": "Mine", "variables": {"manager": 7}}}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let wf = app.data(&t, inst, json!({"input": {"templateId": id, "name": "Mine", "variables": {"manager": "alice", "threshold": 5000}}})).await;
    let wf = &wf["createWorkflowFromTemplate"]["workflow"];
    assert_eq!(wf["status"], "DRAFT");
    assert_eq!(wf["workflowType"], "APPROVAL");
    assert_eq!(wf["steps"][1]["approver"], "alice");
    assert_eq!(wf["steps"][2]["conditions"]["amount"]["$gt"], 5000);
    let sim = app
        .data(&t, "mutation($w: ID!) { simulateWorkflow(input: {workflowId: $w, inputData: {amount: 6000}}) { simulation { status approvalChain { approver } } } }", json!({"w": wf["id"]}))
        .await;
    assert_eq!(sim["simulateWorkflow"]["simulation"]["status"], "SUCCEEDED");
    assert_eq!(
        sim["simulateWorkflow"]["simulation"]["approvalChain"],
        json!([{"approver": "alice"}, {"approver": "director"}])
    );
    let d = app
        .data(
            &t,
            "query($id: ID!) { processTemplateById(id: $id) { usageCount lastUsedAt } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(d["processTemplateById"]["usageCount"], 1);
    assert!(d["processTemplateById"]["lastUsedAt"].is_string());

    // A new MINOR version that removes a step: breaking, so the payload warns.
    let mut v130 = standard("1.3.0");
    v130["processSteps"] = json!([{"name": "Validate", "action": "validation"}, {"name": "Manager Approval", "action": "approval", "approver": "{{manager}}"}]);
    let created = create(&app, &t, v130).await;
    let warnings = created["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{created}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("without a MAJOR version bump")
    );
    let d = app
        .data(&t, "query($a: ID!, $b: ID!) { templateDiff(fromId: $a, toId: $b) { breaking breakingReasons steps { added removed changed } variables { added removed } } }",
              json!({"a": id, "b": created["template"]["id"]}))
        .await;
    let diff = &d["templateDiff"];
    assert_eq!(diff["breaking"], true);
    assert_eq!(diff["steps"]["removed"], json!(["Director Approval"]));
    let mut v200 = standard("2.0.0");
    v200["processSteps"] = json!([{"name": "Validate", "action": "validation"}]);
    v200["variables"] = json!([]);
    let created = create(&app, &t, v200).await;
    assert_eq!(created["warnings"], json!([]), "a MAJOR bump may break");
}

fn bpmn_ids(xml: &str) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    // (element ids, (attribute, referenced id) pairs, root/child element names)
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let mut r = Reader::from_str(xml);
    let mut ids = Vec::new();
    let mut refs = Vec::new();
    let mut names = Vec::new();
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).to_string());
                for a in e.attributes().flatten() {
                    let k = String::from_utf8_lossy(a.key.as_ref()).to_string();
                    let v = a.unescape_value().unwrap().to_string();
                    match k.as_str() {
                        "id" => ids.push(v),
                        "sourceRef" | "targetRef" | "bpmnElement" => refs.push((k, v)),
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (ids, refs, names)
}

#[tokio::test]
async fn bpmn_export_is_well_formed_and_reimports_equal() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for a in ["validation", "approval"] {
        create_action(&app, &t, a).await;
    }
    let mut input = standard("1.2.0");
    input["graphSpec"] = json!({
        "nodes": [
            {"id": "start", "type": "TRIGGER", "label": "Start", "x": 100, "y": 100},
            {"id": "step1", "type": "ACTION", "label": "Validate", "x": 200, "y": 100},
            {"id": "mgr", "type": "APPROVAL", "label": "Manager Approval", "x": 280, "y": 100},
            {"id": "gw", "type": "DECISION", "label": "Large?", "x": 350, "y": 100},
            {"id": "appr", "type": "APPROVAL", "label": "Director Approval", "x": 450, "y": 40},
            {"id": "done", "type": "END", "label": "Done", "x": 600, "y": 100}
        ],
        "edges": [
            {"from": "start", "to": "step1"}, {"from": "step1", "to": "mgr"},
            {"from": "mgr", "to": "gw"},
            {"from": "gw", "to": "appr", "condition": {"amount": {"$gt": 10000}}},
            {"from": "gw", "to": "done"}, {"from": "appr", "to": "done"}
        ]
    });
    let id = create(&app, &t, input).await["template"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let xml = app
        .data(
            &t,
            "query($id: ID!) { exportProcessTemplateBpmn(id: $id) }",
            json!({"id": id}),
        )
        .await["exportProcessTemplateBpmn"]
        .as_str()
        .unwrap()
        .to_string();
    let (ids, refs, names) = bpmn_ids(&xml);
    assert_eq!(names[0], "bpmn:definitions");
    for want in [
        "bpmn:process",
        "bpmndi:BPMNDiagram",
        "bpmndi:BPMNPlane",
        "bpmn:startEvent",
        "bpmn:userTask",
        "bpmn:exclusiveGateway",
        "bpmn:endEvent",
        "bpmn:conditionExpression",
        "dc:Bounds",
    ] {
        assert!(names.iter().any(|n| n == want), "missing {want}");
    }
    for element in ["bpmn:sequenceFlow", "bpmndi:BPMNShape", "bpmndi:BPMNEdge"] {
        assert_eq!(
            names.iter().filter(|n| *n == element).count(),
            6,
            "{element}"
        );
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "ids are unique");
    for (attr, r) in &refs {
        assert!(ids.contains(r), "{attr}={r} refers to no element");
    }
    assert!(xml.contains(r#"<dc:Bounds x="450" y="40""#));

    let imp = r#"mutation($input: ImportBpmnInput!) { importBpmn(input: $input) { template { id } warnings } }"#;
    let r = app
        .data(
            &t,
            imp,
            json!({"input": {"xml": xml, "name": "Round trip", "version": "1.2.0"}}),
        )
        .await;
    assert_eq!(r["importBpmn"]["warnings"], json!([]));
    let id2 = r["importBpmn"]["template"]["id"].as_str().unwrap();
    let q = "query($id: ID!) { exportProcessTemplate(id: $id) }";
    let mut a = app.data(&t, q, json!({"id": id})).await["exportProcessTemplate"].clone();
    let b = app.data(&t, q, json!({"id": id2})).await["exportProcessTemplate"].clone();
    a["template"]["name"] = json!("Round trip");
    assert_eq!(a, b, "BPMN export re-imports to an equal template");
}

#[tokio::test]
async fn the_running_example_bpmn_imports() {
    let Some(dir) = event_logs() else { return };
    let xml = std::fs::read_to_string(dir.join("running-example.bpmn")).unwrap();
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let imp = r#"mutation($input: ImportBpmnInput!) { importBpmn(input: $input) { template { id processSteps graphSpec { nodes { id type label x y } edges { from to } } } warnings } }"#;
    let r = app
        .data(
            &t,
            imp,
            json!({"input": {"xml": xml, "name": "Compensation request", "version": "1.0.0"}}),
        )
        .await;
    let tpl = &r["importBpmn"]["template"];
    let nodes = tpl["graphSpec"]["nodes"].as_array().unwrap();
    let count = |ty: &str| nodes.iter().filter(|n| n["type"] == ty).count();
    assert_eq!(count("ACTION"), 8, "tasks");
    assert_eq!(count("DECISION"), 6, "exclusive gateways");
    assert_eq!(count("PARALLEL"), 2, "parallel gateways");
    assert_eq!(count("TRIGGER"), 1);
    assert_eq!(count("END"), 1);
    assert_eq!(tpl["graphSpec"]["edges"].as_array().unwrap().len(), 21);
    let start = nodes.iter().find(|n| n["type"] == "TRIGGER").unwrap();
    assert_eq!(
        (start["x"].as_f64(), start["y"].as_f64()),
        (Some(106.0), Some(-350.0)),
        "DI coordinates"
    );
    let warnings: Vec<&str> = r["importBpmn"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        !warnings.iter().any(|w| w.starts_with("parallelGateway")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("have no JSON condition")),
        "gateways without conditions say which field they test: {warnings:?}"
    );
    let steps = tpl["processSteps"].as_array().unwrap().clone();
    assert_running_example_structure(&steps);

    runs_one_alternative_each(&app, &t, &tpl["id"]).await;
    reimports_the_same(&app, &t, imp, tpl).await;
}

/// A workflow made from the running example runs one alternative per exclusive gateway, and
/// the exploration lists the others.
async fn runs_one_alternative_each(app: &TestApp, t: &str, template: &Value) {
    create_action(app, t, "task").await;
    let inst = r#"mutation($input: CreateWorkflowFromTemplateInput!) { createWorkflowFromTemplate(input: $input) { workflow { id } } }"#;
    let wf = app
        .data(
            t,
            inst,
            json!({"input": {"templateId": template, "name": "Compensation"}}),
        )
        .await["createWorkflowFromTemplate"]["workflow"]["id"]
        .clone();
    let sim = r#"mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) { simulation {
      status executionPath { name status } branchExplorations { paths { steps } } } } }"#;
    let r = app
        .data(
            t,
            sim,
            json!({"input": {"workflowId": wf, "inputData": {}}}),
        )
        .await;
    let s = &r["simulateWorkflow"]["simulation"];
    let ran = ran_steps(s);
    let runs = |n: &str| ran.iter().filter(|r| **r == n).count();
    assert_eq!(
        runs("examine casually") + runs("examine thoroughly"),
        1,
        "{ran:?}"
    );
    assert_eq!(
        runs("pay compensation") + runs("reject request"),
        1,
        "{ran:?}"
    );
    assert_eq!(runs("check ticket"), 1, "{ran:?}");
    let paths = s["branchExplorations"]["paths"].as_array().unwrap();
    for alternative in [
        "examine casually",
        "examine thoroughly",
        "pay compensation",
        "reject request",
    ] {
        assert!(
            paths.iter().any(|p| p["steps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == alternative)),
            "no explored path runs {alternative:?}"
        );
    }
}

/// Export, then import: the same steps and the same kinds of gateway.
async fn reimports_the_same(app: &TestApp, t: &str, imp: &str, tpl: &Value) {
    let xml2 = app
        .data(
            t,
            "query($id: ID!) { exportProcessTemplateBpmn(id: $id) }",
            json!({"id": tpl["id"]}),
        )
        .await["exportProcessTemplateBpmn"]
        .as_str()
        .unwrap()
        .to_string();
    let again = app
        .data(
            t,
            imp,
            json!({"input": {"xml": xml2, "name": "Compensation again", "version": "1.0.0"}}),
        )
        .await;
    let tpl2 = &again["importBpmn"]["template"];
    assert_eq!(tpl2["processSteps"], tpl["processSteps"]);
    let nodes2 = tpl2["graphSpec"]["nodes"].as_array().unwrap();
    assert_eq!(nodes2.iter().filter(|n| n["type"] == "PARALLEL").count(), 2);
    assert_eq!(nodes2.iter().filter(|n| n["type"] == "DECISION").count(), 6);
}

/// The steps a simulation ran, in order; the simulation must not be INVALID.
fn ran_steps(sim: &Value) -> Vec<&str> {
    assert_ne!(sim["status"], "INVALID", "{sim}");
    sim["executionPath"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "RUN")
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

/// The compensation process as steps: the examination's alternatives in one lane beside
/// "check ticket", routing steps with branches, and the bounded reinitiate loop.
fn assert_running_example_structure(steps: &[Value]) {
    let by = |n: &str| {
        steps
            .iter()
            .find(|s| s["name"] == n)
            .unwrap_or_else(|| panic!("no step {n:?} in {steps:#?}"))
            .clone()
    };
    assert_eq!(
        steps[0]["name"], "register request",
        "flow order from the start event"
    );
    let (casual, thorough, ticket) = (
        by("examine casually"),
        by("examine thoroughly"),
        by("check ticket"),
    );
    assert_eq!(casual["parallel"]["group"], ticket["parallel"]["group"]);
    assert_eq!(
        casual["parallel"], thorough["parallel"],
        "the alternatives share a lane"
    );
    assert_ne!(casual["parallel"]["lane"], ticket["parallel"]["lane"]);
    let gateways: Vec<&Value> = steps.iter().filter(|s| s["action"] == "gateway").collect();
    let targets = |g: &Value| -> Vec<String> {
        g["branches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["next_step"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        gateways.iter().any(|g| {
            let t = targets(g);
            t.contains(&"examine casually".to_string())
                && t.contains(&"examine thoroughly".to_string())
        }),
        "{gateways:#?}"
    );
    assert!(
        gateways.iter().any(|g| {
            let t = targets(g);
            t.contains(&"pay compensation".to_string()) && t.contains(&"reject request".to_string())
        }),
        "{gateways:#?}"
    );
    let back = by("reinitiate request")["default_next"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        by(&back)["max_iterations"],
        3,
        "the reinitiate loop is bounded"
    );
}

fn arb_template() -> impl Strategy<Value = TemplateBody> {
    let name = "[A-Za-z][A-Za-z0-9 ]{0,20}";
    let ty = prop::sample::select(TemplateType::ALL.to_vec());
    let version = (0u64..20, 0u64..20, 0u64..20).prop_map(|(a, b, c)| format!("{a}.{b}.{c}"));
    let steps = prop::collection::vec(("[a-z]{1,8}", prop::option::of(0i64..100_000)), 0..6);
    let vars = prop::collection::vec(
        (
            prop::sample::select(VariableType::ALL.to_vec()),
            any::<bool>(),
        ),
        0..4,
    );
    let nodes = prop::collection::vec(
        (
            prop::sample::select(vec![
                NodeType::Action,
                NodeType::Approval,
                NodeType::Decision,
                NodeType::End,
            ]),
            -500i32..500,
            -500i32..500,
        ),
        0..6,
    );
    let settings = prop::collection::btree_map("[a-z]{1,6}", any::<i32>(), 0..4);
    (
        name,
        ty,
        version,
        steps,
        vars,
        nodes,
        settings,
        any::<bool>(),
        "[ -~]{0,30}",
    )
        .prop_map(
            |(name, ty, version, steps, vars, nodes, settings, public, desc)| {
                let process_steps: Vec<Value> = steps
                    .iter()
                    .enumerate()
                    .map(|(i, (a, thr))| {
                        let mut s = json!({"name": format!("s{i}"), "action": a});
                        if let Some(t) = thr {
                            s["conditions"] = json!({"amount": {"$gt": t}});
                        }
                        s
                    })
                    .collect();
                let variables = vars
                    .iter()
                    .enumerate()
                    .map(|(i, (t, req))| Variable {
                        name: format!("v{i}"),
                        var_type: *t,
                        required: *req,
                        default: match t {
                            VariableType::Number => Some(json!(i)),
                            VariableType::String => Some(json!(format!("d{i}"))),
                            VariableType::Boolean => Some(json!(true)),
                            VariableType::Object => None,
                        },
                        description: (i % 2 == 0).then(|| format!("variable {i}")),
                    })
                    .collect();
                let mut g = GraphSpec {
                    nodes: vec![GraphNode {
                        id: "start".into(),
                        node_type: NodeType::Trigger,
                        label: "Start".into(),
                        x: 0.0,
                        y: 0.0,
                        action: None,
                    }],
                    edges: vec![],
                };
                for (i, (t, x, y)) in nodes.iter().enumerate() {
                    let id = format!("n{i}");
                    let prev = g.nodes.last().map(|n| n.id.clone()).unwrap_or_default();
                    g.nodes.push(GraphNode {
                        id: id.clone(),
                        node_type: *t,
                        label: format!("Node {i}"),
                        x: *x as f64 / 2.0,
                        y: *y as f64,
                        action: None,
                    });
                    g.edges.push(GraphEdge {
                        from: prev,
                        to: id,
                        condition: (i % 3 == 1).then(|| json!({"k": {"$in": ["a", "b"]}})),
                        probability: None,
                        is_default: false,
                    });
                }
                TemplateBody {
                    name,
                    version,
                    template_type: ty,
                    description: desc,
                    process_steps: Value::Array(process_steps),
                    variables,
                    settings: serde_json::to_value(settings).unwrap(),
                    graph_spec: g,
                    is_public: public,
                    actions: vec![],
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn export_import_export_is_byte_identical(t in arb_template()) {
        prop_assert!(validation::validate(&t).is_ok(), "{:?}", validation::validate(&t));
        let first = blueprint::export(&t);
        let back = blueprint::read_blueprint(&serde_json::from_str(&first).unwrap()).unwrap();
        let second = blueprint::export(&back);
        prop_assert_eq!(first, second);
        // And through BPMN too.
        let xml = workflow_intel::templates::bpmn::export(&t);
        let imported = workflow_intel::templates::bpmn::import(&xml, &t.name, &t.version).unwrap();
        prop_assert_eq!(blueprint::export(&imported.body), blueprint::export(&t));
    }
}

#[tokio::test]
async fn a_templates_node_id_is_the_same_after_export_and_import() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let id = create(&app, &t, standard("1.0.0")).await["template"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, doc) = export_text(&app, &t, &id).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let back = app
        .data(&t, IMPORT, json!({"input": {"blueprint": doc}}))
        .await;
    assert_eq!(back["importBlueprint"]["template"]["id"], id.as_str());
    let q =
        "query($id: ID!) { node(id: $id) { __typename id ... on ProcessTemplate { version } } }";
    let v = app.data(&t, q, json!({"id": id})).await;
    assert_eq!(
        v["node"],
        json!({"__typename": "ProcessTemplate", "id": id, "version": "1.0.0"})
    );
}

#[tokio::test]
async fn the_seeds_own_blueprint_shape_imports_as_a_legacy_format() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    // The seed's shape: the template's own fields in snake_case, no format envelope.
    let legacy = json!({
        "name": "Purchase approval",
        "version": "1.0",
        "template_type": "approval",
        "description": "Manager, then finance above a limit",
        "process_steps": [
            {"name": "Manager approval", "action": "approval", "approver": "manager"},
            {"name": "Finance approval", "action": "approval", "approver": "finance",
             "conditions": {"amount": {"$gt": "{{limit}}"}}}
        ],
        "variables": {"limit": {"type": "number", "default": 1000}},
        "settings": {},
        "is_public": false,
        "usage_count": 12
    });
    let r = app
        .data(&t, IMPORT, json!({"input": {"blueprint": legacy}}))
        .await;
    let p = &r["importBlueprint"];
    assert_eq!(p["created"], true);
    assert_eq!(p["template"]["version"], "1.0.0");
    let warnings: Vec<&str> = p["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for needle in [
        "legacy blueprint",
        "template_type became templateType",
        "process_steps became processSteps",
        "usage_count is not part of a blueprint",
        "variables, an object by name, became a list",
        "version \"1.0\" became \"1.0.0\"",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "{needle:?} in {warnings:?}"
        );
    }
    // It exports in the current format, and that document imports unchanged.
    let id = p["template"]["id"].as_str().unwrap();
    let (_, text) = export_text(&app, &t, id).await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "workflow-intel/blueprint");
    assert_eq!(doc["template"]["templateType"], "approval");
    assert_eq!(doc["template"]["variables"][0]["name"], "limit");
    let again = app
        .data(&t, IMPORT, json!({"input": {"blueprint": doc}}))
        .await;
    assert_eq!(
        again["importBlueprint"]["created"], false,
        "the same template"
    );
    // A legacy body with a field the seed never had is still refused, by name.
    let r = app
        .gql(
            Some(&t),
            IMPORT,
            json!({"input": {"blueprint": {"name": "x", "version": "1.0.0", "template_type": "approval", "process_steps": [], "colour": "red"}}}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert!(message(&r).contains("colour"), "{r}");
}

#[tokio::test]
async fn malformed_or_empty_bpmn_is_refused_with_its_line_and_column() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let imp = r#"mutation($input: ImportBpmnInput!) { importBpmn(input: $input) { template { id } warnings } }"#;
    let cases = [
        (
            "<definitions><process>",
            "line 1, column 23 inside <process>",
        ),
        (
            "<definitions>\n  <process id=\"p\">\n    <task id=\"a\">\n  </process>\n</definitions>",
            "line 4, column",
        ),
        ("", "empty"),
        (
            "<definitions><process id=\"p\"/></definitions>",
            "no flow elements",
        ),
        (
            "<definitions>\n<process id=\"p\"><task id=\"a\" name=\"x></process></definitions>",
            "line 2",
        ),
    ];
    for (xml, needle) in cases {
        let r = app
            .gql(
                Some(&t),
                imp,
                json!({"input": {"xml": xml, "name": "Broken", "version": "1.0.0"}}),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{xml:?}: {r}");
        assert!(message(&r).contains(needle), "{needle:?} for {xml:?}: {r}");
    }
    let list = app
        .data(
            &t,
            "{ processTemplates(first: 10) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        list["processTemplates"]["totalCount"], 0,
        "nothing was created"
    );
}

/// Publishes a one-step template; returns its id.
async fn publish(app: &TestApp, token: &str, name: &str, public: bool) -> String {
    let input = json!({"input": {"name": name, "version": "1.0.0", "templateType": "APPROVAL",
           "processSteps": [{"name": "Manager approval", "action": "approval", "approver": "manager"}],
           "isPublic": public}});
    let r = app.data(token, CREATE, input).await;
    r["createProcessTemplate"]["template"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// (name, owned) of each template a scope lists for the caller.
async fn listed(app: &TestApp, token: &str, scope: &str) -> Vec<(String, bool)> {
    let q = format!(
        "{{ processTemplates(first: 50, filter: {{scope: {scope}}}) {{ edges {{ node {{ name owned }} }} }} }}"
    );
    let v = app.data(token, &q, json!({})).await;
    v["processTemplates"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["name"].as_str().unwrap().to_string(),
                n["owned"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn public_templates_form_a_read_only_marketplace_with_usage_counts() {
    let app = TestApp::spawn().await;
    let a = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let b = app.token("Bank", "admin@bank.io", Role::Admin).await;
    let shared = publish(&app, &a, "Shared approval", true).await;
    let private = publish(&app, &a, "Private approval", false).await;
    // Bank's own list is empty; its marketplace holds Acme's public template only, read-only.
    assert_eq!(listed(&app, &b, "OWN").await, vec![]);
    assert_eq!(
        listed(&app, &b, "MARKETPLACE").await,
        vec![("Shared approval".to_string(), false)]
    );
    assert_eq!(listed(&app, &a, "OWN").await.len(), 2);
    // By name and by id: the public one is readable, the private one is not there.
    let by_name = r#"query($n: String!) { processTemplate(name: $n) { id owned usageCount } }"#;
    let r = app.data(&b, by_name, json!({"n": "Shared approval"})).await;
    assert_eq!(r["processTemplate"]["id"], shared);
    let r = app
        .gql(Some(&b), by_name, json!({"n": "Private approval"}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let node = r#"query($id: ID!) { node(id: $id) { id } }"#;
    let r = app.data(&b, node, json!({"id": private})).await;
    assert_eq!(r["node"], Value::Null, "another company's private template");
    let r = app.data(&b, node, json!({"id": shared})).await;
    assert_eq!(r["node"]["id"], shared);
    // Bank instantiates it (twice); the count is Acme's template's, seen by both.
    let inst = r#"mutation($input: CreateWorkflowFromTemplateInput!) { createWorkflowFromTemplate(input: $input) { workflow { id name } } }"#;
    for name in ["Bank approvals", "Bank approvals 2"] {
        let r = app
            .data(
                &b,
                inst,
                json!({"input": {"templateId": shared, "name": name}}),
            )
            .await;
        assert_eq!(r["createWorkflowFromTemplate"]["workflow"]["name"], name);
    }
    let r = app
        .gql(
            Some(&b),
            inst,
            json!({"input": {"templateId": private, "name": "nope"}}),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let r = app.data(&a, by_name, json!({"n": "Shared approval"})).await;
    assert_eq!(r["processTemplate"]["usageCount"], 2);
    assert_eq!(r["processTemplate"]["owned"], true);
    // Only the owner changes it.
    let del = r#"mutation($input: DeleteProcessTemplateInput!) { deleteProcessTemplate(input: $input) { deletedId } }"#;
    let r = app
        .gql(Some(&b), del, json!({"input": {"id": shared}}))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = app
        .gql(Some(&b), del, json!({"input": {"id": private}}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let r = app.data(&a, del, json!({"input": {"id": shared}})).await;
    assert_eq!(r["deleteProcessTemplate"]["deletedId"], shared);
    assert_eq!(listed(&app, &b, "MARKETPLACE").await, vec![]);
}

#[tokio::test]
async fn a_model_saved_with_bpmn_io_s_library_keeps_its_routing_and_lists_what_it_cannot_hold() {
    let Some(dir) = crate::clients::node_package() else {
        return;
    };
    let saved = crate::clients::node_json(&dir, "bpmn-model.mjs", &[], None).await;
    let xml = saved["xml"].as_str().unwrap();
    assert!(xml.contains(r#"exporter="bpmn-moddle""#));
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let imp = r#"mutation($input: ImportBpmnInput!) { importBpmn(input: $input) { template { id processSteps } warnings } }"#;
    let r = app
        .data(
            &t,
            imp,
            json!({"input": {"xml": xml, "name": "Orders", "version": "1.0.0"}}),
        )
        .await;
    let warnings = r["importBpmn"]["warnings"].to_string();
    for element in [
        "boundaryEvent",
        "dataObjectReference",
        "intermediateCatchEvent",
        "subProcess",
    ] {
        assert!(warnings.contains(element), "{element} not in {warnings}");
    }
    assert!(
        !warnings.contains("no JSON condition"),
        "its flows carry conditions: {warnings}"
    );
    let steps = r["importBpmn"]["template"]["processSteps"]
        .as_array()
        .unwrap()
        .clone();
    let by = |n: &str| steps.iter().find(|s| s["name"] == n).unwrap().clone();
    let size = by("Order size?");
    assert_eq!(size["action"], "gateway");
    assert_eq!(
        size["branches"],
        json!([
            {"condition": {"amount": {"$gt": 1000}}, "next_step": "Director approval"},
            {"condition": {"amount": {"$lte": 1000}}, "next_step": "Reserve stock"}
        ])
    );
    let (reserve, invoice) = (by("Reserve stock"), by("Send invoice"));
    assert_eq!(reserve["parallel"], json!({"group": "fork", "lane": 1}));
    assert_eq!(invoice["parallel"], json!({"group": "fork", "lane": 2}));
    // Lanes own their steps; the subprocess lists what it holds.
    assert_eq!(by("Review order")["owner"], "Sales");
    assert_eq!(reserve["owner"], "Warehouse");
    assert_eq!(by("Ship")["description"], "subProcess of: Pack");
    assert_eq!(
        (&reserve["action"], &invoice["action"]),
        (&json!("service_task"), &json!("send_task"))
    );

    orders_route_by_amount(&app, &t, &r["importBpmn"]["template"]["id"]).await;
}

/// Simulated: the director only above 1000, and both lanes either way.
async fn orders_route_by_amount(app: &TestApp, t: &str, template: &Value) {
    // The template declares BPMN's task kinds; instantiating creates them in the catalog.
    let inst = r#"mutation($input: CreateWorkflowFromTemplateInput!) { createWorkflowFromTemplate(input: $input) { workflow { id } } }"#;
    let wf = app
        .data(
            t,
            inst,
            json!({"input": {"templateId": template, "name": "Orders"}}),
        )
        .await["createWorkflowFromTemplate"]["workflow"]["id"]
        .clone();
    let sim = r#"mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) { simulation { status executionPath { name status } } } }"#;
    for (amount, director) in [(5000, true), (10, false)] {
        let r = app
            .data(
                t,
                sim,
                json!({"input": {"workflowId": wf, "inputData": {"amount": amount}}}),
            )
            .await;
        let ran = ran_steps(&r["simulateWorkflow"]["simulation"]);
        assert_eq!(
            ran.contains(&"Director approval"),
            director,
            "{amount}: {ran:?}"
        );
        for both in ["Reserve stock", "Send invoice", "Ship"] {
            assert!(ran.contains(&both), "{amount}: {ran:?}");
        }
    }
}

#[tokio::test]
async fn a_template_saved_before_action_declarations_reimports_as_the_same_version() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let id = create(&app, &t, standard("1.0.0")).await["template"]["id"].clone();
    // As stored before templates declared their actions.
    app.db
        .execute_unprepared("UPDATE process_templates SET actions = NULL")
        .await
        .unwrap();
    let q = "query($id: ID!) { exportProcessTemplate(id: $id) }";
    let doc = app.data(&t, q, json!({"id": id})).await["exportProcessTemplate"].clone();
    assert!(doc["template"].get("actions").is_none(), "{doc}");
    // Now the catalog has the actions, so saving would declare them: still the same version.
    for a in ["validation", "approval"] {
        create_action(&app, &t, a).await;
    }
    let again = app
        .data(&t, IMPORT, json!({"input": {"blueprint": doc}}))
        .await;
    assert_eq!(again["importBlueprint"]["created"], false, "{again}");
    assert_eq!(again["importBlueprint"]["template"]["id"], id);
}

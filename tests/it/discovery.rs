//! Process discovery on import, the Monte Carlo forecast and the history replay, on the
//! shared real logs.
use crate::support::{TestApp, code};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use workflow_intel::auth::AuthState;
use workflow_intel::history::mapping::Mapping;
use workflow_intel::history::{self, Destination};
use workflow_intel::model::Role;
use workflow_intel::templates::bpmn;
use workflow_intel::templates::bpmn_flow::steps_from_graph;

/// The running example's mapping without the approval steps, so that its activities are the
/// steps (as in its BPMN model).
pub const PLAIN: &str = r#"
workflow = "Compensation requests"
[event]
activity = "concept:name"
timestamp = "time:timestamp"
[[input]]
attribute = "Costs"
from = "event"
type = "number"
name = "costs"
[[input]]
attribute = "priority"
from = "event"
type = "string"
"#;

/// What a model's structure is, independent of names of gateways and of step order: the
/// alternatives of each choice (as the tasks each branch starts with), the tasks of each
/// parallel lane, and how many steps are loop targets.
#[derive(Debug, PartialEq)]
pub struct Shape {
    choices: BTreeSet<Vec<BTreeSet<String>>>,
    lanes: BTreeSet<BTreeSet<String>>,
    loops: usize,
}

pub fn shape(steps: &Value) -> Shape {
    let steps = steps.as_array().unwrap();
    let by_name: HashMap<&str, &Value> = steps
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s))
        .collect();
    fn firsts(name: &str, by: &HashMap<&str, &Value>, depth: usize) -> BTreeSet<String> {
        let Some(s) = by.get(name) else {
            return BTreeSet::from(["$end".to_string()]);
        };
        if s["action"] != "gateway" || depth > 8 {
            return BTreeSet::from([name.to_string()]);
        }
        let branches = s["branches"].as_array().unwrap();
        branches
            .iter()
            .flat_map(|b| firsts(b["next_step"].as_str().unwrap(), by, depth + 1))
            .collect()
    }
    let mut choices = BTreeSet::new();
    let mut lanes: HashMap<(String, u64), BTreeSet<String>> = HashMap::new();
    for s in steps {
        if s["action"] == "gateway" {
            let mut alts: Vec<BTreeSet<String>> = s["branches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| firsts(b["next_step"].as_str().unwrap(), &by_name, 0))
                .collect();
            alts.sort();
            choices.insert(alts);
        } else if let Some(p) = s.get("parallel") {
            lanes
                .entry((
                    p["group"].as_str().unwrap().into(),
                    p["lane"].as_u64().unwrap(),
                ))
                .or_default()
                .insert(s["name"].as_str().unwrap().into());
        }
    }
    Shape {
        choices,
        lanes: lanes.into_values().collect(),
        loops: steps
            .iter()
            .filter(|s| s.get("max_iterations").is_some())
            .count(),
    }
}

#[test]
fn the_running_example_discovered_has_the_structure_of_its_bpmn_model() {
    let Some(dir) = crate::templates::event_logs() else {
        return;
    };
    let m = Mapping::parse(PLAIN).unwrap();
    let (found, _) = history::discover_file(
        &dir.join("running-example.xes"),
        &m,
        0.2,
        history::Limits::of(&Default::default()),
    )
    .unwrap();
    // The Inductive Miner's model of this log (Leemans et al.), as pm4py writes it: the same
    // tree, with choices in pm4py's canonical order.
    assert_eq!(
        found.tree,
        "->('register request', *(->(+('check ticket', X('examine thoroughly', \
         'examine casually')), 'decide'), 'reinitiate request'), X('reject request', 'pay compensation'))"
    );
    let xml = std::fs::read_to_string(dir.join("running-example.bpmn")).unwrap();
    let model = bpmn::import(&xml, "running example", "1.0.0").unwrap();
    let designed = shape(&steps_from_graph(&model.body.graph_spec).steps);
    let discovered = shape(&found.steps);
    assert_eq!(discovered, designed);
    // What that means, spelled out.
    let alt = |v: &[&[&str]]| -> Vec<BTreeSet<String>> {
        v.iter()
            .map(|b| b.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    assert!(
        designed
            .choices
            .contains(&alt(&[&["examine casually"], &["examine thoroughly"]]))
    );
    assert!(designed.choices.contains(&alt(&[
        &["pay compensation", "reject request"],
        &["reinitiate request"]
    ])));
    assert!(
        designed
            .lanes
            .contains(&BTreeSet::from(["check ticket".to_string()]))
    );
    assert_eq!(designed.loops, 1);

    // Exported to BPMN and read back, the discovered model keeps its structure.
    let body = workflow_intel::templates::body::TemplateBody {
        name: "discovered".into(),
        version: "1.0.0".into(),
        template_type: workflow_intel::templates::body::TemplateType::Approval,
        description: String::new(),
        process_steps: found.steps.clone(),
        variables: vec![],
        settings: json!({}),
        graph_spec: found.graph.clone(),
        is_public: false,
        actions: vec![],
    };
    let again = bpmn::import(&bpmn::export(&body), "again", "1.0.0").unwrap();
    assert_eq!(
        shape(&steps_from_graph(&again.body.graph_spec).steps),
        discovered
    );
}

pub async fn import_running_example(
    app: &TestApp,
    token: &str,
    mapping: &str,
) -> history::FileImport {
    let dir = crate::templates::event_logs().unwrap();
    let auth = match workflow_intel::auth::authenticate(&app.db, token)
        .await
        .unwrap()
    {
        AuthState::User(a) => a,
        _ => panic!("token"),
    };
    let m = Mapping::parse(mapping).unwrap();
    let path = dir.join("running-example.xes");
    history::import_file(
        &app.app.state,
        &Destination::Company(auth),
        &path,
        &m,
        false,
    )
    .await
    .unwrap()
}

const SIMULATE: &str =
    "mutation($input: SimulateWorkflowInput!) { simulateWorkflow(input: $input) {
  simulation { status predictedDurationMs validationErrors { code }
    forecast { runs seed p50Ms p90Ms drawnChoices paths { steps probability p50Ms } } } } }";

const REPLAY: &str = "query($w: ID!, $runs: Int = 32, $seed: Int = 1, $max: Int = 20000) {
  workflowReplay(workflowId: $w, runsPerCase: $runs, seed: $seed, maxCases: $max) {
    cases actualP50Ms actualP90Ms predictedP50Ms predictedP90Ms p50Ratio meanAbsoluteErrorMs
    outOfSample { fitCases testCases actualP50Ms predictedP50Ms segments { field } } } }";

#[tokio::test]
async fn an_imported_log_simulates_by_monte_carlo_and_replays_its_history() {
    if crate::templates::event_logs().is_none() {
        return;
    }
    let app = TestApp::spawn().await;
    let t = app.token("Insurer", "admin@insurer.io", Role::Admin).await;
    let done = import_running_example(&app, &t, PLAIN).await;
    assert_eq!(done.report.imported, 6);
    // The mapping names an attribute the log does not have: the import says so.
    assert_eq!(
        done.presence,
        vec![("Costs".to_string(), 6), ("priority".to_string(), 0)]
    );
    let d = done.discovery.expect("the new workflow was discovered");
    assert_eq!(d.tree_nodes, 14);
    let wid = done.workflow_id.to_string();
    let input = json!({"input": {"workflowId": wid, "inputData": {"costs": 100},
        "forecast": {"runs": 2000, "seed": 7}}});
    let sim = app.data(&t, SIMULATE, input.clone()).await["simulateWorkflow"]["simulation"].clone();
    assert_eq!(sim["status"], "SUCCEEDED", "{sim}");
    assert_eq!(sim["validationErrors"], json!([]));
    let f = &sim["forecast"];
    assert_eq!(
        (f["runs"].as_i64(), f["seed"].as_i64()),
        (Some(2000), Some(7))
    );
    assert!(f["drawnChoices"].as_i64().unwrap() >= 2000 * 2, "{f}");
    assert_eq!(sim["predictedDurationMs"], f["p50Ms"]);
    let total: f64 = f["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .sum();
    assert!(total > 0.9 && total <= 1.0 + 1e-9, "{total}");
    // Paying and rejecting both happen, with the log's odds (3 of 6 cases rejected).
    let ends = |last: &str| -> f64 {
        f["paths"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["steps"].as_array().unwrap().last().unwrap() == last)
            .map(|p| p["probability"].as_f64().unwrap())
            .sum()
    };
    let (pay, reject) = (ends("pay compensation"), ends("reject request"));
    assert!(
        (0.35..0.65).contains(&reject) && pay > 0.2,
        "pay {pay}, reject {reject}"
    );
    // The same seed, the same forecast.
    let again =
        app.data(&t, SIMULATE, input).await["simulateWorkflow"]["simulation"]["forecast"].clone();
    assert_eq!(&again, f);

    let r = app.data(&t, REPLAY, json!({"w": wid})).await["workflowReplay"].clone();
    assert_eq!(r["cases"], 6);
    // Fitted on the 4 oldest cases, replayed on the 2 newest; too few for any segment.
    let o = &r["outOfSample"];
    assert_eq!(
        (o["fitCases"].as_i64(), o["testCases"].as_i64()),
        (Some(4), Some(2)),
        "{o}"
    );
    assert!(o["predictedP50Ms"].as_i64().unwrap() > 0, "{o}");
    assert_eq!(o["segments"], json!([]));
    let ratio = r["p50Ratio"].as_f64().unwrap();
    assert!(
        (0.8..=1.2).contains(&ratio),
        "predicted p50 within 20 % of the actual: {r}"
    );
    // The actual quantiles are those of the log (counted here from the cases' own spans).
    let spans = case_spans(&app, &t, &wid).await;
    assert_eq!(
        r["actualP50Ms"].as_i64().unwrap(),
        spans[(spans.len() - 1) / 2 + (spans.len() - 1) % 2]
    );
}

/// Every execution's completedAt − startedAt, sorted, read over GraphQL.
async fn case_spans(app: &TestApp, t: &str, wid: &str) -> Vec<i64> {
    let q = "query($w: ID!) { executions(first: 100, filter: {workflowId: $w}) { edges { node { startedAt completedAt } } } }";
    let d = app.data(t, q, json!({"w": wid})).await;
    let mut v: Vec<i64> = d["executions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let at = |k: &str| {
                chrono::DateTime::parse_from_rfc3339(e["node"][k].as_str().unwrap()).unwrap()
            };
            (at("completedAt") - at("startedAt")).num_milliseconds()
        })
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test]
async fn forecast_and_replay_arguments_out_of_range_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let w = app
        .data(
            &t,
            "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { workflow { id } } }",
            json!({"i": {"name": "W", "steps": [{"name": "a", "action": "gateway"}]}}),
        )
        .await["createWorkflow"]["workflow"]["id"]
        .clone();
    for forecast in [
        json!({"runs": 0}),
        json!({"runs": -5}),
        json!({"runs": i32::MAX}),
        json!({"seed": -1}),
    ] {
        let v = app
            .gql(
                Some(&t),
                SIMULATE,
                json!({"input": {"workflowId": w, "inputData": {}, "forecast": forecast}}),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{forecast}: {v}");
    }
    for (runs, max) in [(0, 10), (i32::MAX, 10), (1, 0), (1, -1), (1, i32::MAX)] {
        let v = app
            .gql(Some(&t), REPLAY, json!({"w": w, "runs": runs, "max": max}))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{runs} {max}: {v}");
    }
    let v = app
        .gql(Some(&t), REPLAY, json!({"w": w, "seed": i64::MAX}))
        .await;
    assert!(v["errors"].is_null(), "{v}");
}

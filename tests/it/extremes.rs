//! Extreme numbers in every numeric input, proven not to panic: property tests over the
//! GraphQL inputs and the command line's numeric arguments. Each extreme gets data or a clear
//! BAD_USER_INPUT (NOT_FOUND where a number names something that does not exist), and the
//! server keeps answering.
use crate::cli::{CliDb, text};
use crate::support::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use workflow_intel::model::Role;

/// Integers at and past every edge: zero, negatives, the 32-bit limits, past them (which
/// GraphQL's Int cannot hold), and anything in between.
fn ints() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(i32::MIN)),
        Just(json!(i32::MAX)),
        Just(json!(i64::from(i32::MAX) + 1)),
        Just(json!(i64::MAX)),
        Just(json!(1e30)),
        Just(json!(1.5)),
        any::<i32>().prop_map(|x| json!(x)),
    ]
}

/// Floats at the edges (JSON has no NaN or infinity: a client cannot send them).
fn floats() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0.0)),
        Just(json!(-0.0)),
        Just(json!(-1.0)),
        Just(json!(f64::MAX)),
        Just(json!(f64::MIN)),
        Just(json!(f64::MIN_POSITIVE)),
        Just(json!(100.000_000_1)),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| json!(x)),
    ]
}

/// Each numeric input: its document and its variables around one value.
type Case = (&'static str, &'static str, fn(&Value, &str, &str) -> Value);

const CASES: &[Case] = &[
    (
        "targetDurationSeconds",
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "name": "S", "targetDurationSeconds": v}}),
    ),
    (
        "warningThresholdSeconds",
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "name": "S", "targetDurationSeconds": 60, "warningThresholdSeconds": v}}),
    ),
    (
        "criticalThresholdSeconds",
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "name": "S", "targetDurationSeconds": 60, "criticalThresholdSeconds": v}}),
    ),
    (
        "sloWindowHours",
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "name": "S", "targetDurationSeconds": 60, "sloWindowHours": v}}),
    ),
    (
        "update sloWindowHours",
        "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }",
        |v, _, s| json!({"i": {"id": s, "sloWindowHours": v}}),
    ),
    (
        "metrics windowHours",
        "query($s: ID!, $v: Int) { sla(id: $s) { metrics(windowHours: $v) { compliancePercentage } } }",
        |v, _, s| json!({"s": s, "v": v}),
    ),
    (
        "breachTimeline hours",
        "query($s: ID!, $v: Int!) { sla(id: $s) { breachTimeline(hours: $v) { total } } }",
        |v, _, s| json!({"s": s, "v": v}),
    ),
    (
        "breachTimeline bucketMinutes",
        "query($s: ID!, $v: Int!) { sla(id: $s) { breachTimeline(bucketMinutes: $v) { total } } }",
        |v, _, s| json!({"s": s, "v": v}),
    ),
    (
        "stepStats days",
        "query($w: ID!, $v: Int) { workflow(id: $w) { stepStats(days: $v) { runs } } }",
        |v, w, _| json!({"w": w, "v": v}),
    ),
    (
        "days",
        "mutation($i: GenerateSuggestionsInput!) { generateSuggestions(input: $i) { updated } }",
        |v, _, _| json!({"i": {"days": v}}),
    ),
    (
        "minOccurrences",
        "mutation($i: GenerateSuggestionsInput!) { generateSuggestions(input: $i) { updated } }",
        |v, _, _| json!({"i": {"minOccurrences": v}}),
    ),
    (
        "forecast runs",
        "mutation($i: SimulateWorkflowInput!) { simulateWorkflow(input: $i) { simulation { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "inputData": {}, "forecast": {"runs": v}}}),
    ),
    (
        "forecast seed",
        "mutation($i: SimulateWorkflowInput!) { simulateWorkflow(input: $i) { simulation { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "inputData": {}, "forecast": {"seed": v}}}),
    ),
    (
        "simulate version",
        "mutation($i: SimulateWorkflowInput!) { simulateWorkflow(input: $i) { simulation { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "inputData": {}, "version": v}}),
    ),
    (
        "versionDiff",
        "query($w: ID!, $v: Int!) { workflowVersionDiff(workflowId: $w, fromVersion: $v, toVersion: 1) { workflowId } }",
        |v, w, _| json!({"w": w, "v": v}),
    ),
    (
        "replay runsPerCase",
        "query($w: ID!, $v: Int!) { workflowReplay(workflowId: $w, runsPerCase: $v) { cases } }",
        |v, w, _| json!({"w": w, "v": v}),
    ),
    (
        "replay maxCases",
        "query($w: ID!, $v: Int!) { workflowReplay(workflowId: $w, maxCases: $v) { cases } }",
        |v, w, _| json!({"w": w, "v": v}),
    ),
    (
        "replay seed",
        "query($w: ID!, $v: Int!) { workflowReplay(workflowId: $w, seed: $v) { cases } }",
        |v, w, _| json!({"w": w, "v": v}),
    ),
    (
        "first",
        "query($v: Int) { executions(first: $v) { totalCount } }",
        |v, _, _| json!({"v": v}),
    ),
];

const FLOAT_CASES: &[Case] = &[
    (
        "sloTargetPercentage",
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        |v, w, _| json!({"i": {"workflowId": w, "name": "S", "targetDurationSeconds": 60, "sloTargetPercentage": v}}),
    ),
    (
        "update sloTargetPercentage",
        "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }",
        |v, _, s| json!({"i": {"id": s, "sloTargetPercentage": v}}),
    ),
];

/// Data, or errors that all carry a client's code: never an internal error or a dropped
/// connection.
fn clear(label: &str, value: &Value, r: &Value) {
    let Some(errors) = r["errors"].as_array() else {
        assert!(r["data"].is_object(), "{label} = {value}: {r}");
        return;
    };
    for e in errors {
        let code = e["extensions"]["code"].as_str().unwrap_or("none");
        assert!(
            ["BAD_USER_INPUT", "NOT_FOUND"].contains(&code),
            "{label} = {value}: {r}"
        );
        assert!(!e["message"].as_str().unwrap_or("").is_empty());
    }
}

#[tokio::test]
async fn extreme_numbers_in_every_numeric_input_get_data_or_a_clear_error() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let create =
        "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { workflow { id } } }";
    let steps = json!([{"name": "a", "action": "gateway"}]);
    let w = app
        .data(&t, create, json!({"i": {"name": "W", "steps": steps}}))
        .await["createWorkflow"]["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sla = "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }";
    let s = app
        .data(
            &t,
            sla,
            json!({"i": {"workflowId": w, "name": "Base", "targetDurationSeconds": 60}}),
        )
        .await["createSla"]["sla"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(PtConfig::default(), rng);
    for (cases, strategy) in [(CASES, ints().boxed()), (FLOAT_CASES, floats().boxed())] {
        for (label, doc, vars) in cases {
            for _ in 0..12 {
                let v = strategy.new_tree(&mut runner).unwrap().current();
                let r = app.gql(Some(&t), doc, vars(&v, &w, &s)).await;
                clear(label, &v, &r);
            }
        }
    }
    // Still answering.
    let r = app
        .data(&t, "{ workflows(first: 1) { totalCount } }", json!({}))
        .await;
    assert!(r["workflows"]["totalCount"].as_i64().unwrap() >= 1);
}

#[tokio::test]
async fn extreme_numbers_on_the_command_line_get_a_message_not_a_panic() {
    let db = CliDb::new().await;
    db.admin_token();
    let values = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("2147483647".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("99999999999999999999".to_string()),
        Just("1e9".to_string()),
        Just("NaN".to_string()),
        Just("".to_string()),
        Just("all".to_string()),
        any::<i64>().prop_map(|x| x.to_string()),
    ];
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(PtConfig::default(), rng);
    for flag in ["--days", "--min-occurrences"] {
        for _ in 0..10 {
            let v = values.new_tree(&mut runner).unwrap().current();
            let o = db.run(&["suggestions", "generate", flag, &v]);
            let (out, err) = text(&o);
            assert!(!err.contains("panicked"), "{flag} {v:?}: {err}");
            match o.status.code() {
                Some(0) => assert!(out.contains("new suggestions"), "{flag} {v:?}: {out}"),
                Some(1 | 2) => assert!(!err.trim().is_empty(), "{flag} {v:?}: no message"),
                other => panic!("{flag} {v:?}: exit {other:?}: {err}"),
            }
        }
    }
}

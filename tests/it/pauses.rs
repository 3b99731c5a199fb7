//! Pausing an execution's SLA clock: paused time does not count, the deadline moves by the
//! pause (re-armed on resume), an execution that completes while paused stops its pause, the
//! pauses are the breach's evidence, and the SLO counts agree with a recount.
use crate::sla::{COMPLETE, breaches, eventually, setup, start};
use crate::support::*;
use chrono::Duration;
use serde_json::json;
use workflow_intel::config::Config;

const PAUSE: &str = "mutation($e: ID!) { pauseExecutionSla(input: {executionId: $e, reason: \"waiting for the customer\"}) { execution { id slaPauses { pausedAt resumedAt reason } } } }";
const RESUME: &str = "mutation($e: ID!) { resumeExecutionSla(input: {executionId: $e}) { execution { id slaPauses { pausedAt resumedAt } } } }";

#[tokio::test]
async fn paused_time_does_not_count_and_the_deadline_moves_by_the_pause() {
    // The SLA: warning at 240 s, target and critical at 300 s.
    let s = setup(Config::default(), json!([])).await;
    let exec = start(&s).await;
    s.clock.advance(Duration::seconds(200));
    let p = s.app.data(&s.token, PAUSE, json!({"e": exec})).await;
    assert_eq!(
        p["pauseExecutionSla"]["execution"]["slaPauses"][0]["reason"],
        "waiting for the customer"
    );
    let again = s.app.gql(Some(&s.token), PAUSE, json!({"e": exec})).await;
    assert_eq!(code(&again), "CONFLICT");
    // An hour waiting on the customer: no breach.
    s.clock.advance(Duration::seconds(3600));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(breaches(&s, json!({})).await.is_empty());
    let r = s.app.data(&s.token, RESUME, json!({"e": exec})).await;
    assert!(r["resumeExecutionSla"]["execution"]["slaPauses"][0]["resumedAt"].is_string());
    let again = s.app.gql(Some(&s.token), RESUME, json!({"e": exec})).await;
    assert_eq!(code(&again), "CONFLICT");
    // 39 s later the clock reads 239 s: nothing; at 241 s, the warning.
    s.clock.advance(Duration::seconds(39));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        breaches(&s, json!({})).await.is_empty(),
        "the deadline moved by the pause"
    );
    s.clock.advance(Duration::seconds(2));
    eventually("the warning after the pause", || async {
        breaches(&s, json!({})).await.len() == 1
    })
    .await;
    let w = &breaches(&s, json!({})).await[0];
    assert_eq!(w["actualDurationSeconds"], 241.0, "{w}");

    // Paused again and completed while paused: 250 s of SLA time in all, under the target.
    s.clock.advance(Duration::seconds(9));
    s.app.data(&s.token, PAUSE, json!({"e": exec})).await;
    s.clock.advance(Duration::seconds(500));
    let done = json!({"input": {"executionId": exec, "status": "COMPLETED"}});
    s.app.data(&s.token, COMPLETE, done).await;
    let q = "{ slaBreaches(first: 5) { nodes { severity actualDurationSeconds pauses { pausedAt resumedAt reason } } } }";
    let b = s.app.data(&s.token, q, json!({})).await["slaBreaches"]["nodes"].clone();
    assert_eq!(b.as_array().unwrap().len(), 1, "no critical breach: {b}");
    assert_eq!(b[0]["actualDurationSeconds"], 250.0, "{b}");
    let pauses = b[0]["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 2);
    assert!(
        pauses.iter().all(|p| p["resumedAt"].is_string()),
        "completion ended the pause: {b}"
    );
    let m = "query($id: ID!) { sla(id: $id) { metrics { total met breachedWarning breachedCritical } } }";
    let m = s.app.data(&s.token, m, json!({"id": s.sla})).await["sla"]["metrics"].clone();
    assert_eq!(
        m,
        json!({"total": 1, "met": 1, "breachedWarning": 1, "breachedCritical": 0})
    );
    // A completed execution cannot pause.
    let v = s.app.gql(Some(&s.token), PAUSE, json!({"e": exec})).await;
    assert_eq!(code(&v), "CONFLICT");
    // A recount after a threshold change agrees (the rollups are rebuilt with the pauses).
    let upd = "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }";
    s.app
        .data(
            &s.token,
            upd,
            json!({"i": {"id": s.sla, "targetDurationSeconds": 245}}),
        )
        .await;
    let m = "query($id: ID!) { sla(id: $id) { metrics { total met } } }";
    let m = s.app.data(&s.token, m, json!({"id": s.sla})).await["sla"]["metrics"].clone();
    assert_eq!(
        m,
        json!({"total": 1, "met": 0}),
        "250 s against a 245 s target"
    );
}

const RECORD: &str =
    "mutation($input: RecordStepInput!) { recordStep(input: $input) { step { id } } }";

/// Records step `name` of `exec` from `from` s after t0 (to `to`, None: still running).
async fn step(s: &crate::sla::Setup, exec: &str, name: &str, from: i64, to: Option<i64>) {
    let at = |x: i64| (crate::sla::t0() + Duration::seconds(x)).to_rfc3339();
    let mut input =
        json!({"executionId": exec, "stepName": name, "status": "RUNNING", "startedAt": at(from)});
    if let Some(to) = to {
        input["status"] = json!("COMPLETED");
        input["completedAt"] = json!(at(to));
    }
    s.app.data(&s.token, RECORD, json!({"input": input})).await;
}

async fn metrics(s: &crate::sla::Setup, sla: &str) -> serde_json::Value {
    let m = "query($id: ID!) { sla(id: $id) { metrics { total met breachedWarning breachedCritical } } }";
    s.app.data(&s.token, m, json!({"id": sla})).await["sla"]["metrics"].clone()
}

/// A second SLA on the setup's workflow, "Overall", 300/240/300, without a pause condition.
async fn overall_sla(s: &crate::sla::Setup) -> String {
    let create = json!({"input": {"workflowId": s.workflow, "name": "Overall", "targetDurationSeconds": 300,
        "warningThresholdSeconds": 240, "criticalThresholdSeconds": 300}});
    s.app.data(&s.token, crate::sla::CREATE_SLA, create).await["createSla"]["sla"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_pause_condition_stops_only_its_slas_clock_while_the_customer_step_runs() {
    let s = setup(Config::default(), json!([])).await;
    let upd = "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id pauseWhen } } }";
    let bad = json!({"i": {"id": s.sla, "pauseWhen": {"step.name": {"$gt": []}}}});
    let v = s.app.gql(Some(&s.token), upd, bad).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(v.to_string().contains("pauseWhen"), "{v}");
    let when = json!({"step.name": "Waiting for customer"});
    let u = s
        .app
        .data(
            &s.token,
            upd,
            json!({"i": {"id": s.sla, "pauseWhen": when}}),
        )
        .await;
    assert_eq!(u["updateSla"]["sla"]["pauseWhen"], when);
    // A second SLA on the same workflow, without a pause condition: its clock runs on.
    let overall = overall_sla(&s).await;

    let exec = start(&s).await;
    step(&s, &exec, "Validate", 0, Some(10)).await;
    s.clock.advance(Duration::seconds(100));
    step(&s, &exec, "Waiting for customer", 100, None).await;
    // An hour with the customer: the other SLA breaches and counts as missed at once; this one
    // has run 100 s and has nothing to count.
    s.clock.advance(Duration::seconds(3600));
    eventually("the other SLA's two breaches", || async {
        breaches(&s, json!({})).await.len() == 2
    })
    .await;
    let all = breaches(&s, json!({})).await;
    assert!(all.iter().all(|b| b["sla"]["name"] == "Overall"), "{all:?}");
    assert_eq!(metrics(&s, &overall).await["met"], 0);
    assert_eq!(metrics(&s, &s.sla).await["total"], 0);

    // The customer answers at 3,700 s: 100 s of SLA time so far; the warning is due 140 s on.
    step(&s, &exec, "Waiting for customer", 100, Some(3700)).await;
    s.clock.advance(Duration::seconds(139));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mine = json!({"slaId": s.sla});
    assert!(breaches(&s, mine.clone()).await.is_empty(), "re-armed");
    s.clock.advance(Duration::seconds(2));
    eventually("the warning after the pause", || async {
        breaches(&s, mine.clone()).await.len() == 1
    })
    .await;
    assert_eq!(
        breaches(&s, mine.clone()).await[0]["actualDurationSeconds"],
        241.0
    );

    // Waiting again from 3,841 s until the next step starts at 3,900 s; completed at 3,950 s:
    // 100 + 141 + 50 = 291 s of SLA time, under the 300 s target.
    step(&s, &exec, "Waiting for customer", 3841, None).await;
    s.clock.advance(Duration::seconds(59));
    step(&s, &exec, "Manager Approval", 3900, None).await;
    s.clock.advance(Duration::seconds(50));
    let done = json!({"input": {"executionId": exec, "status": "COMPLETED"}});
    s.app.data(&s.token, COMPLETE, done).await;
    let b = &breaches(&s, mine.clone()).await;
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["actualDurationSeconds"], 291.0, "{b:?}");
    let q = "query($id: ID!) { execution(id: $id) { slaPauses { pausedAt resumedAt reason sla { name } } } }";
    let p = s.app.data(&s.token, q, json!({"id": exec})).await["execution"]["slaPauses"].clone();
    let p = p.as_array().unwrap();
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter().all(|p| p["sla"]["name"] == "Discount turnaround"
            && p["reason"]
                .as_str()
                .unwrap()
                .contains("Waiting for customer")),
        "{p:?}"
    );
    // Each breach's evidence holds only the pauses that stopped its own SLA.
    let q = "{ slaBreaches(first: 10) { nodes { sla { name } pauses { reason } } } }";
    let nodes = s.app.data(&s.token, q, json!({})).await["slaBreaches"]["nodes"].clone();
    for b in nodes.as_array().unwrap() {
        let n = b["pauses"].as_array().unwrap().len();
        let want = if b["sla"]["name"] == "Overall" { 0 } else { 2 };
        assert_eq!(n, want, "{b}");
    }
    assert_eq!(
        metrics(&s, &s.sla).await,
        json!({"total": 1, "met": 1, "breachedWarning": 1, "breachedCritical": 0})
    );
    assert_eq!(
        metrics(&s, &overall).await,
        json!({"total": 1, "met": 0, "breachedWarning": 0, "breachedCritical": 1})
    );
}

//! The SLA clock never drops a deadline: executions started sub-millisecond apart all breach
//! at their deadlines, on a moving manual clock and on the real one.
use crate::sla::{START, Setup, eventually, setup, t0};
use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use std::collections::HashMap;
use workflow_intel::config::Config;
use workflow_intel::entity::breach;
use workflow_intel::model::Role;

async fn start_at(
    app: &TestApp,
    token: &str,
    workflow: &str,
    at: DateTime<Utc>,
) -> (String, DateTime<Utc>) {
    let e = app
        .data(
            token,
            START,
            json!({"input": {"workflowId": workflow, "startedAt": at.to_rfc3339()}}),
        )
        .await["startExecution"]["execution"]
        .clone();
    let stored = DateTime::parse_from_rfc3339(e["startedAt"].as_str().unwrap())
        .unwrap()
        .to_utc();
    (e["id"].as_str().unwrap().to_string(), stored)
}

/// One case: executions at the given microsecond offsets from t0 (the SLA of `setup`: warning
/// 240 s, critical 300 s), and a clock that walks across both thresholds in the given steps.
async fn walk(offsets_us: &[i64], steps_us: &[i64]) {
    let s: Setup = setup(Config::default(), json!([])).await;
    let mut deadlines: HashMap<(String, &str), DateTime<Utc>> = HashMap::new();
    for off in offsets_us {
        let (id, started) = start_at(
            &s.app,
            &s.token,
            &s.workflow,
            t0() + Duration::microseconds(*off),
        )
        .await;
        deadlines.insert((id.clone(), "WARNING"), started + Duration::seconds(240));
        deadlines.insert((id, "CRITICAL"), started + Duration::seconds(300));
    }
    for threshold in [240, 300] {
        s.clock
            .set(t0() + Duration::seconds(threshold) - Duration::milliseconds(1));
        for step in steps_us.iter().cycle().take(40) {
            s.clock.advance(Duration::microseconds(*step));
            let now = workflow_intel::clock::Clock::now(s.clock.as_ref());
            let passed = deadlines.values().filter(|d| **d < now).count() as u64;
            let db = s.app.db.clone();
            eventually(&format!("{passed} breaches at {now}"), || {
                let db = db.clone();
                async move { breach::Entity::find().count(&db).await.unwrap() == passed }
            })
            .await;
        }
    }
    // Each breach was recorded at the first clock reading past its deadline: never later.
    let all = s.app.data(&s.token, "{ slaBreaches(first: 100) { edges { node { severity detectedAt execution { id } } } } }", json!({})).await;
    let edges = all["slaBreaches"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), deadlines.len());
    let max_step = Duration::microseconds(*steps_us.iter().max().unwrap());
    for e in edges {
        let n = &e["node"];
        let sev = if n["severity"] == "WARNING" {
            "WARNING"
        } else {
            "CRITICAL"
        };
        let id = n["execution"]["id"].as_str().unwrap().to_string();
        let deadline = deadlines[&(id, sev)];
        let detected = DateTime::parse_from_rfc3339(n["detectedAt"].as_str().unwrap())
            .unwrap()
            .to_utc();
        assert!(
            detected > deadline && detected - deadline <= max_step,
            "{n}: deadline {deadline}"
        );
    }
}

#[tokio::test]
async fn deadlines_at_sub_millisecond_offsets_all_breach_on_a_moving_clock() {
    let strategy = (
        proptest::collection::vec(0i64..4_000, 2..8),
        proptest::collection::vec(50i64..1_500, 3..10),
    );
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(PtConfig::default(), rng);
    for _ in 0..6 {
        let (offsets, steps) = strategy.new_tree(&mut runner).unwrap().current();
        walk(&offsets, &steps).await;
    }
}

#[tokio::test]
async fn forty_executions_in_pairs_a_millisecond_apart_all_breach_within_a_second() {
    // No periodic re-scan within the test: a dropped deadline would stay dropped.
    let conn = fresh_db().await;
    workflow_intel::db::migrate(&conn).await.unwrap();
    let app = TestApp::spawn_timed(Config::default(), conn.into(), None, QUIET_TIMING).await;
    let t = app.token("Acme", "ops@acme.io", Role::Admin).await;
    let wf = create_workflow(&app, &t, "Pairs", json!([{"name": "s", "action": "x"}])).await;
    let wf = wf["id"].as_str().unwrap();
    app.data(&t, "mutation($w: ID!) { createSla(input: {workflowId: $w, name: \"Tight\", targetDurationSeconds: 2, warningThresholdSeconds: 1, criticalThresholdSeconds: 2}) { sla { id } } }", json!({"w": wf})).await;
    let base = Utc::now() + Duration::milliseconds(300);
    let mut deadlines = Vec::new();
    for pair in 0..20 {
        let first = base + Duration::milliseconds(pair * 7);
        let gap = Duration::microseconds(800 + (pair % 8) * 100);
        for at in [first, first + gap] {
            let (_, started) = start_at(&app, &t, wf, at).await;
            deadlines.push(started + Duration::seconds(1));
            deadlines.push(started + Duration::seconds(2));
        }
    }
    let last = *deadlines.iter().max().unwrap();
    let wait =
        (last - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(1_200);
    tokio::time::sleep(wait).await;
    let v = app.data(&t, "{ slaBreaches(first: 100) { totalCount edges { node { detectedAt thresholdSeconds execution { startedAt } } } } }", json!({})).await;
    assert_eq!(v["slaBreaches"]["totalCount"], 80, "{v}");
    for e in v["slaBreaches"]["edges"].as_array().unwrap() {
        let n = &e["node"];
        let started =
            DateTime::parse_from_rfc3339(n["execution"]["startedAt"].as_str().unwrap()).unwrap();
        let detected = DateTime::parse_from_rfc3339(n["detectedAt"].as_str().unwrap()).unwrap();
        let late =
            detected - (started + Duration::seconds(n["thresholdSeconds"].as_i64().unwrap()));
        assert!(
            late > Duration::zero() && late < Duration::seconds(1),
            "{n}: {late}"
        );
    }
}

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

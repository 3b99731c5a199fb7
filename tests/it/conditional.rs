//! Conditional SLAs: an SLA that applies only to high-priority input is attached to the
//! executions whose input meets its condition, alone among them; every applicable SLA is
//! attached (the workflow's general SLA too); the simulation names the SLAs that apply; the
//! SLO counts hold only the executions it applies to, through a recount.
use crate::sla::{COMPLETE, CREATE_SLA, START, eventually, setup};
use crate::support::*;
use chrono::Duration;
use serde_json::json;
use workflow_intel::config::Config;

#[tokio::test]
async fn an_sla_applies_to_the_executions_its_condition_selects() {
    // The workflow's general SLA: warning 240 s, target and critical 300 s.
    let s = setup(Config::default(), json!([])).await;
    let input = json!({"workflowId": s.workflow, "name": "High priority", "targetDurationSeconds": 60,
        "warningThresholdSeconds": 30, "criticalThresholdSeconds": 60, "appliesWhen": {"priority": "high"}});
    let high = s
        .app
        .data(&s.token, CREATE_SLA, json!({"input": input}))
        .await["createSla"]["sla"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let s = &s;
    let start = |priority: &'static str| async move {
        let v = json!({"input": {"workflowId": s.workflow, "inputData": {"amount": 100, "priority": priority}}});
        s.app.data(&s.token, START, v).await["startExecution"]["execution"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (urgent, routine) = (start("high").await, start("low").await);
    s.clock.advance(Duration::seconds(61));
    let q = "{ slaBreaches(first: 20) { nodes { severity sla { name } execution { id } } } }";
    eventually("the high-priority breaches", || async {
        s.app.data(&s.token, q, json!({})).await["slaBreaches"]["nodes"]
            .as_array()
            .unwrap()
            .len()
            == 2
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let b = s.app.data(&s.token, q, json!({})).await["slaBreaches"]["nodes"].clone();
    for x in b.as_array().unwrap() {
        assert_eq!(
            (x["sla"]["name"].as_str(), x["execution"]["id"].as_str()),
            (Some("High priority"), Some(urgent.as_str())),
            "{b}"
        );
    }
    for e in [&urgent, &routine] {
        s.app
            .data(
                &s.token,
                COMPLETE,
                json!({"input": {"executionId": e, "status": "COMPLETED"}}),
            )
            .await;
    }
    let m = "query($id: ID!) { sla(id: $id) { appliesWhen metrics { total met } } }";
    let h = s.app.data(&s.token, m, json!({"id": high})).await["sla"].clone();
    assert_eq!(
        h,
        json!({"appliesWhen": {"priority": "high"}, "metrics": {"total": 1, "met": 0}})
    );
    let g = s.app.data(&s.token, m, json!({"id": s.sla})).await["sla"]["metrics"].clone();
    assert_eq!(
        g,
        json!({"total": 2, "met": 2}),
        "the general SLA applies to both"
    );

    // A recount (the target goes to 90 s) keeps to the executions the SLA applies to.
    let upd = "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }";
    s.app
        .data(
            &s.token,
            upd,
            json!({"i": {"id": high, "targetDurationSeconds": 90, "criticalThresholdSeconds": 90}}),
        )
        .await;
    let h = s.app.data(&s.token, m, json!({"id": high})).await["sla"]["metrics"].clone();
    assert_eq!(
        h,
        json!({"total": 1, "met": 1}),
        "the 61 s run meets 90 s; still one run"
    );

    simulation_names_the_slas(s, &high).await;
}

/// The simulation names the SLAs an input would get; a condition the language cannot read is
/// refused with where.
async fn simulation_names_the_slas(s: &crate::sla::Setup, high: &str) {
    let upd = "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }";
    // The simulation names the SLAs an input would get.
    let sim = "mutation($i: SimulateWorkflowInput!) { simulateWorkflow(input: $i) { simulation { applicableSlas { name } } } }";
    for (priority, want) in [
        (
            "high",
            json!([{"name": "Discount turnaround"}, {"name": "High priority"}]),
        ),
        ("low", json!([{"name": "Discount turnaround"}])),
    ] {
        let v = json!({"i": {"workflowId": s.workflow, "inputData": {"amount": 100, "priority": priority}}});
        let got =
            s.app.data(&s.token, sim, v).await["simulateWorkflow"]["simulation"]["applicableSlas"]
                .clone();
        assert_eq!(got, want, "{priority}");
    }

    // A condition the language cannot read is refused with where.
    let bad = json!({"i": {"id": high, "appliesWhen": {"priority": {"$near": 3}}}});
    let v = s.app.gql(Some(&s.token), upd, bad).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("appliesWhen"), "{v}");
}

//! The API behind the live board and the workflow view: `Sla.breachTimeline`,
//! `slaBreachEventsHead`, `BreachEvent.replayed`, `Workflow.stepFlows` and
//! `Workflow.stepStats`, each recounted here from the rows it summarises, and each scoped to
//! the caller's company.
use crate::sla::{Setup, breaches, eventually, setup, start, t0};
use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use workflow_intel::config::Config;
use workflow_intel::model::Role;

const TIMELINE: &str = r#"query($id: ID!, $h: Int!, $b: Int!) { sla(id: $id) {
  breachTimeline(hours: $h, bucketMinutes: $b) { from to bucketMinutes total buckets { start count warning critical } } } }"#;

async fn timeline(s: &Setup, hours: i64, bucket: i64) -> Value {
    let v = json!({"id": s.sla, "h": hours, "b": bucket});
    s.app.data(&s.token, TIMELINE, v).await["sla"]["breachTimeline"].clone()
}

/// Three executions cross the warning (240 s) and the critical (300 s) threshold.
async fn six_breaches(s: &Setup) {
    for _ in 0..3 {
        start(s).await;
    }
    s.clock.advance(Duration::seconds(250));
    eventually("warnings", || async {
        breaches(s, json!({})).await.len() == 3
    })
    .await;
    s.clock.advance(Duration::seconds(60));
    eventually("criticals", || async {
        breaches(s, json!({})).await.len() == 6
    })
    .await;
}

#[tokio::test]
async fn breach_timeline_counts_each_breach_in_the_bucket_of_its_detection() {
    let s = setup(Config::default(), json!([])).await;
    six_breaches(&s).await;
    let t = timeline(&s, 1, 5).await;
    assert_eq!(t["total"], 6, "{t}");
    assert_eq!(t["bucketMinutes"], 5);
    let buckets = t["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 12);
    // Recount from the breaches' own detection times.
    let q = r#"{ slaBreaches(first: 100) { nodes { detectedAt severity } } }"#;
    let rows = s.app.data(&s.token, q, json!({})).await["slaBreaches"]["nodes"].clone();
    let from: DateTime<Utc> = t["from"].as_str().unwrap().parse().unwrap();
    let mut expect = vec![(0, 0); 12];
    for r in rows.as_array().unwrap() {
        let at: DateTime<Utc> = r["detectedAt"].as_str().unwrap().parse().unwrap();
        let i = (((at - from).num_seconds() / 300) as usize).min(11);
        match r["severity"].as_str().unwrap() {
            "CRITICAL" => expect[i].1 += 1,
            _ => expect[i].0 += 1,
        }
    }
    let got: Vec<(i64, i64)> = buckets
        .iter()
        .map(|b| {
            (
                b["warning"].as_i64().unwrap(),
                b["critical"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expect);
    assert!(
        buckets
            .iter()
            .all(|b| b["count"] == b["warning"].as_i64().unwrap() + b["critical"].as_i64().unwrap())
    );
    // Two hours later the last hour holds none of them, the last day all six.
    s.clock.advance(Duration::hours(2));
    assert_eq!(timeline(&s, 1, 60).await["total"], 0);
    assert_eq!(timeline(&s, 24, 60).await["total"], 6);
    assert_eq!(
        timeline(&s, 24, 60).await["buckets"]
            .as_array()
            .unwrap()
            .len(),
        24
    );
}

#[tokio::test]
async fn breach_timeline_refuses_spans_it_cannot_draw() {
    let s = setup(Config::default(), json!([])).await;
    let q = |h: i64, b: i64| json!({"id": s.sla, "h": h, "b": b});
    for (h, b) in [
        (0, 60),
        (24, 0),
        (24, 1441),
        (1000, 1),
        (-5, 60),
        (100_000, 60),
    ] {
        let r = s.app.gql(Some(&s.token), TIMELINE, q(h, b)).await;
        assert_eq!(
            code(&r),
            "BAD_USER_INPUT",
            "hours {h}, bucketMinutes {b}: {r}"
        );
    }
    // Defaults: 24 one-hour buckets.
    let r = s
        .app
        .data(&s.token, "query($id: ID!) { sla(id: $id) { breachTimeline { bucketMinutes buckets { count } } } }", json!({"id": s.sla}))
        .await;
    assert_eq!(
        r["sla"]["breachTimeline"]["buckets"]
            .as_array()
            .unwrap()
            .len(),
        24
    );
}

#[tokio::test]
async fn events_head_and_replayed_events_are_per_company() {
    let s = setup(Config::default(), json!([])).await;
    let head = "{ slaBreachEventsHead }";
    assert_eq!(
        s.app.data(&s.token, head, json!({})).await["slaBreachEventsHead"],
        0
    );
    six_breaches(&s).await;
    let h = s.app.data(&s.token, head, json!({})).await["slaBreachEventsHead"]
        .as_i64()
        .unwrap();
    let other = s.app.token("Globex", "ops@globex.io", Role::Admin).await;
    assert_eq!(
        s.app.data(&other, head, json!({})).await["slaBreachEventsHead"],
        0
    );
    let r = s
        .app
        .gql(
            Some(&other),
            TIMELINE,
            json!({"id": s.sla, "h": 24, "b": 60}),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");

    // From the start of the log: six replayed events, the last at the head; then one live.
    // The connection handles its messages in order, so the pong to a ping sent after the
    // subscription comes after the replay: whatever commits later arrives live.
    let mut ws = Ws::ready(&s.app, &s.token).await;
    let q =
        "subscription($a: Int) { slaBreachEvents(afterSequence: $a) { kind sequence replayed } }";
    ws.subscribe("1", q, json!({"a": 0})).await;
    ws.send(json!({"type": "ping"})).await;
    let mut seen = Vec::new();
    loop {
        let m = ws.next().await.expect("a replayed event or the pong");
        if m["type"] == "pong" {
            break;
        }
        seen.push(m["payload"]["data"]["slaBreachEvents"].clone());
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.iter().all(|e| e["replayed"] == true), "{seen:?}");
    assert_eq!(seen.last().unwrap()["sequence"], h);
    let b = breaches(&s, json!({})).await[0]["id"].clone();
    let ack = "mutation($id: ID!) { acknowledgeBreach(input: {id: $id, notes: \"on it\"}) { breach { id } } }";
    s.app.data(&s.token, ack, json!({"id": b})).await;
    let m = ws.next().await.expect("a live event");
    let e = &m["payload"]["data"]["slaBreachEvents"];
    assert_eq!(
        (e["kind"].as_str(), e["replayed"].as_bool()),
        (Some("ACKNOWLEDGED"), Some(false)),
        "{m}"
    );
    assert_eq!(e["sequence"], h + 1);
}

const STATS: &str = r#"query($id: ID!) { workflow(id: $id) {
  stepFlows { from to kind condition }
  stepStats { step runs executions p50Ms p95Ms breachedTimeShare breachedRuns } } }"#;

fn import_case(wf: &str, n: usize, steps: &[(&str, i64)]) -> Value {
    let start = t0() - Duration::hours(5) + Duration::minutes(n as i64 * 10);
    let mut at = start;
    let rows: Vec<Value> = steps
        .iter()
        .map(|(name, secs)| {
            let (a, b) = (at, at + Duration::seconds(*secs));
            at = b;
            json!({"stepName": name, "status": "COMPLETED", "startedAt": a.to_rfc3339(), "completedAt": b.to_rfc3339()})
        })
        .collect();
    json!({"workflowId": wf, "externalId": format!("case-{n}"), "status": "COMPLETED",
           "startedAt": start.to_rfc3339(), "completedAt": at.to_rfc3339(), "steps": rows})
}

#[tokio::test]
async fn step_stats_recount_the_imported_runs_and_the_breached_time() {
    let s = setup(Config::default(), json!([])).await;
    // Two quick cases (60 s) and one slow case (400 s, over both thresholds).
    let cases = vec![
        import_case(
            &s.workflow,
            0,
            &[("Validate", 20), ("Manager Approval", 40)],
        ),
        import_case(
            &s.workflow,
            1,
            &[("Validate", 10), ("Manager Approval", 50)],
        ),
        import_case(
            &s.workflow,
            2,
            &[("Validate", 100), ("Manager Approval", 300)],
        ),
    ];
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported breaches } }";
    let r = s
        .app
        .data(&s.token, q, json!({"i": {"executions": cases}}))
        .await;
    assert_eq!(r["importExecutions"]["breaches"], 2, "{r}");
    let w = s.app.data(&s.token, STATS, json!({"id": s.workflow})).await["workflow"].clone();
    let stats = w["stepStats"].as_array().unwrap();
    let of = |n: &str| stats.iter().find(|x| x["step"] == n).unwrap().clone();
    let v = of("Validate");
    assert_eq!(
        (v["runs"].as_i64(), v["executions"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (v["p50Ms"].as_i64(), v["p95Ms"].as_i64()),
        (Some(20_000), Some(100_000))
    );
    assert_eq!(v["breachedRuns"], 1);
    assert_eq!(v["breachedTimeShare"], 0.25);
    assert_eq!(of("Manager Approval")["breachedTimeShare"], 0.75);
    // Every step of the definition is listed, in order, those that never ran with zeros.
    let names: Vec<&str> = stats.iter().map(|x| x["step"].as_str().unwrap()).collect();
    let defined: Vec<String> = workflow_intel::seed::discount_steps()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, defined);
    assert!(
        stats
            .iter()
            .filter(|x| x["runs"] == 0)
            .all(|x| x["p50Ms"].is_null())
    );
    // The flows name only steps of the definition, and the end.
    for f in w["stepFlows"].as_array().unwrap() {
        for end in [&f["from"], &f["to"]] {
            let e = end.as_str().unwrap();
            assert!(e == "$end" || defined.iter().any(|d| d == e), "{f}");
        }
    }
    assert!(
        w["stepFlows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "SKIP" || f["kind"] == "BRANCH")
    );
    // The view's paths are the exploration a stored simulation makes.
    let q = r#"query($w: ID!) { workflowPaths(workflowId: $w) { truncated paths { steps description witness predictedDurationMs } } }"#;
    let paths = s.app.data(&s.token, q, json!({"w": s.workflow})).await["workflowPaths"].clone();
    let sim = r#"mutation($w: ID!) { simulateWorkflow(input: {workflowId: $w, inputData: {}}) { simulation {
      branchExplorations { truncated paths { steps description witness predictedDurationMs } } } } }"#;
    let stored =
        s.app.data(&s.token, sim, json!({"w": s.workflow})).await["simulateWorkflow"]["simulation"]
            ["branchExplorations"]
            .clone();
    assert_eq!(paths, stored);
    assert_eq!(paths["paths"].as_array().unwrap().len(), 3, "{paths}");
    // Another company cannot read the workflow, so neither its stats.
    let other = s.app.token("Globex", "ops@globex.io", Role::Admin).await;
    let r = s
        .app
        .gql(Some(&other), STATS, json!({"id": s.workflow}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
}

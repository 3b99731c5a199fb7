//! Work time apart from waiting: a log with start and complete events imports each step run
//! with its recorded start, so its duration is handling time; a step with only a completion
//! is marked as timed from the previous event. The figures are recounted from the fixture.
use crate::support::TestApp;
use serde_json::{Value, json};
use workflow_intel::auth::AuthState;
use workflow_intel::history::mapping::Mapping;
use workflow_intel::history::{self, Destination};
use workflow_intel::model::Role;

const MAPPING: &str = r#"
workflow = "Claims"
[event]
activity = "concept:name"
timestamp = "time:timestamp"
lifecycle = "lifecycle:transition"
[[input]]
attribute = "amount"
type = "number"
"#;

const CASES: usize = 40;

fn event(activity: &str, lifecycle: &str, minute: i64, base: i64) -> String {
    let t = chrono::DateTime::from_timestamp(base + minute * 60, 0).unwrap();
    format!(
        r#"<event><string key="concept:name" value="{activity}"/><string key="lifecycle:transition" value="{lifecycle}"/><date key="time:timestamp" value="{}"/></event>"#,
        t.to_rfc3339()
    )
}

/// Each case: "register" (completion only), then "check" waits 10 minutes and takes 15 (and,
/// in every fourth case, runs again: 5 minutes' wait, 20 minutes' work), then "decide" waits
/// 35 minutes and takes 5.
fn fixture() -> std::path::PathBuf {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">"#);
    for k in 0..CASES {
        let base = 1_767_225_600 + k as i64 * 3600;
        xml += &format!(
            r#"<trace><string key="concept:name" value="case{k}"/><float key="amount" value="{}"/>"#,
            100 * k
        );
        xml += &event("register", "complete", 0, base);
        xml += &event("check", "start", 10, base);
        xml += &event("check", "complete", 25, base);
        let mut at = 25;
        if k % 4 == 0 {
            xml += &event("check", "start", 30, base);
            xml += &event("check", "complete", 50, base);
            at = 50;
        }
        xml += &event("decide", "start", at + 35, base);
        xml += &event("decide", "complete", at + 40, base);
        xml += "</trace>";
    }
    xml += "</log>";
    let path = std::env::temp_dir().join(format!("wi-worktime-{}.xes", uuid::Uuid::now_v7()));
    std::fs::write(&path, xml).unwrap();
    path
}

async fn import(app: &TestApp, token: &str) -> history::FileImport {
    let auth = match workflow_intel::auth::authenticate(&app.db, token)
        .await
        .unwrap()
    {
        AuthState::User(a) => a,
        _ => panic!("token"),
    };
    let path = fixture();
    let m = Mapping::parse(MAPPING).unwrap();
    let done = history::import_file(
        &app.app.state,
        &Destination::Company(auth),
        &path,
        &m,
        false,
    )
    .await
    .unwrap();
    let _ = std::fs::remove_file(path);
    done
}

#[tokio::test]
async fn lifecycle_starts_give_handling_time_and_the_rest_is_marked_as_waiting_included() {
    let app = TestApp::spawn().await;
    let t = app.token("Claims Co", "admin@claims.io", Role::Admin).await;
    let done = import(&app, &t).await;
    assert_eq!(done.report.imported, CASES);
    let wid = done.workflow_id.to_string();
    let q = "query($w: ID!) { executions(first: 100, filter: {workflowId: $w}) { edges { node {
        steps { stepName durationMs startInferred } } } } }";
    let d = app.data(&t, q, json!({"w": wid})).await;
    let mut runs: Vec<(String, i64, bool)> = Vec::new();
    for e in d["executions"]["edges"].as_array().unwrap() {
        for s in e["node"]["steps"].as_array().unwrap() {
            runs.push((
                s["stepName"].as_str().unwrap().to_string(),
                s["durationMs"].as_i64().unwrap(),
                s["startInferred"].as_bool().unwrap(),
            ));
        }
    }
    let of = |name: &str| -> Vec<(i64, bool)> {
        let mut v: Vec<(i64, bool)> = runs
            .iter()
            .filter(|r| r.0 == name)
            .map(|r| (r.1, r.2))
            .collect();
        v.sort();
        v
    };
    let min = 60_000;
    // "register" has no start event: timed from the case's start, marked as inferred.
    assert_eq!(of("register"), vec![(0, true); CASES]);
    // "check": 15 minutes in every case, 20 more in every fourth; never the waiting before.
    let mut check = vec![(15 * min, false); CASES];
    check.extend(vec![(20 * min, false); CASES / 4]);
    check.sort();
    assert_eq!(of("check"), check);
    assert_eq!(of("decide"), vec![(5 * min, false); CASES]);

    // The step statistics say which runs are handling time.
    let q = "query($w: ID!) { workflow(id: $w) { stepStats { step runs handlingRuns p50Ms }
        conformance { cases fitness precision fittingCases deviations { step runs } warning } } }";
    let w = app.data(&t, q, json!({"w": wid})).await["workflow"].clone();
    let stat = |name: &str| -> Value {
        w["stepStats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            stat("register")["runs"].as_i64(),
            stat("register")["handlingRuns"].as_i64()
        ),
        (Some(40), Some(0))
    );
    assert_eq!(
        (
            stat("check")["runs"].as_i64(),
            stat("check")["handlingRuns"].as_i64()
        ),
        (Some(50), Some(50))
    );
    assert_eq!(stat("decide")["p50Ms"].as_i64(), Some(5 * min));
    // The discovered model replays its own history: every case fits.
    let c = &w["conformance"];
    assert_eq!(
        (c["cases"].as_i64(), c["fittingCases"].as_i64()),
        (Some(40), Some(40)),
        "{c}"
    );
    assert_eq!(c["fitness"].as_f64(), Some(1.0), "{c}");
    assert!(c["precision"].as_f64().unwrap() > 0.9, "{c}");
    assert_eq!(c["deviations"], json!([]));
    assert!(c["warning"].is_null());
}

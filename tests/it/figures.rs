//! One breach read three ways, as its readers get it: the alert email over real SMTP, the
//! board in headless Chromium and the API. They agree: the margin is against the threshold
//! the breach crossed, a live row counts up and stops at completion, an execution running past
//! its target is a miss at once, and an empty window says so instead of "100 % of 0".
use crate::browser::{self, Browser};
use crate::smtp::SmtpServer;
use crate::support::*;
use serde_json::{Value, json};
use workflow_intel::config::Config;
use workflow_intel::model::Role;

const BREACH: &str = "{ slaBreaches(first: 10) { nodes { id severity thresholdSeconds actualDurationSeconds breachMarginSeconds breachMarginPercentage targetMarginSeconds targetMarginPercentage execution { id status } } } }";
const METRICS: &str = "{ slas(first: 10) { nodes { id metrics { total met breachedWarning errorBudgetTotal errorBudgetRemaining errorBudgetExhausted errorBudgetOverspent } } } }";
const OVER: &str = "document.querySelector('#breach-rows td.over')";

async fn breach(app: &TestApp, token: &str) -> Value {
    app.data(token, BREACH, json!({})).await["slaBreaches"]["nodes"][0].clone()
}

async fn metrics(app: &TestApp, token: &str) -> Value {
    app.data(token, METRICS, json!({})).await["slas"]["nodes"][0]["metrics"].clone()
}

/// The line of `text` that starts with `label`.
fn line<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} in {text}"))
}

#[tokio::test]
async fn one_breach_reads_the_same_in_the_email_on_the_board_and_in_the_api() {
    let Some(chromium) = browser::available("breach figures browser test") else {
        return;
    };
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(Config {
        smtp_url: Some(smtp.url()),
        ..Config::default()
    })
    .await;
    let token = app.token("Acme", "ops@acme.io", Role::Admin).await;
    let wf = create_workflow(
        &app,
        &token,
        "Refunds",
        json!([{"name": "Refund", "action": "x"}]),
    )
    .await;
    // The demo's shape: warn at 1 s, target 4 s, critical far off.
    let input = json!({"workflowId": wf["id"], "name": "Refund turnaround", "targetDurationSeconds": 4,
        "warningThresholdSeconds": 1, "criticalThresholdSeconds": 3600, "sloWindowHours": 24});
    app.data(&token, crate::sla::CREATE_SLA, json!({"input": input}))
        .await;
    let mut b = Browser::launch(&chromium);
    b.open("a", &format!("{}/board#token={token}", app.url("")))
        .await;
    b.wait(
        "a",
        "document.querySelector('#connection')?.dataset.state === 'live'",
    )
    .await;
    // Nothing has completed: the tile says so rather than "100 % of 0".
    let tile = b
        .wait(
            "a",
            "document.querySelector('#tiles [data-sla]')?.textContent",
        )
        .await;
    assert!(
        tile.as_str().unwrap().contains("nothing to measure yet"),
        "{tile}"
    );

    let q = "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id } } }";
    let exec =
        app.data(&token, q, json!({"w": wf["id"]})).await["startExecution"]["execution"]["id"]
            .clone();
    b.wait("a", OVER).await;
    let live = breach(&app, &token).await;
    assert_eq!(live["severity"], "WARNING");
    assert_eq!(live["execution"]["status"], "RUNNING");
    let margin = live["breachMarginSeconds"].as_f64().unwrap();
    assert!(
        (0.0..1.5).contains(&margin),
        "1 s threshold crossed by {margin} s: {live}"
    );
    assert_eq!(
        live["actualDurationSeconds"].as_f64().unwrap() - 1.0,
        margin
    );
    let under_target = live["targetMarginSeconds"].as_f64().unwrap();
    assert!((-4.0..-2.5).contains(&under_target), "{live}");

    crate::sla::eventually("the alert email", || async { !smtp.mails().is_empty() }).await;
    the_email_says_the_same(&smtp, &live);
    // The board: the API's figures, counting up while the execution runs.
    let cell = b
        .eval(
            "a",
            &format!("[{OVER}.dataset.margin, {OVER}.dataset.threshold, {OVER}.textContent]"),
        )
        .await;
    assert_eq!(cell[0].as_str().unwrap().parse::<f64>().unwrap(), margin);
    assert_eq!(cell[1], "1");
    assert!(
        cell[2].as_str().unwrap().ends_with("and counting"),
        "{cell}"
    );
    b.wait("a", &format!("parseInt({OVER}.textContent) >= 2"))
        .await;

    a_miss_at_once_on_the_api_and_the_tile(&mut b, &app, &token).await;
    finalized_stops_the_row(&mut b, &app, &token, &exec).await;
}

/// The email: the same margins, each named, and no "100.00 % of 0".
fn the_email_says_the_same(smtp: &SmtpServer, live: &Value) {
    let margin = live["breachMarginSeconds"].as_f64().unwrap();
    let under_target = live["targetMarginSeconds"].as_f64().unwrap();
    let mail = smtp.mails()[0].text();
    let over = line(&mail, "Over threshold:");
    assert_eq!(
        over,
        format!(
            "Over threshold: {margin:+.1} s ({:+.1} % of the warning threshold)",
            live["breachMarginPercentage"].as_f64().unwrap()
        )
    );
    let against = line(&mail, "Against target:");
    assert_eq!(
        against,
        format!(
            "Against target: {under_target:+.1} s ({:+.1} % of the target)",
            live["targetMarginPercentage"].as_f64().unwrap()
        )
    );
    assert!(mail.contains("still running"), "{mail}");
    assert!(mail.contains("nothing to measure yet"), "{mail}");
    assert!(!mail.contains("% of 0 executions"), "{mail}");
}

/// Past its 4 s target and still running: a miss now, on the API and on the tile.
async fn a_miss_at_once_on_the_api_and_the_tile(b: &mut Browser, app: &TestApp, token: &str) {
    crate::sla::eventually("the running execution counted as missed", || async {
        metrics(app, token).await["total"] == 1
    })
    .await;
    let m = metrics(app, token).await;
    assert_eq!(
        (m["met"].as_i64(), m["breachedWarning"].as_i64()),
        (Some(0), Some(1)),
        "{m}"
    );
    assert_eq!(m["errorBudgetExhausted"], true, "{m}");
    assert_eq!(m["errorBudgetRemaining"], 0.0, "{m}");
    let overspent = m["errorBudgetOverspent"].as_f64().unwrap();
    assert!(
        (overspent - 0.99).abs() < 1e-9,
        "1 missed of an allowance of 0.01: {m}"
    );
    // A board opened now shows the same (the tiles also refresh on every event and every 30 s).
    b.open("a", &format!("{}/board#token={token}", app.url("")))
        .await;
    b.wait(
        "a",
        "document.querySelector('#connection')?.dataset.state === 'live'",
    )
    .await;
    let budget = b
        .wait(
            "a",
            "document.querySelector('#tiles [data-field=\"budget-overspent\"]')?.parentElement.textContent",
        )
        .await;
    assert_eq!(
        budget,
        "Error budget exhausted: 0.99 executions over an allowance of 0.01"
    );
    let tile = b
        .eval(
            "a",
            "document.querySelector('#tiles [data-sla]').textContent",
        )
        .await;
    assert!(
        tile.as_str()
            .unwrap()
            .contains("0 of 1 executions within target"),
        "{tile}"
    );
}

/// Completed: FINALIZED stops the row at the API's final figures.
async fn finalized_stops_the_row(b: &mut Browser, app: &TestApp, token: &str, exec: &Value) {
    let q = "mutation($e: ID!) { completeExecution(input: {executionId: $e, status: COMPLETED}) { execution { durationMs } } }";
    app.data(token, q, json!({"e": exec})).await;
    let fin = breach(app, token).await;
    assert_eq!(fin["execution"]["status"], "COMPLETED");
    let final_margin = fin["breachMarginSeconds"].as_f64().unwrap();
    assert_eq!(
        fin["actualDurationSeconds"].as_f64().unwrap() - 1.0,
        final_margin
    );
    b.wait("a", &format!("!{OVER}.dataset.live")).await;
    let text = b.eval("a", &format!("{OVER}.textContent")).await;
    let pct = fin["breachMarginPercentage"].as_f64().unwrap();
    assert_eq!(
        text,
        format!("{}s ({pct:.1} %)", final_margin.round()),
        "{fin}"
    );
}

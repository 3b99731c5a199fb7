//! SLAs on business hours: a Berlin office calendar (Monday to Friday 09:00 to 17:00, one
//! holiday) through the API, a live deadline that waits over the weekend, the final breach in
//! business time with the elapsed time beside it, SLO counts by business time (recounted when
//! the calendar goes and comes back), and the calendar's own checks.
use crate::sla::{COMPLETE, START, eventually, setup};
use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use workflow_intel::config::Config;

const CREATE: &str = "mutation($i: CreateCalendarInput!) { createCalendar(input: $i) { calendar { id name timeZone weeklyHours { day start end } holidays } } }";
const BREACHES: &str = "query($s: ID!) { slaBreaches(first: 10, filter: {slaId: $s}) { nodes { severity actualDurationSeconds elapsedSeconds businessTime breachMarginSeconds detectedAt } } }";
const METRICS: &str = "query($s: ID!) { sla(id: $s) { calendar { name } metrics(windowHours: 720) { total met breachedWarning breachedCritical } } }";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn office() -> Value {
    let days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"];
    let hours: Vec<Value> = days
        .iter()
        .map(|d| json!({"day": d, "start": "09:00", "end": "17:00"}))
        .collect();
    json!({"name": "Berlin office", "timeZone": "Europe/Berlin", "weeklyHours": hours, "holidays": ["2026-12-24"]})
}

#[tokio::test]
async fn an_sla_on_business_hours_waits_over_the_weekend_and_counts_business_time() {
    // The manual clock starts on Friday 27 November 2026, 09:00 UTC (10:00 in Berlin).
    let s = setup(Config::default(), json!([])).await;
    let cal =
        s.app.data(&s.token, CREATE, json!({"i": office()})).await["createCalendar"]["calendar"]
            .clone();
    assert_eq!(
        cal["weeklyHours"][0],
        json!({"day": "MONDAY", "start": "09:00", "end": "17:00"})
    );
    let input = json!({"workflowId": s.workflow, "name": "Office hours", "targetDurationSeconds": 7200,
        "warningThresholdSeconds": 3600, "criticalThresholdSeconds": 7200, "sloWindowHours": 720, "calendarId": cal["id"]});
    let sla = s
        .app
        .data(&s.token, crate::sla::CREATE_SLA, json!({"input": input}))
        .await["createSla"]["sla"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = "{ calendars { nodes { id businessSeconds(from: \"2026-11-27T15:30:00Z\", to: \"2026-11-30T08:30:00Z\") } } }";
    let secs = s.app.data(&s.token, q, json!({})).await["calendars"]["nodes"][0]["businessSeconds"]
        .clone();
    assert_eq!(secs, 3600.0, "30 minutes on Friday and 30 on Monday");

    // Friday 16:30 in Berlin: an hour of business time runs out on Monday at 09:30.
    s.clock.advance(Duration::minutes(6 * 60 + 30));
    let v = json!({"input": {"workflowId": s.workflow, "externalId": "office-1"}});
    let exec = s.app.data(&s.token, START, v).await["startExecution"]["execution"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let breaches = || async {
        s.app.data(&s.token, BREACHES, json!({"s": sla})).await["slaBreaches"]["nodes"].clone()
    };
    // Saturday: a day of wall-clock time, no business time.
    s.clock.advance(Duration::hours(20));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(breaches().await, json!([]), "no breach over the weekend");
    // Monday 09:31 in Berlin (08:31 UTC): the warning, at 1 h 1 min of business time.
    let now = at("2026-11-30T08:31:00Z");
    s.clock
        .advance(now - workflow_intel::clock::Clock::now(s.clock.as_ref()));
    eventually("the warning on Monday", || async {
        breaches().await.as_array().unwrap().len() == 1
    })
    .await;
    let w = breaches().await[0].clone();
    assert_eq!(
        (w["severity"].as_str(), w["businessTime"].as_bool()),
        (Some("WARNING"), Some(true))
    );
    assert_eq!(w["actualDurationSeconds"], 3660.0, "{w}");
    assert_eq!(w["breachMarginSeconds"], 60.0, "{w}");
    assert_eq!(w["detectedAt"].as_str().map(at), Some(now), "{w}");
    assert!(
        w["elapsedSeconds"].as_f64().unwrap() > 2.5 * 86_400.0,
        "{w}"
    );

    // Completed on Monday at 11:00 in Berlin: 2.5 hours of business time, critical.
    s.clock.advance(Duration::minutes(89));
    let done = json!({"input": {"executionId": exec, "status": "COMPLETED"}});
    s.app.data(&s.token, COMPLETE, done).await;
    eventually("the critical breach", || async {
        breaches().await.as_array().unwrap().len() == 2
    })
    .await;
    for b in breaches().await.as_array().unwrap() {
        assert_eq!(b["actualDurationSeconds"], 9000.0, "{b}");
    }
    let m = s.app.data(&s.token, METRICS, json!({"s": sla})).await["sla"].clone();
    assert_eq!(m["calendar"]["name"], "Berlin office");
    assert_eq!(
        m["metrics"],
        json!({"total": 1, "met": 0, "breachedWarning": 0, "breachedCritical": 1})
    );

    recounted_on_and_off_the_calendar(&s, &sla, &cal).await;
    calendar_checks(&s, &cal).await;
    // Last: with the board open, this test twice saw a `slaBreaches` read fail with "database
    // error" in a full run (cause not found; see the stop's note).
    board_shows_business_and_elapsed_time(&s).await;
}

/// Off the calendar the same run is 2.8 days long; back on it, 2.5 hours: the SLO counts are
/// recounted each time.
async fn recounted_on_and_off_the_calendar(s: &crate::sla::Setup, sla: &str, cal: &Value) {
    // Off the calendar the same run is 2.8 days long; back on it, 2.5 hours: the SLO counts
    // are recounted each time (still one critical miss, the same figures).
    let upd = "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }";
    s.app.data(&s.token, upd, json!({"i": {"id": sla, "calendarId": null, "targetDurationSeconds": 86_400 * 3, "criticalThresholdSeconds": 86_400 * 3, "warningThresholdSeconds": 86_400 * 2}})).await;
    let m = s.app.data(&s.token, METRICS, json!({"s": sla})).await["sla"].clone();
    assert_eq!(
        (
            m["calendar"].clone(),
            m["metrics"]["met"].clone(),
            m["metrics"]["breachedWarning"].clone()
        ),
        (Value::Null, json!(1), json!(1)),
        "{m}"
    );
    s.app.data(&s.token, upd, json!({"i": {"id": sla, "calendarId": cal["id"], "targetDurationSeconds": 7200, "criticalThresholdSeconds": 7200, "warningThresholdSeconds": 3600}})).await;
    let m = s.app.data(&s.token, METRICS, json!({"s": sla})).await["sla"]["metrics"].clone();
    assert_eq!(
        m,
        json!({"total": 1, "met": 0, "breachedWarning": 0, "breachedCritical": 1})
    );
}

/// A used calendar is not deleted; a bad zone or hour is refused.
async fn calendar_checks(s: &crate::sla::Setup, cal: &Value) {
    // The calendar's checks: a used calendar is not deleted; a bad zone or hour is refused.
    let del = "mutation($i: DeleteCalendarInput!) { deleteCalendar(input: $i) { deletedId } }";
    let v = s
        .app
        .gql(Some(&s.token), del, json!({"i": {"id": cal["id"]}}))
        .await;
    assert_eq!(code(&v), "CONFLICT");
    assert!(message(&v).contains("Office hours"), "{v}");
    let mut bad = office();
    bad["timeZone"] = json!("Europe/Atlantis");
    let v = s.app.gql(Some(&s.token), CREATE, json!({"i": bad})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("IANA"), "{v}");
    let mut bad = office();
    bad["weeklyHours"][0]["end"] = json!("08:00");
    let v = s.app.gql(Some(&s.token), CREATE, json!({"i": bad})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
}

/// The board's row says the margin is business time and gives the elapsed time beside it.
async fn board_shows_business_and_elapsed_time(s: &crate::sla::Setup) {
    let Some(chromium) = crate::browser::available("calendar board check") else {
        return;
    };
    let mut b = crate::browser::Browser::launch(&chromium);
    b.open("a", &format!("{}/board#token={}", s.app.url(""), s.token))
        .await;
    let over = "[...document.querySelectorAll('#breach-rows td.over')].map(td => td.textContent).find(t => t.includes('business hours'))";
    let text = b.wait("a", over).await;
    let text = text.as_str().unwrap();
    // The newest row, the critical one, final now: 2.5 h of business time against its 2 h
    // threshold, 2 days 18 hours after the start by the wall clock.
    assert!(text.starts_with("30m 0s (25.0 %)"), "{text}");
    assert!(
        text.contains("2d 18h elapsed") && !text.contains("counting"),
        "{text}"
    );
}

//! Alert channels and escalation against a real HTTP receiver on loopback: each channel kind
//! gets one alert in its own format through a 5xx, a timeout and a stall, the webhook's
//! signature verifies, secrets never come back, acknowledgement resolves what was triggered
//! and stops the escalation levels still due, and each level goes out once.
use crate::sla::{CREATE_SLA, START, eventually, t0};
use crate::smtp::SmtpServer;
use crate::support::*;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use workflow_intel::clock::ManualClock;
use workflow_intel::config::Config;
use workflow_intel::model::Role;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Answers 200, but only after this long (past the sender's timeout).
    Slow(u64),
    /// Never answers.
    Stall,
}

#[derive(Default)]
struct Inbox {
    /// Per path, the answers to give next (then 200).
    script: HashMap<String, VecDeque<Answer>>,
    /// Per path, how many requests arrived.
    attempts: HashMap<String, usize>,
    /// Requests answered 200: (path, headers, body).
    accepted: Vec<(String, HeaderMap, Value)>,
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Inbox>>);

impl Receiver {
    async fn start(self) -> String {
        let app = axum::Router::new()
            .route("/{path}", axum::routing::post(receive))
            .with_state(self);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn script(&self, path: &str, answers: &[Answer]) {
        self.0
            .lock()
            .unwrap()
            .script
            .insert(path.into(), answers.iter().copied().collect());
    }

    fn accepted(&self, path: &str) -> Vec<(HeaderMap, Value)> {
        let inbox = self.0.lock().unwrap();
        inbox
            .accepted
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }

    fn attempts(&self, path: &str) -> usize {
        *self.0.lock().unwrap().attempts.get(path).unwrap_or(&0)
    }
}

async fn receive(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let answer = {
        let mut inbox = r.0.lock().unwrap();
        *inbox.attempts.entry(path.clone()).or_default() += 1;
        inbox.script.get_mut(&path).and_then(|q| q.pop_front())
    };
    match answer {
        Some(Answer::Status(s)) => return StatusCode::from_u16(s).unwrap(),
        Some(Answer::Slow(secs)) => tokio::time::sleep(std::time::Duration::from_secs(secs)).await,
        Some(Answer::Stall) => std::future::pending::<()>().await,
        None => {}
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.0.lock().unwrap().accepted.push((path, headers, v));
    StatusCode::OK
}

const SECRET: &str = "whsec_0123456789abcdef";
const ROUTING_KEY: &str = "R0UTINGKEY0123456789abcdefABCDEF";
const CREATE: &str = "mutation($i: CreateAlertChannelInput!) { createAlertChannel(input: $i) { alertChannel { id name kind url hasSecret } } }";
const DELIVERIES: &str = "{ slaBreaches(first: 10) { nodes { id severity deliveries { target level action status attempts lastError } } } }";

struct World {
    _file: Option<DbFile>,
    app: TestApp,
    conn: sea_orm::DatabaseConnection,
    config: Config,
    clock: Arc<ManualClock>,
    token: String,
    receiver: Receiver,
    base: String,
    workflow: String,
}

async fn world(config: Config) -> World {
    let clock = Arc::new(ManualClock::new(t0()));
    // The restart test kills a server mid-work and starts another on the same database.
    let (conn, file) = restartable_db().await;
    workflow_intel::db::migrate(&conn).await.unwrap();
    let config = Config {
        alert_http_timeout_seconds: 1,
        ..config
    };
    let timing = workflow_intel::Timing {
        lease: Duration::seconds(config.outbox_lease_seconds),
        ..TEST_TIMING
    };
    let app = TestApp::spawn_timed(
        config.clone(),
        conn.clone().into(),
        Some(clock.clone()),
        timing,
    )
    .await;
    let token = app.token("Acme", "ops@acme.io", Role::Admin).await;
    let wf = create_workflow(
        &app,
        &token,
        "Refunds",
        json!([{"name": "Refund", "action": "x"}]),
    )
    .await;
    let receiver = Receiver::default();
    let base = receiver.clone().start().await;
    World {
        _file: file,
        app,
        conn,
        config,
        clock,
        token,
        receiver,
        base,
        workflow: wf["id"].as_str().unwrap().to_string(),
    }
}

impl World {
    async fn channel(&self, kind: &str, path: &str, secret: &str) -> String {
        let i = json!({"name": format!("{kind} on call"), "kind": kind, "url": format!("{}/{path}", self.base), "secret": secret});
        let c = self.app.data(&self.token, CREATE, json!({"i": i})).await["createAlertChannel"]["alertChannel"].clone();
        assert_eq!(
            c["url"],
            format!("{}/…", self.base),
            "only scheme and host are shown"
        );
        assert_eq!(c["hasSecret"], !secret.is_empty());
        c["id"].as_str().unwrap().to_string()
    }

    async fn sla(&self, extra: Value) -> String {
        let mut input = json!({"workflowId": self.workflow, "name": "Refund turnaround", "targetDurationSeconds": 300,
            "warningThresholdSeconds": 240, "criticalThresholdSeconds": 3600});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.app
            .data(&self.token, CREATE_SLA, json!({"input": input}))
            .await["createSla"]["sla"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Starts an execution and lets it pass the warning threshold.
    async fn breach(&self) -> String {
        let q = json!({"input": {"workflowId": self.workflow, "externalId": "refund-77"}});
        self.app.data(&self.token, START, q).await;
        self.clock.advance(Duration::seconds(241));
        eventually("the warning breach", || async {
            let d = self.app.data(&self.token, DELIVERIES, json!({})).await;
            d["slaBreaches"]["nodes"][0]["id"].is_string()
        })
        .await;
        let d = self.app.data(&self.token, DELIVERIES, json!({})).await;
        d["slaBreaches"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn deliveries(&self) -> Vec<Value> {
        let d = self.app.data(&self.token, DELIVERIES, json!({})).await;
        d["slaBreaches"]["nodes"][0]["deliveries"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Advances the clock past the backoff, a few seconds of real time at a time, until `done`.
    async fn until<F: Fn() -> bool>(&self, what: &str, done: F) {
        for _ in 0..60 {
            if done() {
                return;
            }
            self.clock.advance(Duration::seconds(20));
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        panic!("timed out waiting for {what}");
    }
}

fn verify(headers: &HeaderMap, body: &Value) {
    let sig = headers["x-workflow-intel-signature"].to_str().unwrap();
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    // The body as sent: re-serialising the parsed JSON gives the same bytes (serde_json,
    // no whitespace, keys in the order received).
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", serde_json::to_string(body).unwrap()).as_bytes());
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1, "signature");
}

#[tokio::test]
async fn each_channel_gets_one_alert_in_its_format_through_a_5xx_a_timeout_and_a_stall() {
    // `until` moves the clock 20 s per 300 ms of real time: a 60 s lease would run out while
    // a 1 s timeout runs (sooner under load), handing the row to a second claim, a second send.
    let w = world(Config {
        outbox_lease_seconds: 900,
        ..Config::default()
    })
    .await;
    let ids = [
        w.channel("WEBHOOK", "hook", SECRET).await,
        w.channel("SLACK", "slack", "").await,
        w.channel("PAGER_DUTY", "pd", ROUTING_KEY).await,
        w.channel("ALERTMANAGER", "am", "").await,
    ];
    let paths = ["hook", "slack", "pd", "am"];
    for p in paths {
        w.receiver
            .script(p, &[Answer::Status(503), Answer::Slow(3), Answer::Stall]);
    }
    w.sla(json!({"alertChannelIds": ids})).await;
    let breach = w.breach().await;
    w.until("every channel's alert", || {
        paths.iter().all(|p| w.receiver.accepted(p).len() == 1)
    })
    .await;
    // Once each, after three failed tries each; nothing more comes later.
    w.clock.advance(Duration::seconds(600));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    for p in paths {
        assert_eq!(
            (w.receiver.accepted(p).len(), w.receiver.attempts(p)),
            (1, 4),
            "{p}"
        );
    }
    let d = w.deliveries().await;
    let channel_rows: Vec<&Value> = d.iter().filter(|r| r["target"] != "email").collect();
    assert_eq!(channel_rows.len(), 4, "{d:?}");
    for r in channel_rows {
        assert_eq!(
            (r["status"].as_str(), r["attempts"].as_i64()),
            (Some("sent"), Some(4)),
            "{r}"
        );
    }

    let pd = formats(&w, &breach);
    // Acknowledged: each channel that was alerted is told it is resolved.
    let q = "mutation($id: ID!) { acknowledgeBreach(input: {id: $id, notes: \"on it\"}) { breach { id } } }";
    w.app.data(&w.token, q, json!({"id": breach})).await;
    w.until("the resolves", || {
        paths.iter().all(|p| w.receiver.accepted(p).len() == 2)
    })
    .await;
    let (h, hook) = &w.receiver.accepted("hook")[1];
    verify(h, hook);
    assert_eq!(hook["event"], "sla.breach.acknowledged");
    let pd2 = &w.receiver.accepted("pd")[1].1;
    assert_eq!(
        (&pd2["event_action"], &pd2["dedup_key"]),
        (&json!("resolve"), &pd["dedup_key"])
    );
    assert!(w.receiver.accepted("am")[1].1[0]["endsAt"].is_string());

    secrets_stay_hidden(&w).await;
}

/// Each channel's first request, in its own format; the PagerDuty event, for its resolve.
fn formats(w: &World, breach: &str) -> Value {
    let (h, hook) = &w.receiver.accepted("hook")[0];
    verify(h, hook);
    assert_eq!(hook["event"], "sla.breach.detected");
    assert_eq!(hook["breach"]["breachId"], breach);
    assert_eq!(hook["breach"]["externalId"], "refund-77");
    assert_eq!(hook["breach"]["breachMarginSeconds"], 1.0);
    let slack = &w.receiver.accepted("slack")[0].1;
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("Refund turnaround"),
        "{slack}"
    );
    assert_eq!(slack["blocks"][0]["type"], "section");
    let pd = &w.receiver.accepted("pd")[0].1;
    assert_eq!(
        (
            &pd["routing_key"],
            &pd["event_action"],
            &pd["payload"]["severity"]
        ),
        (&json!(ROUTING_KEY), &json!("trigger"), &json!("warning"))
    );
    let am = &w.receiver.accepted("am")[0].1;
    assert_eq!(am[0]["labels"]["alertname"], "WorkflowSlaBreach");
    assert!(am[0].get("endsAt").is_none());

    pd.clone()
}

/// The secret and the URL's path never come back, in the channel or in an error.
async fn secrets_stay_hidden(w: &World) {
    let all = w
        .app
        .data(
            &w.token,
            "{ alertChannels { nodes { url hasSecret } } }",
            json!({}),
        )
        .await;
    let seen = format!("{all}{:?}", w.deliveries().await);
    for hidden in [SECRET, ROUTING_KEY, "/hook", "/pd"] {
        assert!(!seen.contains(hidden), "{hidden} in {seen}");
    }
    let fields = w
        .app
        .data(
            &w.token,
            "{ __type(name: \"AlertChannel\") { fields { name } } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = fields["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(
        names.contains(&"hasSecret") && !names.contains(&"secret"),
        "{names:?}"
    );
}

#[tokio::test]
async fn escalation_goes_out_once_per_level_and_stops_at_acknowledgement() {
    let smtp = SmtpServer::start();
    let w = world(Config {
        smtp_url: Some(smtp.url()),
        ..Config::default()
    })
    .await;
    let hook = w.channel("WEBHOOK", "hook", SECRET).await;
    let escalation = json!([
        {"afterMinutes": 5, "channelIds": [hook]},
        {"afterMinutes": 15, "recipients": ["Boss@acme.io"]},
    ]);
    let sla = w.sla(json!({"escalation": escalation})).await;
    let q = "query($id: ID!) { sla(id: $id) { escalation { afterMinutes recipients channels { name } } } }";
    let levels = w.app.data(&w.token, q, json!({"id": sla})).await["sla"]["escalation"].clone();
    assert_eq!(
        levels,
        json!([{"afterMinutes": 5, "recipients": [], "channels": [{"name": "WEBHOOK on call"}]},
               {"afterMinutes": 15, "recipients": ["boss@acme.io"], "channels": []}])
    );
    let breach = w.breach().await;
    eventually("the breach's own email", || async {
        smtp.mails().len() == 1
    })
    .await;
    // The server saw the mail before the outbox recorded it sent: moving the clock past the
    // claim's lease before then would hand the row to another claim, a second send.
    eventually("the email recorded sent", || async {
        w.deliveries()
            .await
            .iter()
            .any(|r| r["level"] == 0 && r["status"] == "sent")
    })
    .await;
    assert!(
        w.receiver.accepted("hook").is_empty(),
        "level 1 is not due yet"
    );

    // Five minutes unacknowledged: level 1, once.
    w.clock.advance(Duration::minutes(5));
    eventually("escalation level 1", || async {
        w.receiver.accepted("hook").len() == 1
    })
    .await;
    let (h, body) = &w.receiver.accepted("hook")[0];
    verify(h, body);
    assert_eq!(
        (&body["event"], &body["breach"]["escalationLevel"]),
        (&json!("sla.breach.escalated"), &json!(1))
    );

    // Acknowledged before level 2: no email to the boss, ever; the hook hears it resolved.
    let q = "mutation($id: ID!) { acknowledgeBreach(input: {id: $id}) { breach { id } } }";
    w.app.data(&w.token, q, json!({"id": breach})).await;
    eventually("the resolve", || async {
        w.receiver.accepted("hook").len() == 2
    })
    .await;
    // (In steps shorter than the outbox lease, as real time passes.)
    for _ in 0..40 {
        w.clock.advance(Duration::seconds(30));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(smtp.mails().len(), 1, "level 2 was cancelled");
    assert_eq!(w.receiver.accepted("hook").len(), 2);
    let d = w.deliveries().await;
    let level2 = d.iter().find(|r| r["level"] == 2).unwrap();
    assert_eq!(level2["status"], "cancelled", "{d:?}");

    // Bad levels are refused with the reason.
    let v = w
        .app
        .gql(
            Some(&w.token),
            "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }",
            json!({"i": {"id": sla, "escalation": [{"afterMinutes": 10, "recipients": ["a@b.io"]}, {"afterMinutes": 10, "recipients": ["c@d.io"]}]}}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("later than"), "{v}");
}

#[tokio::test]
async fn an_escalation_level_survives_a_restart_and_a_crash_after_its_claim_and_goes_out_once() {
    let w = world(Config::default()).await;
    let hook = w.channel("WEBHOOK", "hook", SECRET).await;
    w.sla(json!({"escalation": [{"afterMinutes": 5, "channelIds": [hook]}]}))
        .await;
    w.breach().await;
    let World {
        _file,
        app,
        mut conn,
        config,
        clock,
        token,
        receiver,
        base,
        workflow,
    } = w;
    // The process dies before the level is due; its row is in the store.
    let state = app.app.state.clone();
    app.kill();
    clock.advance(Duration::minutes(5));
    // Another process claims it, then dies before sending.
    let claimed = workflow_intel::sla::outbox::claim(&state, Duration::seconds(60), 10, false)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|r| r.level).collect::<Vec<_>>(), vec![1]);
    drop(state);
    let app = TestApp::spawn_on(config.clone(), &mut conn, Some(clock.clone())).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(
        receiver.accepted("hook").is_empty(),
        "held by the dead claim's lease"
    );
    clock.advance(Duration::seconds(61));
    eventually("level 1 after the lease expired", || async {
        receiver.accepted("hook").len() == 1
    })
    .await;
    for _ in 0..20 {
        clock.advance(Duration::seconds(30));
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert_eq!(receiver.accepted("hook").len(), 1, "once");
    let w = World {
        _file,
        app,
        conn,
        config,
        clock,
        token,
        receiver,
        base,
        workflow,
    };
    let d = w.deliveries().await;
    let l1 = d.iter().find(|r| r["level"] == 1).unwrap();
    assert_eq!(
        (l1["status"].as_str(), l1["attempts"].as_i64()),
        (Some("sent"), Some(2)),
        "{d:?}"
    );
}

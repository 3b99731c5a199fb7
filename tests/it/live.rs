//! The live breach stream as dashboards drive it: the graphql-transport-ws protocol with raw
//! clients (every close code), cohorts that share one execution per event, resuming with
//! `afterSequence`, and tokens that are cached, listed and revoked.
use crate::sla::{Setup, eventually, setup, t0, with_app};
use crate::support::*;
use chrono::Duration;
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio_tungstenite::tungstenite::Message;
use workflow_intel::clock::ManualClock;
use workflow_intel::config::Config;
use workflow_intel::model::Role;

const EVENTS: &str = "subscription($after: Int) { slaBreachEvents(filter: {severity: CRITICAL}, afterSequence: $after) {
  kind sequence breach { id severity actualDurationSeconds sla { name } execution { externalId workflow { name owner { email } } } } } }";

#[tokio::test]
async fn every_close_code_of_graphql_transport_ws() {
    let config = Config {
        ws_init_timeout_seconds: 1,
        ..Config::default()
    };
    let app = TestApp::spawn_with(config).await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;

    // 4408: no connection_init within the init timeout.
    let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
    assert_eq!(ws.close_code().await, Some(4408));

    // 4401: subscribe before the ack.
    let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
    ws.subscribe("1", "subscription { slaBreachEvents { kind } }", json!({}))
        .await;
    assert_eq!(ws.close_code().await, Some(4401));

    // 4403: credentials rejected (a wrong token, and none).
    let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"token": "wi_nope"}}))
        .await;
    assert_eq!(ws.close_code().await, Some(4403));
    let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.close_code().await, Some(4403));

    // 4429: a second connection_init.
    let mut ws = Ws::ready(&app, &t).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": t}}))
        .await;
    assert_eq!(ws.close_code().await, Some(4429));

    // 4409: a subscription id already in use.
    let mut ws = Ws::ready(&app, &t).await;
    ws.subscribe("a", "subscription { slaBreachEvents { kind } }", json!({}))
        .await;
    ws.subscribe("a", "subscription { slaBreachEvents { kind } }", json!({}))
        .await;
    assert_eq!(ws.close_code().await, Some(4409));

    // 4400: invalid messages of several kinds.
    for bad in [
        "not json".to_string(),
        json!({"type": "nonsense"}).to_string(),
        json!({"type": "subscribe", "payload": {"query": "{ viewer { email } }"}}).to_string(),
        json!({"type": "subscribe", "id": "x", "payload": {}}).to_string(),
    ] {
        let mut ws = Ws::ready(&app, &t).await;
        ws.0.send(Message::Text(bad.clone().into())).await.unwrap();
        assert_eq!(ws.close_code().await, Some(4400), "{bad}");
    }

    // Ping is answered with pong, carrying the payload back.
    let mut ws = Ws::ready(&app, &t).await;
    ws.send(json!({"type": "ping", "payload": {"n": 1}})).await;
    assert_eq!(
        ws.next().await.unwrap(),
        json!({"type": "pong", "payload": {"n": 1}})
    );
    // A validation error is an `error` message for that id; the socket stays open.
    let query = "subscription { slaBreachEvents { nonsense } }";
    let err = refused(&mut ws, "v", query, json!({})).await;
    assert_eq!(err["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // The checks every operation passes through run for subscriptions too, before the schema:
    // NUL in a variable, and a document over a limit.
    let query = "subscription($w: ID) { slaBreachEvents(filter: {workflowId: $w}) { sequence } }";
    let err = refused(&mut ws, "n", query, json!({"w": "a\u{0}b"})).await;
    assert_eq!(err["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        err["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("NUL"),
        "{err}"
    );
    let aliases: String = (0..=app.app.state.config.graphql_max_aliases)
        .map(|i| format!(" a{i}: sequence"))
        .collect();
    let query = format!("subscription {{ slaBreachEvents {{{aliases} }} }}");
    let err = refused(&mut ws, "l", &query, json!({})).await;
    assert_eq!(
        err["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{err}"
    );
    assert_eq!(
        err["payload"][0]["extensions"]["limit"], "alias count",
        "{err}"
    );
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await.unwrap()["type"], "pong");
}

/// Subscribes as `id` and reads the answer, which must be an `error` message for `id` (the
/// socket stays open); returns it.
async fn refused(ws: &mut Ws, id: &str, query: &str, variables: Value) -> Value {
    ws.subscribe(id, query, variables).await;
    let err = ws.next().await.unwrap();
    assert_eq!(
        (&err["type"], &err["id"]),
        (&json!("error"), &json!(id)),
        "{err}"
    );
    err
}

#[tokio::test]
async fn keepalive_pings_and_the_legacy_protocol() {
    let config = Config {
        ws_keepalive_seconds: 1,
        ..Config::default()
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let mut conn = fresh_db().await;
    workflow_intel::db::migrate(&conn).await.unwrap();
    let app = TestApp::spawn_on(config, &mut conn, Some(clock.clone())).await;
    let s = with_app(app, clock, json!([])).await;

    // graphql-transport-ws: the server pings on its own.
    let mut ws = Ws::ready(&s.app, &s.token).await;
    assert_eq!(ws.next().await.unwrap(), json!({"type": "ping"}));

    // Legacy graphql-ws: ack and ka, `start` streams `data`, `stop` ends with `complete`.
    let mut legacy = Ws::connect(&s.app, "graphql-ws").await;
    legacy
        .send(json!({"type": "connection_init", "payload": {"token": s.token}}))
        .await;
    assert_eq!(legacy.next().await.unwrap()["type"], "connection_ack");
    assert_eq!(legacy.next().await.unwrap()["type"], "ka");
    legacy
        .send(json!({"type": "start", "id": "L", "payload": {"query": "subscription { slaBreachEvents { kind breach { severity } } }"}}))
        .await;
    eventually("the legacy subscriber joined", || async {
        s.app.app.live.sizes().1 == 1
    })
    .await;
    let exec = crate::sla::start(&s).await;
    s.clock.advance(Duration::seconds(241));
    let data = loop {
        let m = legacy.next().await.expect("a data message");
        if m["type"] == "data" {
            break m;
        }
    };
    assert_eq!(data["id"], "L");
    assert_eq!(
        data["payload"]["data"]["slaBreachEvents"]["breach"]["severity"],
        "WARNING"
    );
    legacy.send(json!({"type": "stop", "id": "L"})).await;
    let complete = loop {
        let m = legacy.next().await.expect("complete");
        if m["type"] == "complete" {
            break m;
        }
    };
    assert_eq!(complete["id"], "L");
    eventually("the legacy subscriber left", || async {
        s.app.app.live.sizes() == (0, 0)
    })
    .await;
    assert!(!exec.is_empty());
}

/// One execution of `execs` overrunning executions (400 s against the 300 s SLA).
fn overrunning(s: &Setup, tag: &str, n: usize) -> Value {
    let execs: Vec<Value> = (0..n)
        .map(|i| {
            let end = t0() - Duration::minutes(i as i64);
            json!({"workflowId": s.workflow, "externalId": format!("{tag}-{i}"), "status": "COMPLETED",
                   "startedAt": (end - Duration::seconds(400)).to_rfc3339(), "completedAt": end.to_rfc3339()})
        })
        .collect();
    json!({"input": {"executions": execs}})
}

const IMPORT: &str = r#"mutation($input: ImportExecutionsInput!) { importExecutions(input: $input) { imported breaches } }"#;

/// Reads `next` messages until one carries a breach event; returns its raw payload text.
async fn next_event(ws: &mut Ws) -> Value {
    try_next_event(ws).await.expect("an event")
}

/// Like [`next_event`]; None when the connection ends or stays silent for the guard's time.
async fn try_next_event(ws: &mut Ws) -> Option<Value> {
    loop {
        let m = ws.next().await?;
        if m["type"] == "next" {
            return Some(m);
        }
        assert_ne!(m["type"], "error", "{m}");
    }
}

async fn quiet_setup(config: Config) -> Setup {
    let clock = Arc::new(ManualClock::new(t0()));
    let conn = fresh_db().await;
    workflow_intel::db::migrate(&conn).await.unwrap();
    let app = TestApp::spawn_timed(config, conn.into(), Some(clock.clone()), QUIET_TIMING).await;
    with_app(app, clock, json!([])).await
}

/// Statements and renders that delivering one CRITICAL event to `n` subscribers costs.
async fn cost_of_one_event(s: &Setup, n: usize, tag: &str) -> (usize, u64, Vec<Value>) {
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut ws = Ws::ready(&s.app, &s.token).await;
        ws.subscribe("s", EVENTS, json!({})).await;
        clients.push(ws);
    }
    eventually("every subscriber joined one cohort", || async {
        s.app.app.live.sizes() == (1, n)
    })
    .await;
    let renders = &s.app.app.state.metrics.internals.breach_event_renders_total;
    let (stmts0, renders0) = (s.app.statements.load(Ordering::SeqCst), renders.get());
    let r = s.app.data(&s.token, IMPORT, overrunning(s, tag, 1)).await;
    assert_eq!(r["importExecutions"]["breaches"], 2, "warning and critical");
    let mut got = Vec::new();
    let sent = std::time::Instant::now();
    for (i, ws) in clients.iter_mut().enumerate() {
        let Some(e) = try_next_event(ws).await else {
            panic!(
                "subscriber {i} of {n} ({tag}) got no event, {:?} after the import; the \
                 dispatcher's cursor is at {}",
                sent.elapsed(),
                s.app.app.live.cursor.load(Ordering::SeqCst)
            );
        };
        got.push(e["payload"].clone());
    }
    let cost = s.app.statements.load(Ordering::SeqCst) - stmts0;
    let rendered = renders.get() - renders0;
    for ws in &mut clients {
        ws.send(json!({"type": "complete", "id": "s"})).await;
        let _ = ws.0.close(None).await;
    }
    eventually("every subscriber left", || async {
        s.app.app.live.sizes() == (0, 0)
    })
    .await;
    (cost, rendered, got)
}

#[tokio::test]
async fn one_event_costs_the_same_statements_for_1_and_500_subscribers() {
    let config = Config {
        token_cache_seconds: 3600,
        ..Config::default()
    };
    let s = quiet_setup(config).await;
    let (one, renders_one, _) = cost_of_one_event(&s, 1, "one").await;
    let (many, renders_many, payloads) = cost_of_one_event(&s, 500, "many").await;
    // The import, then the dispatcher's read of the log and one load of the snapshot (five
    // statements). Whether the two events come in one read or two depends on when the
    // dispatcher wakes, so the counts may differ by one read and one snapshot; a cost per
    // subscriber would add 500.
    assert!(one >= 6, "the server's statement counter counted {one}");
    assert!(
        many <= one + 6,
        "1 subscriber: {one} statements, 500 subscribers: {many}"
    );
    // Two events (warning, critical) each run once for the one cohort.
    assert_eq!((renders_one, renders_many), (2, 2));
    // Every subscriber got the same payload, with everything from the snapshot.
    assert!(payloads.iter().all(|p| p == &payloads[0]));
    let ev = &payloads[0]["data"]["slaBreachEvents"];
    assert_eq!(ev["breach"]["severity"], "CRITICAL");
    assert_eq!(ev["breach"]["sla"]["name"], "Discount turnaround");
    assert_eq!(ev["breach"]["execution"]["externalId"], "many-0");
    assert_eq!(
        ev["breach"]["execution"]["workflow"]["owner"]["email"],
        "owner@acme.io"
    );
}

/// Imports three overrunning executions and reads their CRITICAL events' sequences back
/// through a replay from 0.
async fn three_old_events(s: &Setup) -> Vec<i64> {
    let r = s.app.data(&s.token, IMPORT, overrunning(s, "old", 3)).await;
    assert_eq!(r["importExecutions"]["breaches"], 6);
    let mut ws = Ws::ready(&s.app, &s.token).await;
    ws.subscribe("all", EVENTS, json!({"after": 0})).await;
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let e = next_event(&mut ws).await;
        let ev = &e["payload"]["data"]["slaBreachEvents"];
        seqs.push(ev["sequence"].as_i64().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    seqs
}

#[tokio::test]
async fn after_sequence_replays_then_goes_live_without_gap_or_duplicate() {
    let s = setup(Config::default(), json!([])).await;
    let seqs = three_old_events(&s).await;
    // Resume after the first: the other two come from the log, then the stream is live.
    let mut resumed = Ws::ready(&s.app, &s.token).await;
    resumed
        .subscribe("r", EVENTS, json!({"after": seqs[0]}))
        .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let e = next_event(&mut resumed).await;
        got.push(
            e["payload"]["data"]["slaBreachEvents"]["sequence"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(got, seqs[1..].to_vec());
    let r = s
        .app
        .data(&s.token, IMPORT, overrunning(&s, "new", 2))
        .await;
    assert_eq!(r["importExecutions"]["breaches"], 4);
    let mut live = Vec::new();
    for _ in 0..2 {
        let e = next_event(&mut resumed).await;
        let ev = &e["payload"]["data"]["slaBreachEvents"];
        assert!(
            ev["breach"]["execution"]["externalId"]
                .as_str()
                .unwrap()
                .starts_with("new-")
        );
        live.push(ev["sequence"].as_i64().unwrap());
    }
    assert!(live[0] > seqs[2] && live[1] > live[0], "{live:?}");
    // Nothing more: no duplicate at the seam.
    resumed.send(json!({"type": "ping"})).await;
    assert_eq!(resumed.next().await.unwrap()["type"], "pong");
}

#[tokio::test]
async fn a_resume_point_the_log_no_longer_keeps_is_refused() {
    let s = setup(Config::default(), json!([])).await;
    let seqs = three_old_events(&s).await;
    // Retention removed the log up to the second event.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    workflow_intel::entity::sla_event::Entity::delete_many()
        .filter(workflow_intel::entity::sla_event::Column::Seq.lte(seqs[1]))
        .exec(&s.app.db)
        .await
        .unwrap();
    let mut late = Ws::ready(&s.app, &s.token).await;
    late.subscribe("late", EVENTS, json!({"after": seqs[0]}))
        .await;
    let err = late.next().await.unwrap();
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(err["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        err["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no longer kept")
    );
    // Negative resume points are bad input.
    late.subscribe("neg", EVENTS, json!({"after": -1})).await;
    let err = late.next().await.unwrap();
    assert_eq!(err["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_event_log_keeps_its_retention() {
    let s = setup(Config::default(), json!([])).await;
    let r = s.app.data(&s.token, IMPORT, overrunning(&s, "r", 2)).await;
    assert_eq!(r["importExecutions"]["breaches"], 4);
    use sea_orm::{EntityTrait, PaginatorTrait};
    let count = || async {
        workflow_intel::entity::sla_event::Entity::find()
            .count(&s.app.db)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 4);
    use workflow_intel::clock::Clock;
    let now = s.clock.now();
    let kept = workflow_intel::live::log::prune(&s.app.db, now - Duration::days(7))
        .await
        .unwrap();
    assert_eq!(kept, 0, "written just now: kept");
    let gone = workflow_intel::live::log::prune(&s.app.db, now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(gone, 4);
    assert_eq!(count().await, 0);
}

#[tokio::test]
async fn a_server_enforces_event_retention_days() {
    let s = setup(Config::default(), json!([])).await;
    let r = s.app.data(&s.token, IMPORT, overrunning(&s, "r", 2)).await;
    assert_eq!(r["importExecutions"]["breaches"], 4);
    use sea_orm::{EntityTrait, PaginatorTrait};
    let count = || async {
        workflow_intel::entity::sla_event::Entity::find()
            .count(&s.app.db)
            .await
            .unwrap()
    };
    use workflow_intel::clock::Clock;
    let later = Arc::new(ManualClock::new(s.clock.now() + Duration::days(6)));
    // Six days on, with the default 7 days: a server starting up keeps them.
    let mut conn = s.app.db.clone();
    let kept = TestApp::spawn_on(Config::default(), &mut conn, Some(later.clone())).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(count().await, 4);
    drop(kept);
    // The same day with EVENT_RETENTION_DAYS=5: they go.
    let config = Config::from_layers(None, |k| {
        (k == "EVENT_RETENTION_DAYS").then(|| "5".to_string())
    })
    .unwrap();
    assert_eq!(config.event_retention_days, 5);
    let _pruning = TestApp::spawn_on(config, &mut conn, Some(later)).await;
    eventually("events older than the retention are deleted", || async {
        count().await == 0
    })
    .await;
}

const TOKENS: &str = "{ apiTokens(first: 50) { totalCount edges { node { id name revoked revokedAt user { email role } } } } }";
const REVOKE: &str =
    "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id revoked revokedAt } } }";

fn token_id(list: &Value, email: &str) -> String {
    list["apiTokens"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["user"]["email"] == email)
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .unwrap()
}

#[tokio::test]
async fn tokens_are_listed_revoked_and_their_websockets_closed() {
    let config = Config {
        token_cache_seconds: 1,
        ..Config::default()
    };
    let app = TestApp::spawn_with(config).await;
    let admin = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let viewer = app.token("Acme", "viewer@acme.io", Role::Viewer).await;
    let other = app.token("Other", "admin@other.io", Role::Admin).await;

    // Only admins list tokens, and only their company's.
    let v = app.gql(Some(&viewer), TOKENS, json!({})).await;
    assert_eq!(code(&v), "FORBIDDEN");
    let list = app.data(&admin, TOKENS, json!({})).await;
    assert_eq!(list["apiTokens"]["totalCount"], 2);
    let viewer_id = token_id(&list, "viewer@acme.io");
    let other_list = app.data(&other, TOKENS, json!({})).await;
    let other_id = token_id(&other_list, "admin@other.io");
    let v = app.gql(Some(&admin), REVOKE, json!({"id": other_id})).await;
    assert_eq!(code(&v), "NOT_FOUND", "another company's token");

    // The viewer works (and is now cached), over HTTP and WebSocket.
    let d = app.data(&viewer, "{ viewer { email } }", json!({})).await;
    assert_eq!(d["viewer"]["email"], "viewer@acme.io");
    let mut ws = Ws::ready(&app, &viewer).await;
    ws.subscribe("s", "subscription { slaBreachEvents { kind } }", json!({}))
        .await;

    // Revoked here: refused at once, and its socket is closed with 4403 within the bound.
    let r = app.data(&admin, REVOKE, json!({"id": viewer_id})).await;
    assert_eq!(r["revokeApiToken"]["apiToken"]["revoked"], true);
    let v = app
        .gql(Some(&viewer), "{ viewer { email } }", json!({}))
        .await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
    assert_eq!(ws.close_code().await, Some(4403));
    let v = app
        .gql(Some(&admin), REVOKE, json!({"id": viewer_id}))
        .await;
    assert_eq!(code(&v), "CONFLICT");

    // Revoked elsewhere (another replica, the CLI): refused within the cache bound.
    let d = app.data(&other, "{ viewer { email } }", json!({})).await;
    assert_eq!(d["viewer"]["email"], "admin@other.io");
    let company = app
        .data(&other, "{ viewer { companyId } }", json!({}))
        .await["viewer"]["companyId"]
        .as_str()
        .unwrap()
        .to_string();
    workflow_intel::auth::revoke_token(
        &app.db,
        uuid::Uuid::parse_str(&company).unwrap(),
        uuid::Uuid::parse_str(&other_id).unwrap(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    eventually("the other replica's revocation is seen", || async {
        let v = app
            .gql(Some(&other), "{ viewer { email } }", json!({}))
            .await;
        v.get("errors").is_some() && code(&v) == "UNAUTHENTICATED"
    })
    .await;
}

#[tokio::test]
async fn a_cached_token_costs_no_query() {
    let app = TestApp::spawn_requests_only().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    app.data(&t, "{ __typename }", json!({})).await;
    let before = app.statements.load(Ordering::SeqCst);
    for _ in 0..20 {
        app.data(&t, "{ __typename }", json!({})).await;
    }
    assert_eq!(app.statements.load(Ordering::SeqCst), before);
    // An unknown token is not looked up again either.
    let _ = app
        .gql(Some("wi_unknown"), "{ __typename }", json!({}))
        .await;
    let before = app.statements.load(Ordering::SeqCst);
    let v = app
        .gql(Some("wi_unknown"), "{ viewer { email } }", json!({}))
        .await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
    assert_eq!(app.statements.load(Ordering::SeqCst), before);
}

/// A server on a SQLite file (readers beside the writer), with an admin token and a
/// workflow; the caller removes the folder.
async fn on_a_sqlite_file() -> (std::path::PathBuf, TestApp, String, Value) {
    let dir = std::env::temp_dir().join(format!("wi-file-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.display());
    let pools = workflow_intel::db::connect_pools(&url).await.unwrap();
    workflow_intel::db::migrate(&pools.write).await.unwrap();
    let app = TestApp::spawn_timed(Config::default(), pools, None, TEST_TIMING).await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let wf = create_workflow(&app, &t, "Flow", json!([{"name": "a", "action": "task"}])).await;
    (dir, app, t, wf)
}

#[tokio::test]
async fn on_a_sqlite_file_reads_do_not_wait_for_the_writer() {
    let (dir, app, t, wf) = on_a_sqlite_file().await;
    // Hold the write lock, as a long write transaction would.
    let txn = workflow_intel::db::begin_write(&app.app.state.writer)
        .await
        .unwrap();
    // A read is answered meanwhile.
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        app.data(
            &t,
            "{ workflows { totalCount } viewer { email } }",
            json!({}),
        ),
    )
    .await
    .expect("a read answered while a write transaction is open");
    assert_eq!(read["workflows"]["totalCount"], 1);
    // A write waits its turn in the writer's queue, then succeeds.
    let start = app.gql(
        Some(&t),
        crate::sla::START,
        json!({"input": {"workflowId": wf["id"]}}),
    );
    tokio::pin!(start);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), &mut start)
            .await
            .is_err(),
        "the write waited for the writer"
    );
    txn.rollback().await.unwrap();
    let v = start.await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(
        v["data"]["startExecution"]["execution"]["status"],
        "RUNNING"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn concurrent_completions_are_group_committed_and_one_failure_stays_its_own() {
    let (dir, app, t, wf) = on_a_sqlite_file().await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        let v = app
            .data(
                &t,
                crate::sla::START,
                json!({"input": {"workflowId": wf["id"]}}),
            )
            .await;
        ids.push(v["startExecution"]["execution"]["id"].clone());
    }
    let m = &app.app.state.metrics;
    let (commits0, jobs0) = (
        m.internals.write_group_commits_total.get(),
        m.internals.write_group_jobs_total.get(),
    );
    // 40 completions at once, and the first one a second time (a CONFLICT in the same group).
    let mut calls: Vec<_> = ids
        .iter()
        .map(|id| {
            app.gql(
                Some(&t),
                crate::sla::COMPLETE,
                json!({"input": {"executionId": id, "status": "COMPLETED"}}),
            )
        })
        .collect();
    calls.push(app.gql(
        Some(&t),
        crate::sla::COMPLETE,
        json!({"input": {"executionId": ids[0], "status": "COMPLETED"}}),
    ));
    let results = futures_util::future::join_all(calls).await;
    let conflicts = results
        .iter()
        .filter(|v| v.get("errors").is_some_and(|_| code(v) == "CONFLICT"))
        .count();
    let done = results
        .iter()
        .filter(|v| v["data"]["completeExecution"]["execution"]["status"] == "COMPLETED")
        .count();
    assert_eq!((done, conflicts), (40, 1), "{results:?}");
    let commits = m.internals.write_group_commits_total.get() - commits0;
    let jobs = m.internals.write_group_jobs_total.get() - jobs0;
    // The second completion of the first execution is refused by its read, before it queues,
    // when the first is committed by then; otherwise its update's guard refuses it in a group,
    // and the group's 40 others still commit.
    assert!(
        (40..=41).contains(&jobs),
        "{jobs} jobs: every completion ran in a group, the refused one at most"
    );
    assert!(commits < jobs, "{jobs} jobs in {commits} commits: grouped");
    // Every completion is visible to readers once answered.
    let v = app
        .data(
            &t,
            "{ executions(first: 100, filter: {status: COMPLETED}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(v["executions"]["totalCount"], 40);
    let _ = std::fs::remove_dir_all(&dir);
}

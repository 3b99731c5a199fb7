//! Load harness (run with `cargo bench --bench load`): starts the release server as its own
//! process and measures, on loopback only:
//! - N concurrent WebSocket subscribers (default 10,000; LOAD_SUBSCRIBERS) each receiving a
//!   breach: p50/p99 delivery latency and the server's RSS per idle subscriber;
//! - breach-recording throughput: executions completed per second, with SLA evaluation, over
//!   GraphQL (`completeExecution`, concurrent clients) and in bulk (`importExecutions`), on
//!   SQLite, and on PostgreSQL when LOAD_PG_URL names a server (a fresh database is created),
//!   with PostgreSQL's own rate for the same statements beside it (pgbench; `load/ceiling.rs`).
//!
//! Every loop is bounded in count and time; the harness stops the server when done.
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "load/ceiling.rs"]
mod ceiling;
#[path = "load/fleet.rs"]
mod fleet;
#[path = "support/floor.rs"]
mod floor_schema;

/// The server's allocator (`src/main.rs`), for the floor's server in this process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Server {
    child: Child,
    base: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

async fn start_server(database_url: &str) -> Server {
    start_server_with(database_url, &[]).await
}

/// A new admin token for `company` (created when missing), through the CLI.
fn create_token(database_url: &str, company: &str, email: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_workflow-intel"))
        .args([
            "token",
            "create",
            "--company",
            company,
            "--create-company",
            "--email",
            email,
        ])
        .args(["--role", "admin", "--database-url", database_url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn start_server_with(database_url: &str, env: &[(&str, String)]) -> Server {
    let bin = env!("CARGO_BIN_EXE_workflow-intel");
    let token = create_token(database_url, "Load", "load@bench.local");
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
        ])
        .env("RUST_LOG", "warn")
        .env("SLA_ALERTS_ENABLED", "false")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        token,
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become ready");
}

async fn gql(client: &reqwest::Client, s: &Server, query: &str, vars: Value) -> Value {
    gql_as(client, &s.base, &s.token, query, vars).await
}

async fn gql_as(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    vars: Value,
) -> Value {
    let v: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(v.get("errors").is_none(), "{v}");
    v["data"].clone()
}

async fn setup_workflow(client: &reqwest::Client, s: &Server) -> String {
    setup_workflow_as(client, &s.base, &s.token).await
}

async fn setup_workflow_as(client: &reqwest::Client, base: &str, token: &str) -> String {
    let wf = gql_as(
        client,
        base,
        token,
        "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { workflow { id } } }",
        json!({"i": {"name": "Load", "steps": [{"name": "a", "action": "task"}]}}),
    )
    .await["createWorkflow"]["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql_as(
        client,
        base,
        token,
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        json!({"i": {"workflowId": wf, "name": "Load SLA", "targetDurationSeconds": 60, "warningThresholdSeconds": 30, "criticalThresholdSeconds": 60}}),
    )
    .await;
    wf
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Scenario S's subscription: what a dashboard selects.
const SUBSCRIPTION: &str = "subscription { slaBreachEvents(filter: {severity: CRITICAL}) { kind breach { id severity actualDurationSeconds sla { name } execution { externalId workflow { name } } } } }";

/// A company of the scenario, with its token and an SLA'd workflow.
struct Company {
    token: String,
    workflow: String,
}

/// Creates a company (and its admin token) through the CLI, then its workflow and SLA.
async fn company(client: &reqwest::Client, url: &str, server: &Server, name: &str) -> Company {
    let token = create_token(url, name, "ops@bench.local");
    let workflow = setup_workflow_as(client, &server.base, &token).await;
    Company { token, workflow }
}

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat; `after` starts at field 3.
    (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) as f64 / 100.0
}

/// What one subscriber saw: each event's externalId with its arrival, and LAGGED errors.
struct Seen {
    events: Vec<(String, Instant)>,
    lagged: usize,
}

fn external_id(text: &str) -> Option<String> {
    let at = text.find("\"externalId\":\"")? + 14;
    let end = text[at..].find('"')?;
    Some(text[at..at + end].to_string())
}

/// The harness's WebSocket clients. tungstenite zeroes its whole read buffer (128 KiB by
/// default) before every read: with 15,000 clients in a process that memset was 62 % of the
/// process's CPU, and the clients' share of the two cores went into every latency measured
/// (ours and the Node peer's alike). A dashboard's frames are far smaller than 4 KiB.
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}

/// A graphql-transport-ws connection, initialised with `token` and acknowledged.
async fn connect_ws(
    base: &str,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = (base.replace("http", "ws") + "/graphql")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let mut ws = tokio_tungstenite::connect_async_with_config(req, Some(client_config()), false)
        .await
        .expect("ws")
        .0;
    let init = json!({"type": "connection_init", "payload": {"token": token}});
    ws.send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    while let Some(Ok(m)) = ws.next().await {
        if matches!(&m, Message::Text(t) if t.contains("connection_ack")) {
            break;
        }
    }
    ws
}

/// One subscriber: connects, subscribes, signals `ready`, then records events until `stop`.
async fn subscriber(
    base: String,
    token: String,
    query: &'static str,
    ready: Arc<tokio::sync::Barrier>,
    gate: Arc<tokio::sync::Semaphore>,
    stop: Arc<tokio::sync::Notify>,
) -> Seen {
    let permit = gate.acquire_owned().await.unwrap();
    let mut ws = connect_ws(&base, &token).await;
    let sub = json!({"type": "subscribe", "id": "1", "payload": {"query": query}});
    ws.send(Message::Text(sub.to_string().into()))
        .await
        .unwrap();
    drop(permit);
    ready.wait().await;
    let mut seen = Seen {
        events: Vec::new(),
        lagged: 0,
    };
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if t.contains("LAGGED") {
                        seen.lagged += 1;
                    } else if let Some(id) = external_id(&t) {
                        seen.events.push((id, Instant::now()));
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    seen
}

/// Overrunning executions (400 s against a 60 s critical threshold), one CRITICAL event each.
fn overrunning(workflow: &str, ids: &[String]) -> Value {
    let end = chrono::Utc::now() - chrono::Duration::minutes(1);
    let execs: Vec<Value> = ids
        .iter()
        .map(|id| json!({"workflowId": workflow, "externalId": id, "status": "COMPLETED",
            "startedAt": (end - chrono::Duration::seconds(400)).to_rfc3339(), "completedAt": end.to_rfc3339()}))
        .collect();
    json!({"query": "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }", "variables": {"i": {"executions": execs}}})
}

/// The shape of one live-stream run.
struct Scenario {
    label: String,
    subscribers_per_company: usize,
    /// Companies that receive events (the first ones).
    active: usize,
    /// Overrunning executions per active company per second.
    per_second: usize,
    seconds: u64,
    /// Events go to the Node peer's `POST /fire` instead of `importExecutions`.
    peer: bool,
}

/// Sends the events: every second, one `importExecutions` per active company through the
/// first server. Returns each externalId's send time and each call's latency (None: failed).
async fn produce(
    s: &Server,
    companies: &[Company],
    sc: &Scenario,
) -> (std::collections::HashMap<String, Instant>, Vec<Option<f64>>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut sent = std::collections::HashMap::new();
    let mut calls = Vec::new();
    let start = Instant::now();
    for tick in 0..sc.seconds {
        tokio::time::sleep_until((start + Duration::from_secs(tick)).into()).await;
        for (c, co) in companies.iter().enumerate().take(sc.active) {
            let ids: Vec<String> = (0..sc.per_second)
                .map(|j| format!("c{c}-t{tick}-{j}-{}", std::process::id()))
                .collect();
            let (url, body) = if sc.peer {
                let id = ids[0].clone();
                (format!("{}/fire", s.base), json!({"externalId": id}))
            } else {
                let body = overrunning(&co.workflow, &ids);
                (format!("{}/graphql", s.base), body)
            };
            let at = Instant::now();
            for id in ids {
                sent.insert(id, at);
            }
            calls.push(timed_post(&client, url, &co.token, body));
        }
    }
    (sent, latencies(calls).await)
}

/// Posts `body` on its own task: its latency in ms when answered without errors (None when
/// it failed or was refused).
fn timed_post(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> tokio::task::JoinHandle<Option<f64>> {
    let (client, token, at) = (client.clone(), token.to_string(), Instant::now());
    tokio::spawn(async move {
        let r = client.post(url).bearer_auth(token).json(&body).send().await;
        answered(r)
            .await
            .then(|| at.elapsed().as_secs_f64() * 1000.0)
    })
}

/// The latencies of [`timed_post`] calls, in the order they were made.
async fn latencies(calls: Vec<tokio::task::JoinHandle<Option<f64>>>) -> Vec<Option<f64>> {
    let mut lat = Vec::with_capacity(calls.len());
    for c in calls {
        lat.push(c.await.unwrap_or(None));
    }
    lat
}

/// Whether a GraphQL request was answered, with data and without errors.
async fn answered(r: reqwest::Result<reqwest::Response>) -> bool {
    match r {
        Ok(r) => r
            .json::<Value>()
            .await
            .is_ok_and(|v| v.get("errors").is_none()),
        Err(_) => false,
    }
}

/// Runs one scenario against `servers` (subscribers spread over them round-robin; events
/// through the first), prints its row and returns its latency p50 and p99.
async fn scenario(servers: &[Server], companies: &[Company], sc: &Scenario) -> (f64, f64) {
    let n = companies.len() * sc.subscribers_per_company;
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let rss_before: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
    let ready = Arc::new(tokio::sync::Barrier::new(n + 1));
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % companies.len();
        let base = servers[i % servers.len()].base.clone();
        let t = companies[c].token.clone();
        let fut = subscriber(
            base,
            t,
            SUBSCRIPTION,
            ready.clone(),
            gate.clone(),
            stop.clone(),
        );
        tasks.push((c, i % servers.len(), tokio::spawn(fut)));
    }
    ready.wait().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
    let cpu0: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let t0 = Instant::now();
    let (sent, calls) = produce(&servers[0], companies, sc).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = (pids.iter().map(|p| cpu_secs(*p)).sum::<f64>() - cpu0) / t0.elapsed().as_secs_f64();
    stop.notify_waiters();
    let (mut lat, mut expected, mut got, mut lagged) = (Vec::new(), 0usize, 0usize, 0usize);
    // Each replica's own latencies, when there are several: the replica that takes the write
    // against those that learn of it from PostgreSQL.
    let mut per_replica: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for (c, r, t) in tasks {
        let seen = t.await.unwrap();
        let prefix = format!("c{c}-");
        expected += if c < sc.active {
            sc.seconds as usize * sc.per_second
        } else {
            0
        };
        lagged += seen.lagged;
        let mut unique = std::collections::HashSet::new();
        for (id, at) in seen.events {
            assert!(id.starts_with(&prefix), "an event of another company: {id}");
            if unique.insert(id.clone())
                && let Some(s) = sent.get(&id)
            {
                let ms = at.duration_since(*s).as_secs_f64() * 1000.0;
                lat.push(ms);
                per_replica[r].push(ms);
            }
        }
        got += unique.len();
    }
    lat.sort_by(f64::total_cmp);
    let mut mlat: Vec<f64> = calls.iter().flatten().copied().collect();
    mlat.sort_by(f64::total_cmp);
    let per_sub = rss_idle.saturating_sub(rss_before) as f64 * 1.024 / n as f64;
    println!(
        "| {} | {n} | {:.0} ms | {:.0} ms | {:.0} ms | {} of {expected} | {lagged} | {} of {} | {:.1} ms | {:.1} ms | {per_sub:.1} KB | {:.0} % |",
        sc.label,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0),
        expected - got.min(expected),
        mlat.len(),
        calls.len(),
        pct(&mlat, 0.5),
        pct(&mlat, 0.99),
        cpu * 100.0
    );
    if servers.len() > 1 {
        print_per_replica(&mut per_replica);
    }
    (pct(&lat, 0.5), pct(&lat, 0.99))
}

/// Each replica's own latencies, below the scenario's row: the first takes the writes.
fn print_per_replica(per_replica: &mut [Vec<f64>]) {
    for (r, l) in per_replica.iter_mut().enumerate() {
        l.sort_by(f64::total_cmp);
        let role = if r == 0 {
            "takes the writes"
        } else {
            "learns from PostgreSQL"
        };
        println!(
            "|   replica {} ({role}) | {} receipts | {:.0} ms | {:.0} ms | {:.0} ms (min {:.0} ms) |||||||",
            r + 1,
            l.len(),
            pct(l, 0.5),
            pct(l, 0.99),
            pct(l, 1.0),
            l.first().copied().unwrap_or(f64::NAN)
        );
    }
}

const SCENARIO_HEADER: &str = "| scenario | subscribers | p50 | p99 | max | events lost | LAGGED | mutations answered | mutation p50 | mutation p99 | RSS per idle subscriber | server CPU |\n|---|---|---|---|---|---|---|---|---|---|---|---|";

fn sqlite_url(tag: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("wi-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/load.db?mode=rwc", dir.display());
    (dir, url)
}

/// Scenario S and its single-server variants, on SQLite.
async fn live_scenarios(n: usize) {
    let client = reqwest::Client::new();
    println!("## Live breach stream (scenario S and variants)\n");
    println!("{SCENARIO_HEADER}");
    let peer_s = peer_s(n).await;
    let mut ratios = None;
    let runs = [
        (1, n, 1, 1, format!("S: {n} subscribers, 1 event/s")),
        (
            100,
            100,
            10,
            1,
            "100 companies x 100, 1 event/s in each of 10".to_string(),
        ),
        (1, n, 1, 20, format!("bursts: {n} subscribers, 20 events/s")),
    ];
    for (companies, per, active, per_second, label) in runs {
        let (dir, url) = sqlite_url("live");
        let s = start_server(&url).await;
        let mut cos = Vec::new();
        for c in 0..companies {
            cos.push(company(&client, &url, &s, &format!("Co{c}")).await);
        }
        let sc = Scenario {
            label,
            subscribers_per_company: per,
            active,
            per_second,
            seconds: 30,
            peer: false,
        };
        let (p50, p99) = scenario(std::slice::from_ref(&s), &cos, &sc).await;
        if let (Some((n50, n99)), true) = (peer_s, companies == 1 && per_second == 1) {
            ratios = Some((p50 / n50, p99 / n99));
        }
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some((r50, r99)) = ratios {
        println!(
            "\nS against the Node peer in the same run: p50 {r50:.2}x, p99 {r99:.2}x (below 1: faster than the peer)."
        );
    }
    println!();
}

/// Scenario S against the Node peer (benches/peer: graphql-ws 6 on ws 8, events from memory,
/// no database, no authentication). None when the peer is not installed.
async fn peer_s(n: usize) -> Option<(f64, f64)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer");
    if !std::path::Path::new(dir).join("node_modules").exists() {
        println!("| Node peer | (not installed: `npm ci` in benches/peer) |||||||||||");
        return None;
    }
    let port = free_port();
    let child = Command::new("node")
        .arg("server.mjs")
        .arg(port.to_string())
        .current_dir(dir)
        .spawn()
        .ok()?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        token: "none".into(),
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(&server.base).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cos = [Company {
        token: "none".into(),
        workflow: String::new(),
    }];
    let sc = Scenario {
        label: format!("Node peer (graphql-ws 6, ws 8): {n} subscribers, 1 event/s"),
        subscribers_per_company: n,
        active: 1,
        per_second: 1,
        seconds: 30,
        peer: true,
    };
    Some(scenario(std::slice::from_ref(&server), &cos, &sc).await)
}

/// A fresh database on the PostgreSQL server `pg` (None when it cannot be created).
fn create_pg_db(pg: &str, name: &str) -> Option<String> {
    Command::new("psql")
        .args([
            &format!("{pg}/postgres"),
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .is_ok_and(|s| s.success())
        .then(|| format!("{pg}/{name}"))
}

fn drop_pg_db(pg: &str, name: &str) {
    let _ = Command::new("psql")
        .args([
            &format!("{pg}/postgres"),
            "-qc",
            &format!("DROP DATABASE {name} WITH (FORCE)"),
        ])
        .status();
}

/// Scenario S on two PostgreSQL replicas, half the subscribers on each.
async fn live_replicas(pg: &str, n: usize) {
    let db = format!("wi_live_{}", std::process::id());
    let Some(url) = create_pg_db(pg, &db) else {
        return;
    };
    let client = reqwest::Client::new();
    let servers = vec![start_server(&url).await, start_server(&url).await];
    let cos = vec![company(&client, &url, &servers[0], "Replicated").await];
    println!("## Live breach stream on two PostgreSQL replicas\n");
    println!("{SCENARIO_HEADER}");
    let sc = Scenario {
        label: format!("S on PostgreSQL, 2 replicas x {}", n / 2),
        subscribers_per_company: n,
        active: 1,
        per_second: 1,
        seconds: 30,
        peer: false,
    };
    scenario(&servers, &cos, &sc).await;
    println!();
    drop(servers);
    drop_pg_db(pg, &db);
}

/// Ten concurrent `importExecutions` of 1,000 overrunning executions (20,000 events) to one
/// subscriber that reads as fast as it can.
async fn burst() {
    let (dir, url) = sqlite_url("burst");
    let s = start_server(&url).await;
    let client = reqwest::Client::new();
    let co = company(&client, &url, &s, "Burst").await;
    let mut ws = connect_ws(&s.base, &co.token).await;
    let q = "subscription { slaBreachEvents { kind sequence breach { id severity execution { externalId } } } }";
    let sub = json!({"type": "subscribe", "id": "1", "payload": {"query": q}});
    ws.send(Message::Text(sub.to_string().into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let mut calls = Vec::new();
    for k in 0..10 {
        let ids: Vec<String> = (0..1000).map(|j| format!("b{k}-{j}")).collect();
        let body = overrunning(&co.workflow, &ids);
        let (client, url, token) = (
            client.clone(),
            format!("{}/graphql", s.base),
            co.token.clone(),
        );
        calls.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .is_ok()
        }));
    }
    let (mut got, mut lagged, mut in_order, mut last) = (0usize, 0usize, true, -1i64);
    let produced_in = {
        for c in calls {
            c.await.unwrap();
        }
        t.elapsed().as_secs_f64()
    };
    while got < 20_000 {
        let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await else {
            break;
        };
        let Message::Text(text) = m else { continue };
        if text.contains("LAGGED") {
            lagged += 1;
            continue;
        }
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        if let Some(seq) = v["payload"]["data"]["slaBreachEvents"]["sequence"].as_i64() {
            in_order &= seq > last;
            last = seq;
            got += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("## A burst of 20,000 events to one reading subscriber (SQLite)\n");
    println!(
        "| produced (10 calls of 1,000 overrunning executions) | delivered | in order | LAGGED | all delivered after |\n|---|---|---|---|---|"
    );
    println!(
        "| 20,000 events in {produced_in:.2} s | {got} | {} | {lagged} | {secs:.2} s |\n",
        if in_order { "yes" } else { "no" }
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// requests/s that wrk reaches for one POSTed GraphQL body.
fn wrk(base: &str, token: Option<&str>, body: &Value) -> f64 {
    let script = std::env::temp_dir().join(format!("wi-wrk-{}.lua", std::process::id()));
    let auth = token
        .map(|t| format!("wrk.headers[\"Authorization\"] = \"Bearer {t}\"\n"))
        .unwrap_or_default();
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n{auth}wrk.body = {}\n",
        serde_json::to_string(&body.to_string()).unwrap()
    );
    std::fs::write(&script, lua).unwrap();
    let out = Command::new("wrk")
        .args(["-t2", "-c32", "-d10s", "-s"])
        .arg(&script)
        .arg(format!("{base}/graphql"))
        .output();
    let _ = std::fs::remove_file(&script);
    let Ok(out) = out else { return f64::NAN };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The HTTP ratios: authenticated against anonymous trivial queries, and the dashboard query
/// against the authenticated trivial one, in the same run.
async fn http_ratios(label: &str, url: &str) {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("(wrk is not installed: `apt-get install wrk`; HTTP ratios skipped)\n");
        return;
    }
    let s = start_server(url).await;
    let client = reqwest::Client::new();
    let co = company(&client, url, &s, "Dash").await;
    // Some breaches for the dashboard to show.
    let ids: Vec<String> = (0..200).map(|j| format!("d{j}")).collect();
    client
        .post(format!("{}/graphql", s.base))
        .bearer_auth(&co.token)
        .json(&overrunning(&co.workflow, &ids))
        .send()
        .await
        .unwrap();
    let trivial = json!({"query": "{ __typename }"});
    let dashboard = json!({ "query": floor_schema::DASHBOARD });
    let anon = wrk(&s.base, None, &trivial);
    let authed = wrk(&s.base, Some(&co.token), &trivial);
    let dash = wrk(&s.base, Some(&co.token), &dashboard);
    let ours = gql_as(
        &client,
        &s.base,
        &co.token,
        floor_schema::DASHBOARD,
        json!({}),
    )
    .await;
    assert_eq!(ours["slaBreaches"]["edges"].as_array().unwrap().len(), 20);
    drop(s);
    let (floor, task) = floor_server().await;
    assert_eq!(
        // The floor reads no token.
        shape(&gql_as(&client, &floor, "-", floor_schema::DASHBOARD, json!({})).await),
        shape(&ours),
        "the floor answers the dashboard with the server's fields"
    );
    let floor_trivial = wrk(&floor, None, &trivial);
    let floor_dash = wrk(&floor, None, &dashboard);
    task.abort();
    println!("## HTTP, wrk -t2 -c32 -d10s ({label})\n");
    println!("| request | requests/s | ratio | target |\n|---|---|---|---|");
    println!("| `{{ __typename }}` without a token | {anon:.0} | | |");
    println!(
        "| `{{ __typename }}` with a token | {authed:.0} | {:.2} of anonymous | >= 0.80 |",
        authed / anon
    );
    println!(
        "| dashboard query (`slaBreaches(first: 20)` with SLA and execution) | {dash:.0} | {:.2} of authenticated trivial | >= 0.25 |\n",
        dash / authed
    );
    println!(
        "| async-graphql alone (`benches/support/floor.rs`, objects in memory): `{{ __typename }}` | {floor_trivial:.0} | | |"
    );
    println!(
        "| async-graphql alone: the dashboard's selection | {floor_dash:.0} | {:.2} of its trivial; {:.2} of our authenticated trivial | the ceiling of the ratio above |\n",
        floor_dash / floor_trivial,
        floor_dash / authed
    );
}

/// An answer's fields with its values left out: its objects' keys, and its lists' first items.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(l) => Value::Array(l.iter().take(1).map(shape).collect()),
        _ => Value::Null,
    }
}

/// async-graphql alone over HTTP (`support/floor.rs`): axum, the request read from JSON, its
/// document parsed once and kept (as the server keeps documents), executed, and answered as
/// JSON bytes. Nothing of the server's own (tokens, limits, loaders, the store) runs.
async fn floor_server() -> (String, tokio::task::JoinHandle<()>) {
    use async_graphql::parser::{parse_query, types::ExecutableDocument};
    use axum::response::IntoResponse;
    type Kept = Arc<std::sync::RwLock<std::collections::HashMap<String, ExecutableDocument>>>;
    let (schema, kept) = (floor_schema::schema(), Kept::default());
    let answer = move |body: axum::body::Bytes| {
        let (schema, kept) = (schema.clone(), kept.clone());
        async move {
            let Ok(mut req) = serde_json::from_slice::<async_graphql::Request>(&body) else {
                return axum::http::StatusCode::BAD_REQUEST.into_response();
            };
            let doc = kept.read().unwrap().get(&req.query).cloned();
            let doc = doc.unwrap_or_else(|| {
                let d = parse_query(&req.query).unwrap();
                kept.write().unwrap().insert(req.query.clone(), d.clone());
                d
            });
            req.set_parsed_query(doc);
            let body = serde_json::to_vec(&schema.execute(req).await).unwrap();
            ([("content-type", "application/json")], body).into_response()
        }
    };
    let app = axum::Router::new().route("/graphql", axum::routing::post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, task)
}

/// Completes `ids` over HTTP from `concurrency` clients, half within the SLA and half
/// overrunning it (two breaches each); returns how many were answered without errors.
async fn complete_all(
    s: &Server,
    ids: Vec<String>,
    base: chrono::DateTime<chrono::Utc>,
    concurrency: usize,
) -> usize {
    let client = reqwest::Client::new();
    let queue = Arc::new(tokio::sync::Mutex::new(
        ids.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        let client = client.clone();
        let base_url = s.base.clone();
        let token = s.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            loop {
                let Some((i, id)) = queue.lock().await.pop() else { break };
                // Half finish within the target, half overrun it (two breaches each).
                let secs = if i % 2 == 0 { 20 } else { 90 };
                let completed = base + chrono::Duration::milliseconds(i as i64) + chrono::Duration::seconds(secs);
                let r = client
                    .post(format!("{base_url}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({"query": "mutation($e: ID!, $c: DateTime!) { completeExecution(input: {executionId: $e, status: COMPLETED, completedAt: $c}) { execution { id } } }", "variables": {"e": id, "c": completed.to_rfc3339()}}))
                    .send()
                    .await;
                // Counted only when answered without errors.
                done += usize::from(answered(r).await);
            }
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap();
    }
    done
}

/// Completes `n` executions over HTTP and imports `n` more; prints both rates and returns the
/// completions a second.
async fn throughput(label: &str, url: &str, n: usize, concurrency: usize) -> f64 {
    // The executions start now and half of them complete 90 s later, past the SLA: their
    // completion times lie up to 100 s ahead of the server's clock, which it accepts only
    // within CLOCK_SKEW_SECONDS (60 by default). Started in the past instead, their deadlines
    // would pass during the run and the watcher, not the completions, would record the
    // breaches.
    let s = start_server_with(url, &[("CLOCK_SKEW_SECONDS", "300".to_string())]).await;
    let client = reqwest::Client::new();
    let wf = setup_workflow(&client, &s).await;
    // Started just now: their SLA deadlines (30 s, 60 s) do not pass during the measurement,
    // so only completion records breaches.
    let base = chrono::Utc::now();
    // n running executions, imported in bulk.
    let running: Vec<Value> = (0..n)
        .map(|i| json!({"workflowId": wf, "externalId": format!("r-{i}"), "status": "RUNNING", "startedAt": (base + chrono::Duration::milliseconds(i as i64)).to_rfc3339()}))
        .collect();
    for chunk in running.chunks(10_000) {
        gql(
            &client,
            &s,
            "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }",
            json!({"i": {"executions": chunk}}),
        )
        .await;
    }
    let ids: Vec<String> = {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let d = gql(&client, &s, "query($w: ID!, $a: String) { executions(first: 100, after: $a, filter: {workflowId: $w, status: RUNNING}) { pageInfo { hasNextPage endCursor } edges { node { id } } } }", json!({"w": wf, "a": after})).await;
            let c = &d["executions"];
            out.extend(
                c["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["node"]["id"].as_str().unwrap().to_string()),
            );
            if c["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = c["pageInfo"]["endCursor"].as_str().map(str::to_string);
        }
        out
    };
    let t = Instant::now();
    let done = complete_all(&s, ids, base, concurrency).await;
    assert_eq!(done, n, "every completion answered without errors");
    let secs = t.elapsed().as_secs_f64();
    let breaches = gql(&client, &s, "{ slaBreaches { totalCount } }", json!({})).await["slaBreaches"]["totalCount"].as_i64().unwrap();

    // Bulk: finished executions imported with SLA evaluation.
    let finished: Vec<Value> = (0..n)
        .map(|i| {
            let st = base + chrono::Duration::milliseconds(i as i64);
            let secs = if i % 2 == 0 { 20 } else { 90 };
            json!({"workflowId": wf, "externalId": format!("f-{i}"), "status": "COMPLETED", "startedAt": st.to_rfc3339(), "completedAt": (st + chrono::Duration::seconds(secs)).to_rfc3339()})
        })
        .collect();
    let t = Instant::now();
    for chunk in finished.chunks(10_000) {
        gql(
            &client,
            &s,
            "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }",
            json!({"i": {"executions": chunk}}),
        )
        .await;
    }
    let bulk_secs = t.elapsed().as_secs_f64();
    let bulk_breaches = gql(&client, &s, "{ slaBreaches { totalCount } }", json!({})).await
        ["slaBreaches"]["totalCount"]
        .as_i64()
        .unwrap()
        - breaches;
    println!("## Breach-recording throughput ({label})\n");
    println!(
        "| path | executions | time | per second | breaches recorded |\n|---|---|---|---|---|"
    );
    println!(
        "| `completeExecution` over HTTP, {concurrency} concurrent clients | {done} | {secs:.2} s | {:.0} | {breaches} |",
        done as f64 / secs
    );
    println!(
        "| `importExecutions`, 10,000 per call | {n} | {bulk_secs:.2} s | {:.0} | {bulk_breaches} |\n",
        n as f64 / bulk_secs,
    );
    done as f64 / secs
}

/// A minimal in-process SMTP sink counting accepted messages (mailin-embedded).
fn smtp_sink() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use mailin_embedded::{Handler, Server, response};
    #[derive(Clone)]
    struct Count(Arc<std::sync::atomic::AtomicUsize>);
    impl Handler for Count {
        fn data_end(&mut self) -> response::Response {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            response::OK
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler = Count(count.clone());
    std::thread::spawn(move || {
        let mut server = Server::new(handler);
        server
            .with_name("sink")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        let _ = server.serve();
    });
    (port, count)
}

/// Cross-replica delivery latency and alert throughput with 1, 2 and 3 replicas.
async fn replicas(pg: &str) {
    let client = reqwest::Client::new();
    println!("## Replicas on one PostgreSQL\n");
    println!(
        "| replicas | breaches | alert emails | time to send all | emails per second | cross-replica delivery p50 | p99 |\n|---|---|---|---|---|---|---|"
    );
    for n in 1..=3usize {
        let db = format!("wi_rep_load_{}_{n}", std::process::id());
        let Some(url) = create_pg_db(pg, &db) else {
            return;
        };
        let (smtp_port, sent) = smtp_sink();
        // The overrunning completions end 90 s after their start, ahead of the server's clock
        // (as in the throughput run).
        let env = [
            ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
            ("SLA_ALERTS_ENABLED", "true".to_string()),
            ("CLOCK_SKEW_SECONDS", "300".to_string()),
        ];
        let mut servers = Vec::new();
        for _ in 0..n {
            servers.push(start_server_with(&url, &env).await);
        }
        let first = &servers[0];
        let wf = setup_workflow(&client, first).await;
        // A subscriber on the last replica; breaches come through the first.
        let ws_url = servers[n - 1].base.replace("http", "ws") + "/graphql";
        let mut req = ws_url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        ws.send(Message::Text(
            json!({"type": "connection_init", "payload": {"token": first.token}})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m
                && t.contains("connection_ack")
            {
                break;
            }
        }
        ws.send(Message::Text(json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription { slaBreachEvents(filter: {severity: CRITICAL}) { kind } }"}}).to_string().into())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let executions = 150;
        let t0 = Instant::now();
        let mut lat = Vec::new();
        for i in 0..executions {
            let server = &servers[i % n];
            let e = gql(&client, server, "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id startedAt } } }", json!({"w": wf})).await;
            let started = chrono::DateTime::parse_from_rfc3339(
                e["startExecution"]["execution"]["startedAt"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            let sent_at = Instant::now();
            gql(&client, first, "mutation($e: ID!, $c: DateTime!) { completeExecution(input: {executionId: $e, status: COMPLETED, completedAt: $c}) { execution { id } } }",
                json!({"e": e["startExecution"]["execution"]["id"], "c": (started + chrono::Duration::seconds(90)).to_rfc3339()})).await;
            // The critical breach's DETECTED event, on the other replica.
            let got = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(Ok(m)) = ws.next().await {
                    if let Message::Text(t) = m
                        && t.contains("DETECTED")
                    {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            if got {
                lat.push(sent_at.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let breaches = executions * 2;
        let deadline = Instant::now() + Duration::from_secs(120);
        while sent.load(std::sync::atomic::Ordering::SeqCst) < breaches && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let emails = sent.load(std::sync::atomic::Ordering::SeqCst);
        lat.sort_by(f64::total_cmp);
        println!(
            "| {n} | {breaches} | {emails} | {secs:.2} s | {:.0} | {:.1} ms | {:.1} ms |",
            emails as f64 / secs,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        drop(servers);
        drop_pg_db(pg, &db);
    }
    println!(
        "\n(Latency is measured from sending `completeExecution` to one replica until a subscriber on another replica receives the breach; with one replica, both are the same process.)\n"
    );
}

/// What a breach list page costs as history grows: the same page of 20 CRITICAL breaches
/// (with `sla { name }` and `execution { id }`), without and with `totalCount`, over 200
/// breaches and over 100,200. Target: the page over 100,200 costs at most 1.5 times the page
/// over 200.
async fn history_pages(label: &str, url: &str) {
    let s = start_server(url).await;
    let client = reqwest::Client::new();
    let wf = setup_workflow(&client, &s).await;
    let import = |from: usize, n: usize| {
        let ids: Vec<String> = (from..from + n).map(|i| format!("h-{i}")).collect();
        let body = overrunning(&wf, &ids);
        let req = client
            .post(format!("{}/graphql", s.base))
            .bearer_auth(&s.token)
            .json(&body);
        async move {
            let v: Value = req.send().await.unwrap().json().await.unwrap();
            assert!(v.get("errors").is_none(), "{v}");
        }
    };
    // Two breaches (warning, critical) per overrunning execution.
    import(0, 100).await;
    let small = page_costs(&client, &s).await;
    for batch in 0..100 {
        import(100 + batch * 500, 500).await;
    }
    let mut large = page_costs(&client, &s).await;
    if url.starts_with("postgres") {
        // Where autovacuum is off (as on this bench machine) the planner still believes the
        // table is empty; report that, then ANALYZE as autovacuum would and measure again.
        report_pages(&format!("{label}, before ANALYZE"), small, large);
        analyze(url);
        large = page_costs(&client, &s).await;
    }
    report_pages(label, small, large);
}

/// SLO figures as history grows: `Sla.metrics` of a 30-day SLA, p50 over 1,000 executions
/// and over LOAD_SLO_EXECUTIONS (default 1,000,000) spread over the 30 days, and the
/// `/metrics` scrape (which recomputes every SLA's compliance) at both sizes. Targets: the p50
/// over 1,000,000 at most 1.5 times the p50 over 1,000; the scrape under 50 ms.
async fn slo_costs(label: &str, url: &str) {
    let s = start_server(url).await;
    let client = reqwest::Client::new();
    let wf = gql(
        &client,
        &s,
        "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { workflow { id } } }",
        json!({"i": {"name": "SLO", "steps": [{"name": "a", "action": "task"}]}}),
    )
    .await["createWorkflow"]["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sla = gql(
        &client,
        &s,
        "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
        json!({"i": {"workflowId": wf, "name": "Monthly", "targetDurationSeconds": 300, "warningThresholdSeconds": 320,
                     "criticalThresholdSeconds": 600, "sloWindowHours": 720}}),
    )
    .await["createSla"]["sla"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let total: usize = std::env::var("LOAD_SLO_EXECUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let now = chrono::Utc::now();
    let started = Instant::now();
    import_spread(&client, &s, &wf, now, 0, 1_000).await;
    let small = (
        metrics_costs(&client, &s, &sla).await,
        scrape_costs(&client, &s).await,
    );
    let mut from = 1_000;
    while from < total {
        let n = (total - from).min(10_000);
        import_spread(&client, &s, &wf, now, from, n).await;
        from += n;
        // PostgreSQL here runs without autovacuum: refresh the planner's statistics as it
        // would, or the import's dedupe query scans (600 executions a second).
        if url.starts_with("postgres") && (from < 60_000 || from % 100_000 == 1_000) {
            analyze(url);
        }
    }
    let imported = started.elapsed().as_secs_f64();
    if url.starts_with("postgres") {
        analyze(url);
    }
    let large = (
        metrics_costs(&client, &s, &sla).await,
        scrape_costs(&client, &s).await,
    );
    println!(
        "slo {label}: {total} executions imported in {imported:.0} s; Sla.metrics over 1,000 p50 {:.2} ms p99 {:.2} ms, over {total} p50 {:.2} ms p99 {:.2} ms: ratio of p50 {:.2} (target <= 1.5); /metrics scrape over 1,000 p50 {:.2} ms, over {total} p50 {:.2} ms max {:.2} ms (target < 50 ms); RSS {} MiB",
        small.0.0,
        small.0.1,
        large.0.0,
        large.0.1,
        large.0.0 / small.0.0,
        small.1.0,
        large.1.0,
        large.1.1,
        rss_kib(s.child.id()) / 1024
    );
    slo_with_backlog(label, url, &client, &s, &wf, &sla, large).await;
}

/// The same figures once LOAD_SLO_RUNNING executions (default 20,000) are left running past
/// the target (started 1 hour to 30 days ago), each a certain miss that `Sla.metrics` counts:
/// its cost should not grow with them either.
async fn slo_with_backlog(
    label: &str,
    url: &str,
    client: &reqwest::Client,
    s: &Server,
    wf: &str,
    sla: &str,
    before: ((f64, f64), (f64, f64)),
) {
    let n: usize = std::env::var("LOAD_SLO_RUNNING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let now = chrono::Utc::now();
    let execs: Vec<Value> = (0..n)
        .map(|i| {
            let back = (i as u64).wrapping_mul(2_654_435_761) % 2_588_000_000 + 3_600_000;
            let start = now - chrono::Duration::milliseconds(back as i64);
            json!({"workflowId": wf, "externalId": format!("run-{i}"), "status": "RUNNING",
                   "startedAt": start.to_rfc3339()})
        })
        .collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }";
    for chunk in execs.chunks(10_000) {
        gql(client, s, q, json!({"i": {"executions": chunk}})).await;
    }
    // The deadline watcher records their breaches (all deadlines passed): wait until it is done.
    let count = "{ slaBreaches(first: 1) { totalCount } }";
    let mut last = -1;
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let c = gql(client, s, count, json!({})).await["slaBreaches"]["totalCount"]
            .as_i64()
            .unwrap_or(0);
        if c == last {
            break;
        }
        last = c;
    }
    if url.starts_with("postgres") {
        analyze(url);
    }
    let (m, sc) = (
        metrics_costs(client, s, sla).await,
        scrape_costs(client, s).await,
    );
    println!(
        "slo {label}: and {n} running past the target: Sla.metrics p50 {:.2} ms p99 {:.2} ms: ratio of p50 to none running {:.2} (target <= 1.5); /metrics scrape p50 {:.2} ms max {:.2} ms; RSS {} MiB",
        m.0,
        m.1,
        m.0 / before.0.0,
        sc.0,
        sc.1,
        rss_kib(s.child.id()) / 1024
    );
}

/// `ANALYZE` on PostgreSQL at `url` (its planner's statistics, as autovacuum would keep them).
fn analyze(url: &str) {
    psql_ok(url, "ANALYZE");
}

/// Runs one statement with `psql` on PostgreSQL at `url`.
fn psql_ok(url: &str, sql: &str) {
    let ok = Command::new("psql").args([url, "-qc", sql]).status();
    assert!(ok.is_ok_and(|s| s.success()), "{sql} failed");
}

/// Imports executions `from .. from + n` of the SLO bench: completed at spread-out times over
/// the 30 days before `now`, taking 1 to 330 s (about 3 % over the warning threshold).
async fn import_spread(
    client: &reqwest::Client,
    s: &Server,
    wf: &str,
    now: chrono::DateTime<chrono::Utc>,
    from: usize,
    n: usize,
) {
    let execs: Vec<Value> = (from..from + n)
        .map(|i| {
            let back = (i as u64).wrapping_mul(2_654_435_761) % 2_590_000_000 + 60_000;
            let done = now - chrono::Duration::milliseconds(back as i64);
            let took = chrono::Duration::seconds((i as i64 * 7_919) % 330 + 1);
            json!({"workflowId": wf, "externalId": format!("slo-{i}"), "status": "COMPLETED",
                   "startedAt": (done - took).to_rfc3339(), "completedAt": done.to_rfc3339()})
        })
        .collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }";
    let d = gql(client, s, q, json!({"i": {"executions": execs}})).await;
    assert_eq!(d["importExecutions"]["imported"], n);
}

/// (p50, p99) in ms of `Sla.metrics` with burn rates, over 300 requests.
async fn metrics_costs(client: &reqwest::Client, s: &Server, sla: &str) -> (f64, f64) {
    let q = "query($id: ID!) { sla(id: $id) { metrics { total met compliancePercentage errorBudgetRemaining burnRate burnRates { longBurnRate shortBurnRate firing } } } }";
    let mut ms = Vec::new();
    for i in 0..320 {
        let t = Instant::now();
        gql(client, s, q, json!({"id": sla})).await;
        if i >= 20 {
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    ms.sort_by(f64::total_cmp);
    (pct(&ms, 0.5), pct(&ms, 0.99))
}

/// (p50, max) in ms of 6 `/metrics` scrapes, 5.2 s apart (the SLO gauges are recomputed at
/// most every 5 s, so each of these recomputes them).
async fn scrape_costs(client: &reqwest::Client, s: &Server) -> (f64, f64) {
    let mut ms = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(5_200)).await;
        let t = Instant::now();
        let body = client
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(body.contains("workflow_sla_percentage"), "{body}");
    }
    ms.sort_by(f64::total_cmp);
    (pct(&ms, 0.5), ms[ms.len() - 1])
}

/// `import-log`'s peak memory on logs that try to exhaust it: LOAD_IMPORT_CASES (default
/// 2,000,000) small cases; one trace of 3,000,000 events; one 512 MiB attribute (the last two
/// compressed to a few MB). Each runs the release binary on a new database; the peak is the
/// process's VmHWM, read every 20 ms. Target: under 300 MB for every input.
async fn import_memory(label: &str, url: impl Fn(&str) -> (String, Box<dyn FnOnce()>)) {
    let dir = std::env::temp_dir().join(format!("wi-import-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: usize = std::env::var("LOAD_IMPORT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let mapping = dir.join("m.toml");
    std::fs::write(
        &mapping,
        "workflow = \"Generated\"\n[case]\nid = \"concept:name\"\n[event]\nactivity = \"concept:name\"\ntimestamp = \"time:timestamp\"\n[[input]]\nattribute = \"amount\"\ntype = \"number\"\n",
    )
    .unwrap();
    let inputs = [
        (
            format!("{cases} cases"),
            "many.xes.gz",
            LogShape::Many(cases),
        ),
        (
            "one trace of 3,000,000 events".to_string(),
            "long.xes.gz",
            LogShape::Long(3_000_000),
        ),
        (
            "one 512 MiB attribute".to_string(),
            "wide.xes.gz",
            LogShape::Wide(512 << 20),
        ),
    ];
    for (what, file, shape) in inputs {
        let path = dir.join(file);
        write_log(&path, shape);
        let (db, cleanup) = url(file);
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_workflow-intel"))
            .args(["import-log"])
            .arg(&path)
            .arg("--mapping")
            .arg(&mapping)
            .args([
                "--company",
                "Acme",
                "--create-company",
                "--database-url",
                &db,
            ])
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut peak = 0u64;
        while child.try_wait().unwrap().is_none() {
            peak = peak.max(status_kib(pid, "VmHWM:"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(if out.status.success() {
            &out.stdout
        } else {
            &out.stderr
        });
        let last = said
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        println!(
            "import memory {label}: {what} ({:.1} MB on disk): peak RSS {} MiB (target < 300 MB), {:.0} s, exit {}: {}",
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
            peak / 1024,
            started.elapsed().as_secs_f64(),
            out.status.code().unwrap_or(-1),
            last.chars().take(200).collect::<String>()
        );
        let _ = std::fs::remove_file(&path);
        cleanup();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One line of /proc/<pid>/status, in KiB (0 once the process is gone).
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

enum LogShape {
    /// This many cases of three events each, with an amount.
    Many(usize),
    /// One case of this many events.
    Long(usize),
    /// One case with an attribute of this many bytes.
    Wide(usize),
}

/// Writes a generated `.xes.gz`, streaming.
fn write_log(path: &std::path::Path, shape: LogShape) {
    use std::io::Write;
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut z = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let event = |z: &mut flate2::write::GzEncoder<_>, i: usize| {
        let a = ["register", "check", "decide"][i % 3];
        write!(z, "<event><string key=\"concept:name\" value=\"{a}\"/><date key=\"time:timestamp\" value=\"2024-01-01T00:00:{:02}+00:00\"/></event>", i % 60).unwrap();
    };
    writeln!(
        z,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<log xes.version=\"1.0\">"
    )
    .unwrap();
    match shape {
        LogShape::Many(n) => {
            for c in 0..n {
                write!(z, "<trace><string key=\"concept:name\" value=\"case-{c}\"/><int key=\"amount\" value=\"{}\"/>", c % 5000).unwrap();
                for i in 0..3 {
                    event(&mut z, i);
                }
                writeln!(z, "</trace>").unwrap();
            }
        }
        LogShape::Long(n) => {
            write!(z, "<trace><string key=\"concept:name\" value=\"long\"/>").unwrap();
            for i in 0..n {
                event(&mut z, i);
            }
            writeln!(z, "</trace>").unwrap();
        }
        LogShape::Wide(n) => {
            write!(
                z,
                "<trace><string key=\"concept:name\" value=\"wide\"/><string key=\"note\" value=\""
            )
            .unwrap();
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..n / chunk.len() {
                z.write_all(&chunk).unwrap();
            }
            write!(z, "\"/>").unwrap();
            event(&mut z, 0);
            writeln!(z, "</trace>").unwrap();
        }
    }
    writeln!(z, "</log>").unwrap();
    z.finish().unwrap().flush().unwrap();
}

type Costs = ((f64, f64), (f64, f64));

fn report_pages(label: &str, small: Costs, large: Costs) {
    for (what, (s50, s99), (l50, l99)) in [
        ("page", small.0, large.0),
        ("page + totalCount", small.1, large.1),
    ] {
        println!(
            "history {label}: {what}: over 200 breaches p50 {s50:.2} ms p99 {s99:.2} ms; over 100,200 p50 {l50:.2} ms p99 {l99:.2} ms; ratio of p50 {:.2} (target <= 1.5 for the page)",
            l50 / s50
        );
    }
}

/// (p50, p99) in ms of the page without and with `totalCount`, over 300 requests each.
async fn page_costs(client: &reqwest::Client, s: &Server) -> Costs {
    const PAGE: &str = "{ slaBreaches(first: 20, filter: {severity: CRITICAL}) { edges { node { id sla { name } execution { id } } } } }";
    const COUNTED: &str = "{ slaBreaches(first: 20, filter: {severity: CRITICAL}) { totalCount edges { node { id sla { name } execution { id } } } } }";
    let mut out = Vec::new();
    for q in [PAGE, COUNTED] {
        for _ in 0..20 {
            gql(client, s, q, json!({})).await;
        }
        let mut ms = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            let d = gql(client, s, q, json!({})).await;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(d["slaBreaches"]["edges"].as_array().unwrap().len(), 20);
        }
        ms.sort_by(f64::total_cmp);
        out.push((pct(&ms, 0.5), pct(&ms, 0.99)));
    }
    (out[0], out[1])
}

/// The soak: 100 requests a second, open-loop, for LOAD_SOAK_MINUTES (default 30) with 200
/// open subscribers, while history grows (every start is backdated past its SLA, so it
/// breaches at once). Prints p50, p95 and p99 per minute, errors and RSS. Target: p95 in the
/// last minute within 1.5 times the first, with 0 errors.
async fn soak(label: &str, url: &str, minutes: u64) {
    let s = start_server(url).await;
    // Idle pooled connections are dropped before the server's 60 s keep-alive timeout, as a
    // client should: otherwise a request can go out on a connection the server is closing.
    let client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let wf = setup_workflow(&client, &s).await;
    let (ready, gate, stop) = (
        Arc::new(tokio::sync::Barrier::new(201)),
        Arc::new(tokio::sync::Semaphore::new(50)),
        Arc::new(tokio::sync::Notify::new()),
    );
    let subs: Vec<_> = (0..200)
        .map(|_| {
            let (b, t) = (s.base.clone(), s.token.clone());
            tokio::spawn(subscriber(
                b,
                t,
                SUBSCRIPTION,
                ready.clone(),
                gate.clone(),
                stop.clone(),
            ))
        })
        .collect();
    ready.wait().await;
    let mut first_p95 = f64::NAN;
    let soak = Soak {
        workflow: wf,
        turn: Default::default(),
        running: Default::default(),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for minute in 1..=minutes {
        let (samples, errors) = soak_minute(&client, &s, &soak, &mut tick).await;
        // LOAD_SOAK_ANALYZE=1: refresh the planner's statistics each minute, as autovacuum
        // would (this machine's PostgreSQL runs with autovacuum off); LOAD_SOAK_ANALYZE=vacuum:
        // `VACUUM (ANALYZE)` each minute, autovacuum's whole pass at its default one-minute
        // nap (it also clears the dead row versions every completion leaves).
        if url.starts_with("postgres") {
            match std::env::var("LOAD_SOAK_ANALYZE").as_deref() {
                Ok("1") => analyze(url),
                Ok("vacuum") => psql_ok(url, "VACUUM (ANALYZE)"),
                _ => {}
            }
        }
        let mut ms: Vec<f64> = samples.iter().map(|x| x.1).collect();
        ms.sort_by(f64::total_cmp);
        let p95 = pct(&ms, 0.95);
        if minute == 1 {
            first_p95 = p95;
        }
        println!(
            "soak {label}: minute {minute}: {} requests, p50 {:.2} ms, p95 {p95:.2} ms, p99 {:.2} ms, errors {errors}, RSS {} MiB, p95 / minute 1 = {:.2}",
            ms.len(),
            pct(&ms, 0.5),
            pct(&ms, 0.99),
            rss_kib(s.child.id()) / 1024,
            p95 / first_p95
        );
        println!("  p50/p95 by kind: {}", by_kind(&samples));
    }
    stop.notify_waiters();
    for h in subs {
        let _ = h.await;
    }
}

/// "start 1.20/3.10 ms, complete …": the p50 and p95 of each kind of request, to see which one
/// grows.
fn by_kind(samples: &[(&'static str, f64)]) -> String {
    let mut kinds: Vec<&str> = samples.iter().map(|x| x.0).collect();
    kinds.sort();
    kinds.dedup();
    let parts: Vec<String> = kinds
        .iter()
        .map(|k| {
            let mut v: Vec<f64> = samples.iter().filter(|x| x.0 == *k).map(|x| x.1).collect();
            v.sort_by(f64::total_cmp);
            format!("{k} {:.2}/{:.2} ms", pct(&v, 0.5), pct(&v, 0.95))
        })
        .collect();
    parts.join(", ")
}

/// One minute of the soak's requests, sent open-loop (one every 10 ms, whether or not the
/// earlier ones were answered, at most 64 in flight): each one's kind and latency (ms), and
/// how many failed.
async fn soak_minute(
    client: &reqwest::Client,
    s: &Server,
    soak: &Soak,
    tick: &mut tokio::time::Interval,
) -> (Vec<(&'static str, f64)>, usize) {
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        tick.tick().await;
        let i = soak.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let (client, base, token) = (client.clone(), s.base.clone(), s.token.clone());
        let (req, kind) = soak_request(soak, i);
        let running = soak.running.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let t = Instant::now();
            let ok = match req {
                Some(body) => soak_post(&client, &base, &token, &body, kind, &running).await,
                None => client
                    .get(format!("{base}/metrics"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
            };
            (kind, t.elapsed().as_secs_f64() * 1000.0, ok)
        });
    }
    let (mut ms, mut errors) = (Vec::new(), 0usize);
    while let Some(r) = tasks.join_next().await {
        let (kind, t, ok) = r.unwrap();
        ms.push((kind, t));
        errors += usize::from(!ok);
    }
    (ms, errors)
}

/// Posts one GraphQL request of the soak; a start's execution joins `running`.
async fn soak_post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Value,
    kind: &str,
    running: &std::sync::Mutex<std::collections::VecDeque<String>>,
) -> bool {
    let req = client.post(format!("{base}/graphql")).bearer_auth(token);
    let v: Result<Value, String> = match req.json(body).send().await {
        Ok(r) => r.json().await.map_err(|e| e.to_string()),
        Err(e) => Err(format!("{e:?}")),
    };
    match v {
        Ok(v) if v.get("errors").is_none() => {
            if kind == "start" {
                let id = &v["data"]["startExecution"]["execution"]["id"];
                let id = id.as_str().unwrap_or_default().to_string();
                running.lock().unwrap().push_back(id);
            }
            true
        }
        Ok(v) => {
            eprintln!("soak: {kind} answered with errors: {}", v["errors"]);
            false
        }
        Err(e) => {
            eprintln!("soak: {kind} failed: {e}");
            false
        }
    }
}

/// The soak's state shared by its requests.
struct Soak {
    workflow: String,
    turn: std::sync::atomic::AtomicUsize,
    running: Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

/// The soak's mix, by turn of 10: four starts (backdated 70 s: both thresholds already
/// passed), three completions, a page of CRITICAL breaches with `totalCount`, the lists a
/// dashboard reads, and the SLO tiles (`Sla.metrics` with burn rates); every 100th turn is a
/// `/metrics` scrape instead (None).
fn soak_request(soak: &Soak, i: usize) -> (Option<Value>, &'static str) {
    let started = (chrono::Utc::now() - chrono::Duration::seconds(70)).to_rfc3339();
    if i % 100 == 99 {
        return (None, "scrape");
    }
    let next = || soak.running.lock().unwrap().pop_front();
    match i % 10 {
        0..=3 => (
            Some(
                json!({"query": "mutation($i: StartExecutionInput!) { startExecution(input: $i) { execution { id } } }",
                "variables": {"i": {"workflowId": soak.workflow, "startedAt": started}}}),
            ),
            "start",
        ),
        4..=6 => match next() {
            Some(id) => (
                Some(
                    json!({"query": "mutation($i: CompleteExecutionInput!) { completeExecution(input: $i) { execution { id } } }",
                    "variables": {"i": {"executionId": id, "status": "COMPLETED"}}}),
                ),
                "complete",
            ),
            None => (Some(json!({"query": "{ __typename }"})), "trivial"),
        },
        7 => (
            Some(
                json!({"query": "{ slaBreaches(first: 20, filter: {severity: CRITICAL}) { totalCount edges { node { id sla { name } execution { id } } } } }"}),
            ),
            "breaches",
        ),
        8 => (
            Some(
                json!({"query": "{ executions(first: 20) { edges { node { id status } } } workflows { totalCount } }"}),
            ),
            "lists",
        ),
        _ => (
            Some(
                json!({"query": "{ slas(first: 10) { nodes { name metrics { total compliancePercentage errorBudgetRemaining burnRates { longBurnRate shortBurnRate firing } } } } }"}),
            ),
            "slo",
        ),
    }
}

/// Whether LOAD_PARTS (comma-separated; default all) names this part.
fn part(name: &str) -> bool {
    std::env::var("LOAD_PARTS").map_or(true, |p| p.split(',').any(|x| x.trim() == name))
}

fn main() {
    // A client process of the replica fleet (`fleet.rs`) runs only its subscribers, on one
    // thread: three such processes share the two cores with the replicas, and a work-stealing
    // pool in each would only add thread switches to what is measured.
    if fleet::is_client() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(fleet::client_main());
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let n: usize = std::env::var("LOAD_SUBSCRIBERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let m: usize = std::env::var("LOAD_EXECUTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let pg = std::env::var("LOAD_PG_URL").ok();
        if part("live") {
            live_scenarios(n).await;
        }
        if part("burst") {
            burst().await;
        }
        if part("http") {
            let (dir, url) = sqlite_url("http");
            http_ratios("SQLite", &url).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if part("throughput") {
            let (dir, url) = sqlite_url("tp");
            throughput("SQLite", &url, m, 16).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if part("slo") {
            let (dir, url) = sqlite_url("slo");
            slo_costs("SQLite", &url).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if part("imports") {
            import_memory("SQLite", |tag| {
                let (dir, url) = sqlite_url(tag);
                (url, Box::new(move || drop(std::fs::remove_dir_all(&dir))))
            })
            .await;
        }
        if part("history") {
            let (dir, url) = sqlite_url("history");
            history_pages("SQLite", &url).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        let minutes: u64 = std::env::var("LOAD_SOAK_MINUTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        if part("soak") {
            let (dir, url) = sqlite_url("soak");
            soak("SQLite", &url, minutes).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        let Some(pg) = pg else { return };
        pg_parts(&pg, n, m, minutes).await;
    });
}

/// The parts that run on PostgreSQL (`LOAD_PG_URL`), each in a fresh database.
async fn pg_parts(pg: &str, n: usize, m: usize, minutes: u64) {
    if part("pg-http") {
        let db = format!("wi_http_{}", std::process::id());
        if let Some(url) = create_pg_db(pg, &db) {
            http_ratios("PostgreSQL", &url).await;
            drop_pg_db(pg, &db);
        }
    }
    if part("pg-soak") {
        let db = format!("wi_soak_{}", std::process::id());
        if let Some(url) = create_pg_db(pg, &db) {
            soak("PostgreSQL", &url, minutes).await;
            drop_pg_db(pg, &db);
        }
    }
    if part("pg-slo") {
        let db = format!("wi_slo_{}", std::process::id());
        if let Some(url) = create_pg_db(pg, &db) {
            slo_costs("PostgreSQL", &url).await;
            // LOAD_PG_KEEP=1 keeps the database, to look at its plans afterwards.
            if std::env::var("LOAD_PG_KEEP").is_ok_and(|v| v == "1") {
                println!("kept {url}");
            } else {
                drop_pg_db(pg, &db);
            }
        }
    }
    if part("pg-imports") {
        import_memory("PostgreSQL", |tag| {
            let db = format!("wi_imp_{}_{}", tag.replace('.', "_"), std::process::id());
            let url = create_pg_db(pg, &db).expect("a PostgreSQL database");
            let pg = pg.to_string();
            (url, Box::new(move || drop_pg_db(&pg, &db)))
        })
        .await;
    }
    if part("pg-history") {
        let db = format!("wi_history_{}", std::process::id());
        if let Some(url) = create_pg_db(pg, &db) {
            history_pages("PostgreSQL", &url).await;
            drop_pg_db(pg, &db);
        }
    }
    if part("pg-live") {
        live_replicas(pg, n).await;
    }
    if part("pg-throughput") {
        let db = format!("wi_load_{}", std::process::id());
        if let Some(url) = create_pg_db(pg, &db) {
            let ours = throughput("PostgreSQL", &url, m, 16).await;
            ceiling::pg_ceiling(&url, m, ours);
            drop_pg_db(pg, &db);
        }
    }
    if part("replicas") {
        replicas(pg).await;
    }
    if part("pg-fleet") {
        fleet::fleet(pg).await;
    }
}

//! Load harness (run with `cargo bench --bench load`): starts the release server as its own
//! process and measures, on loopback only:
//! - N concurrent WebSocket subscribers (default 10,000; LOAD_SUBSCRIBERS) each receiving a
//!   breach: p50/p99 delivery latency and the server's RSS per idle subscriber;
//! - breach-recording throughput: executions completed per second, with SLA evaluation, over
//!   GraphQL (`completeExecution`, concurrent clients) and in bulk (`importExecutions`), on
//!   SQLite, and on PostgreSQL when LOAD_PG_URL names a server (a fresh database is created).
//!
//! Every loop is bounded in count and time; the harness stops the server when done.
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

async fn start_server(database_url: &str) -> Server {
    start_server_with(database_url, &[]).await
}

async fn start_server_with(database_url: &str, env: &[(&str, String)]) -> Server {
    let bin = env!("CARGO_BIN_EXE_workflow-intel");
    let out = Command::new(bin)
        .args([
            "token",
            "create",
            "--company",
            "Load",
            "--email",
            "load@bench.local",
            "--role",
            "admin",
            "--database-url",
            database_url,
        ])
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
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
    let v: Value = client
        .post(format!("{}/graphql", s.base))
        .bearer_auth(&s.token)
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
    let wf = gql(
        client,
        s,
        "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { workflow { id } } }",
        json!({"i": {"name": "Load", "steps": [{"name": "a", "action": "task"}]}}),
    )
    .await["createWorkflow"]["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql(
        client,
        s,
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

async fn subscribers(n: usize) {
    let dir = std::env::temp_dir().join(format!("wi-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/load.db?mode=rwc", dir.display());
    let s = start_server(&url).await;
    let client = reqwest::Client::new();
    let wf = setup_workflow(&client, &s).await;
    let exec = gql(&client, &s, "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id startedAt } } }", json!({"w": wf})).await;
    let exec_id = exec["startExecution"]["execution"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = exec["startExecution"]["execution"]["startedAt"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = s.child.id();
    let rss_before = rss_kib(pid);

    let ws_url = s.base.replace("http", "ws") + "/graphql";
    let ready = Arc::new(tokio::sync::Barrier::new(n + 1));
    let fire_at = Arc::new(tokio::sync::OnceCell::<Instant>::new());
    let mut tasks = Vec::with_capacity(n);
    let connect_start = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for _ in 0..n {
        let ws_url = ws_url.clone();
        let token = s.token.clone();
        let ready = ready.clone();
        let fire_at = fire_at.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut req = ws_url.into_client_request().unwrap();
            req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
            ws.send(Message::Text(json!({"type": "connection_init", "payload": {"token": token}}).to_string().into())).await.unwrap();
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m
                    && t.contains("connection_ack")
                {
                    break;
                }
            }
            ws.send(Message::Text(json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription { slaBreachEvents { kind breach { id severity } } }"}}).to_string().into())).await.unwrap();
            drop(permit);
            ready.wait().await;
            let got = tokio::time::timeout(Duration::from_secs(30), async {
                while let Some(Ok(m)) = ws.next().await {
                    if let Message::Text(t) = m
                        && t.contains("\"next\"")
                    {
                        return Some(Instant::now());
                    }
                }
                None
            })
            .await
            .ok()
            .flatten();
            let latency = got.and_then(|g| fire_at.get().map(|f| g.duration_since(*f).as_secs_f64() * 1000.0));
            // Stay connected until every subscriber is done.
            (latency, ws)
        }));
    }
    ready.wait().await;
    let connect_secs = connect_start.elapsed().as_secs_f64();
    // Let the server settle, then read its memory with every subscriber idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(pid);
    let completed_at =
        chrono::DateTime::parse_from_rfc3339(&started).unwrap() + chrono::Duration::seconds(90);
    fire_at.set(Instant::now()).unwrap();
    gql(&client, &s, "mutation($e: ID!, $c: DateTime!) { completeExecution(input: {executionId: $e, status: COMPLETED, completedAt: $c}) { execution { id } } }",
        json!({"e": exec_id, "c": completed_at.to_rfc3339()})).await;
    let mut lat = Vec::with_capacity(n);
    let mut sockets = Vec::with_capacity(n);
    for t in tasks {
        let (l, ws) = t.await.unwrap();
        if let Some(l) = l {
            lat.push(l);
        }
        sockets.push(ws);
    }
    let rss_peak = rss_kib(pid);
    drop(sockets);
    lat.sort_by(f64::total_cmp);
    let per_sub = (rss_idle.saturating_sub(rss_before)) as f64 * 1024.0 / n as f64;
    println!("## {n} WebSocket subscribers, one breach each (SQLite)\n");
    println!("| measure | value |\n|---|---|");
    println!("| subscribers connected and subscribed | {n} in {connect_secs:.1} s |");
    println!("| received the breach | {} of {n} |", lat.len());
    println!("| delivery latency p50 | {:.1} ms |", pct(&lat, 0.5));
    println!("| delivery latency p99 | {:.1} ms |", pct(&lat, 0.99));
    println!("| delivery latency max | {:.1} ms |", pct(&lat, 1.0));
    println!(
        "| server RSS before subscribers | {:.1} MiB |",
        rss_before as f64 / 1024.0
    );
    println!(
        "| server RSS with all subscribers idle | {:.1} MiB |",
        rss_idle as f64 / 1024.0
    );
    println!(
        "| server RSS after delivery | {:.1} MiB |",
        rss_peak as f64 / 1024.0
    );
    println!(
        "| memory per idle subscriber | {:.1} KB |\n",
        per_sub / 1000.0
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn throughput(label: &str, url: &str, n: usize, concurrency: usize) {
    let s = start_server(url).await;
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
    let queue = Arc::new(tokio::sync::Mutex::new(
        ids.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let t = Instant::now();
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
                if r.is_ok() {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap();
    }
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
    println!("## Breach-recording throughput ({label})\n");
    println!(
        "| path | executions | time | per second | breaches recorded |\n|---|---|---|---|---|"
    );
    println!(
        "| `completeExecution` over HTTP, {concurrency} concurrent clients | {done} | {secs:.2} s | {:.0} | {breaches} |",
        done as f64 / secs
    );
    println!(
        "| `importExecutions`, 10,000 per call | {n} | {bulk_secs:.2} s | {:.0} | {} |\n",
        n as f64 / bulk_secs,
        n
    );
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
        let admin = format!("{pg}/postgres");
        if !Command::new("psql")
            .args([&admin, "-qc", &format!("CREATE DATABASE {db}")])
            .status()
            .is_ok_and(|s| s.success())
        {
            return;
        }
        let url = format!("{pg}/{db}");
        let (smtp_port, sent) = smtp_sink();
        let env = [
            ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
            ("SLA_ALERTS_ENABLED", "true".to_string()),
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
        let _ = Command::new("psql")
            .args([&admin, "-qc", &format!("DROP DATABASE {db} WITH (FORCE)")])
            .status();
    }
    println!(
        "\n(Latency is measured from sending `completeExecution` to one replica until a subscriber on another replica receives the breach; with one replica, both are the same process.)\n"
    );
}

fn main() {
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
        if n > 0 {
            subscribers(n).await;
        }
        if m == 0 {
            if let Ok(pg) = std::env::var("LOAD_PG_URL") {
                replicas(&pg).await;
            }
            return;
        }
        let dir = std::env::temp_dir().join(format!("wi-tp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        throughput(
            "SQLite",
            &format!("sqlite://{}/tp.db?mode=rwc", dir.display()),
            m,
            16,
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        if let Ok(pg) = std::env::var("LOAD_PG_URL") {
            let db = format!("wi_load_{}", std::process::id());
            let admin = format!("{pg}/postgres");
            let ok = Command::new("psql")
                .args([&admin, "-qc", &format!("CREATE DATABASE {db}")])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                throughput("PostgreSQL", &format!("{pg}/{db}"), m, 16).await;
                let _ = Command::new("psql")
                    .args([&admin, "-qc", &format!("DROP DATABASE {db} WITH (FORCE)")])
                    .status();
            }
            replicas(&pg).await;
        }
    });
}

//! Subscribers across replicas (`LOAD_PARTS=pg-fleet`): three replicas on one PostgreSQL,
//! each with its own client process holding its share of the subscribers (one process could
//! not hold 45,000 sockets under the open-files limit), and one overrunning import a second
//! through the replicas in turn.
//!
//! Latency runs from sending the import to each client's receipt of its event, both read from
//! the wall clock (one machine, one clock): the parent sends every send time to the client
//! processes when the events stop, and each computes its own replica's figures.
use super::*;
use std::collections::HashMap;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Set in a client process: the replica's base URL.
const CLIENT_BASE: &str = "LOAD_FLEET_BASE";
const CLIENT_TOKEN: &str = "LOAD_FLEET_TOKEN";
const CLIENT_N: &str = "LOAD_FLEET_N";
const REPLICAS: usize = 3;
const SECONDS: u64 = 60;

fn unix_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

/// What one subscriber of a client process saw.
#[derive(Default)]
struct Receipts {
    /// externalId and arrival (unix ns).
    events: Vec<(String, i128)>,
    lagged: usize,
    /// The close code when the server closed the connection.
    closed: Option<u16>,
    /// The connection or its acknowledgement failed.
    failed: bool,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection, initialised and acknowledged; None when the connection
/// fails or closes before its acknowledgement (as at the connection-init timeout, 4408).
async fn try_connect(base: &str, token: &str) -> Option<Ws> {
    let mut req = (base.replace("http", "ws") + "/graphql")
        .into_client_request()
        .ok()?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let mut ws = tokio_tungstenite::connect_async_with_config(req, Some(client_config()), false)
        .await
        .ok()?
        .0;
    let init = json!({"type": "connection_init", "payload": {"token": token}});
    ws.send(Message::Text(init.to_string().into())).await.ok()?;
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Text(t) if t.contains("connection_ack") => return Some(ws),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

/// One subscriber that never panics: connects, subscribes, reports readiness, and records
/// what arrives until `stop`.
async fn subscriber(
    base: String,
    token: String,
    gate: Arc<tokio::sync::Semaphore>,
    ready: tokio::sync::mpsc::Sender<bool>,
    stop: Arc<tokio::sync::Notify>,
) -> Receipts {
    let mut r = Receipts::default();
    let permit = gate.acquire_owned().await.unwrap();
    let connected = tokio::time::timeout(Duration::from_secs(60), try_connect(&base, &token)).await;
    let Ok(Some(mut ws)) = connected else {
        r.failed = true;
        let _ = ready.send(false).await;
        return r;
    };
    let sub = json!({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION}});
    let sent = ws.send(Message::Text(sub.to_string().into())).await.is_ok();
    drop(permit);
    let _ = ready.send(sent).await;
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if t.contains("LAGGED") {
                        r.lagged += 1;
                    } else if let Some(id) = external_id(&t) {
                        r.events.push((id, unix_ns()));
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    r.closed = Some(f.map_or(1005, |f| f.code.into()));
                    break;
                }
                Some(Ok(_)) => {}
                _ => {
                    r.closed.get_or_insert(1006);
                    break;
                }
            },
        }
    }
    r
}

/// Whether this process is a client process of the fleet.
pub fn is_client() -> bool {
    std::env::var(CLIENT_BASE).is_ok()
}

/// The client process: `LOAD_FLEET_N` subscribers on one replica. Prints `ready <ok>
/// <failed>` when every one has subscribed (or failed), then reads `sent <id> <unix ns>`
/// lines until `stop`, and prints one `result` line with its replica's figures.
pub async fn client_main() {
    let base = std::env::var(CLIENT_BASE).unwrap();
    let token = std::env::var(CLIENT_TOKEN).unwrap();
    let n: usize = std::env::var(CLIENT_N).unwrap().parse().unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let stop = Arc::new(tokio::sync::Notify::new());
    let (tx, mut rx) = tokio::sync::mpsc::channel(n);
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let f = subscriber(
                base.clone(),
                token.clone(),
                gate.clone(),
                tx.clone(),
                stop.clone(),
            );
            tokio::spawn(f)
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    while ok + failed < n {
        match rx.recv().await {
            Some(true) => ok += 1,
            _ => failed += 1,
        }
    }
    println!("ready {ok} {failed}");
    // Stdin is read on a blocking thread (tokio's is not built into this harness).
    let sent = tokio::task::spawn_blocking(|| {
        let mut sent: HashMap<String, i128> = HashMap::new();
        for l in std::io::stdin().lines() {
            let Ok(l) = l else { break };
            let mut w = l.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some("sent"), Some(id), Some(at)) => {
                    sent.insert(id.to_string(), at.parse().unwrap());
                }
                _ => break,
            }
        }
        sent
    })
    .await
    .unwrap();
    stop.notify_waiters();
    let mut seen = Vec::with_capacity(n);
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    println!("{}", summary(&seen, &sent));
}

/// `result <subscribers> <failed> <closed> <close codes> <receipts> <lost> <lagged> <p50> <p99>
/// <max>` (milliseconds).
fn summary(seen: &[Receipts], sent: &HashMap<String, i128>) -> String {
    let mut lat = Vec::new();
    let (mut lost, mut lagged) = (0usize, 0usize);
    let mut codes: std::collections::BTreeMap<u16, usize> = Default::default();
    for r in seen {
        lagged += r.lagged;
        if let Some(c) = r.closed {
            *codes.entry(c).or_default() += 1;
        }
        let mut unique = std::collections::HashSet::new();
        for (id, at) in &r.events {
            if let Some(s) = sent.get(id)
                && unique.insert(id)
            {
                lat.push((at - s) as f64 / 1e6);
            }
        }
        lost += sent.len() - unique.len();
    }
    lat.sort_by(f64::total_cmp);
    let failed = seen.iter().filter(|r| r.failed).count();
    let codes = if codes.is_empty() {
        "-".to_string()
    } else {
        let c: Vec<String> = codes.iter().map(|(c, n)| format!("{n}x{c}")).collect();
        c.join(",")
    };
    let closed = seen.iter().filter(|r| r.closed.is_some()).count();
    format!(
        "result {} {failed} {closed} {codes} {} {lost} {lagged} {:.0} {:.0} {:.0}",
        seen.len(),
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    )
}

/// A client process for one replica, started and waited on until it reports ready.
struct ClientProcess {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    ready: String,
}

async fn spawn_client(base: &str, token: &str, n: usize) -> ClientProcess {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("--bench")
        .env(CLIENT_BASE, base)
        .env(CLIENT_TOKEN, token)
        .env(CLIENT_N, n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("a client process");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    ClientProcess {
        child,
        lines,
        ready: String::new(),
    }
}

/// CPU seconds of every PostgreSQL process (the server and its backends).
fn postgres_cpu() -> f64 {
    let out = Command::new("pgrep").arg("-x").arg("postgres").output();
    let pids = out.map(|o| String::from_utf8_lossy(&o.stdout).to_string());
    pids.unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(cpu_secs)
        .sum()
}

/// Connections to `db` right now, from `pg_stat_activity`.
fn pg_connections(pg: &str, db: &str) -> String {
    let q = format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}'");
    let out = Command::new("psql")
        .args([&format!("{pg}/postgres"), "-tAc", &q])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// One import a second for SECONDS, through the replicas in turn. Returns each externalId's
/// send time (unix ns) and each call's latency in ms (None: failed or unanswered).
async fn produce(servers: &[Server], co: &Company) -> (Vec<(String, i128)>, Vec<Option<f64>>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (mut sent, mut calls) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for tick in 0..SECONDS {
        tokio::time::sleep_until((start + Duration::from_secs(tick)).into()).await;
        let id = format!("f{tick}-{}", std::process::id());
        let body = overrunning(&co.workflow, std::slice::from_ref(&id));
        let url = format!("{}/graphql", servers[tick as usize % servers.len()].base);
        sent.push((id, unix_ns()));
        calls.push(timed_post(&client, url, &co.token, body));
    }
    (sent, latencies(calls).await)
}

/// One run: REPLICAS replicas, `per` subscribers on each.
async fn run(pg: &str, per: usize) {
    let db = format!("wi_fleet_{}_{per}", std::process::id());
    let Some(url) = create_pg_db(pg, &db) else {
        return;
    };
    let mut servers = Vec::new();
    for _ in 0..REPLICAS {
        servers.push(start_server(&url).await);
    }
    let client = reqwest::Client::new();
    let co = company(&client, &url, &servers[0], "Fleet").await;
    let connect_start = Instant::now();
    let mut clients = Vec::new();
    for s in &servers {
        clients.push(spawn_client(&s.base, &co.token, per).await);
    }
    for c in &mut clients {
        c.ready = c.lines.next_line().await.ok().flatten().unwrap_or_default();
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let client_pids: Vec<u32> = clients.iter().filter_map(|c| c.child.id()).collect();
    let clients_cpu0: f64 = client_pids.iter().map(|p| cpu_secs(*p)).sum();
    let conns_idle = pg_connections(pg, &db);
    let (cpu0, pg0, t0) = (
        pids.iter().map(|p| cpu_secs(*p)).collect::<Vec<_>>(),
        postgres_cpu(),
        Instant::now(),
    );
    let (sent, calls) = produce(&servers, &co).await;
    let conns_busy = pg_connections(pg, &db);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu: Vec<f64> = pids
        .iter()
        .zip(&cpu0)
        .map(|(p, c)| (cpu_secs(*p) - c) / secs * 100.0)
        .collect();
    let pg_cpu = (postgres_cpu() - pg0) / secs * 100.0;
    let clients_cpu =
        (client_pids.iter().map(|p| cpu_secs(*p)).sum::<f64>() - clients_cpu0) / secs * 100.0;
    let mut text = String::new();
    for (id, at) in &sent {
        text.push_str(&format!("sent {id} {at}\n"));
    }
    text.push_str("stop\n");
    let mut results = Vec::new();
    for c in &mut clients {
        let mut stdin = c.child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
        drop(stdin);
    }
    for c in &mut clients {
        let line = c.lines.next_line().await.ok().flatten().unwrap_or_default();
        results.push(line);
        let _ = c.child.wait().await;
    }
    report(per, &clients, &results, &calls, &cpu, connect_secs);
    println!(
        "\nPostgreSQL: {conns_idle} connections to the database with the subscribers idle, {conns_busy} at the end of the events; its processes' CPU over the events: {pg_cpu:.0} % of one core. The {REPLICAS} client processes: {clients_cpu:.0} % of one core.\n"
    );
    drop(servers);
    drop_pg_db(pg, &db);
}

fn report(
    per: usize,
    clients: &[ClientProcess],
    results: &[String],
    calls: &[Option<f64>],
    cpu: &[f64],
    connect_secs: f64,
) {
    let mut mlat: Vec<f64> = calls.iter().flatten().copied().collect();
    mlat.sort_by(f64::total_cmp);
    println!(
        "### {REPLICAS} replicas x {per} subscribers ({} in all), one import a second through the replicas in turn for {SECONDS} s\n",
        REPLICAS * per
    );
    println!(
        "All subscribed after {connect_secs:.1} s. Imports answered: {} of {} (p50 {:.1} ms, p99 {:.1} ms).\n",
        mlat.len(),
        calls.len(),
        pct(&mlat, 0.5),
        pct(&mlat, 0.99)
    );
    println!(
        "| replica | subscribed | failed to subscribe | closed by the server (codes) | receipts | lost | LAGGED | p50 | p99 | max | replica CPU |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (i, (c, r)) in clients.iter().zip(results).enumerate() {
        let ready: Vec<&str> = c.ready.split_whitespace().collect();
        let f: Vec<&str> = r.split_whitespace().collect();
        if f.len() < 11 || ready.len() < 3 {
            println!(
                "| {} | (the client process answered {:?} / {:?}) ||||||||||",
                i + 1,
                c.ready,
                r
            );
            continue;
        }
        println!(
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} ms | {} ms | {} ms | {:.0} % |",
            i + 1,
            ready[1],
            ready[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7],
            f[8],
            f[9],
            f[10],
            cpu[i]
        );
    }
}

/// The runs of `LOAD_FLEET` (subscribers per replica, comma-separated; default 5000,15000).
pub async fn fleet(pg: &str) {
    let sizes = std::env::var("LOAD_FLEET").unwrap_or_else(|_| "5000,15000".into());
    println!("## Subscribers across {REPLICAS} PostgreSQL replicas\n");
    for per in sizes.split(',').filter_map(|s| s.trim().parse().ok()) {
        run(pg, per).await;
    }
}

//! Clients that try to hold the server: connections that trickle their headers or a body, or
//! stay open saying nothing. Run on the real binary with a low open-files limit.
use crate::cli::CliDb;
use crate::support::free_port;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server under a cap of 150 connections and 256 open files, with short waits.
struct Held {
    child: std::process::Child,
    base: String,
    _db: CliDb,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn held_server() -> Held {
    let db = CliDb::new().await;
    let port = free_port();
    let env = [
        ("HTTP_MAX_CONNECTIONS", "150"),
        ("HTTP_HEADER_TIMEOUT_SECONDS", "2"),
        ("HTTP_BODY_TIMEOUT_SECONDS", "2"),
        ("HTTP_IDLE_TIMEOUT_SECONDS", "3"),
    ];
    let bind = format!("127.0.0.1:{port}");
    let child = db.spawn_limited(&["serve", "--bind", &bind], &env, 256);
    let base = format!("http://{bind}");
    let held = Held {
        child,
        base,
        _db: db,
    };
    for _ in 0..300 {
        if reqwest::get(format!("{}/healthz", held.base))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not answer on {bind}");
}

/// A connection that sends a request line and then one header line every 300 ms, never
/// finishing its head. Returns once connected; the task ends when the server closes it.
async fn trickler(addr: &str) -> Option<tokio::task::JoinHandle<()>> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .ok()?;
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return;
            }
        }
    }))
}

/// The value of one series of the scrape, 0 when absent.
fn series(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn trickling_connections_over_the_cap_do_not_lock_out_a_normal_client() {
    let held = held_server().await;
    let addr = held.base.trim_start_matches("http://").to_string();
    // More trickling connections than the cap, and near the open-files limit.
    let mut tasks = Vec::new();
    for _ in 0..220 {
        if let Some(t) = trickler(&addr).await {
            tasks.push(t);
        }
    }
    assert!(tasks.len() >= 150, "only {} connected", tasks.len());
    let client = reqwest::Client::new();
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(1),
        client
            .post(format!("{}/graphql", held.base))
            .json(&json!({"query": "{ __typename }"}))
            .send(),
    )
    .await
    .expect("a normal client was answered within a second")
    .expect("a response");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    eprintln!(
        "answered in {:?} beside 220 trickling connections",
        started.elapsed()
    );
    // The tricklers are closed once their heads are overdue (2 s from the first byte).
    let deadline = Instant::now() + Duration::from_secs(15);
    while tasks.iter().any(|t| !t.is_finished()) {
        assert!(
            Instant::now() < deadline,
            "{} trickling connections still open after 15 s",
            tasks.iter().filter(|t| !t.is_finished()).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let m = client
        .get(format!("{}/metrics", held.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let closed = "workflow_intel_http_connections_closed_total";
    let shed = series(&m, &format!("{closed}{{reason=\"shed\"}}"));
    let late = series(&m, &format!("{closed}{{reason=\"header_timeout\"}}"));
    assert!(shed >= 1.0, "none shed at the cap:\n{m}");
    assert!(late >= 1.0, "none closed for a late head:\n{m}");
    assert!(
        shed + late >= 220.0 - 150.0 + 1.0,
        "shed {shed}, late {late}"
    );
}

#[tokio::test]
async fn a_trickled_body_gets_408_and_an_idle_connection_is_closed() {
    let held = held_server().await;
    let addr = held.base.trim_start_matches("http://").to_string();
    // A body promised at 1,000 bytes, of which 10 come.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut answer))
        .await
        .expect("the server answers and closes")
        .ok();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // A kept-alive connection: one request answered, then silence past the idle wait.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("the idle connection is closed");
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "closed after {:?}, before the idle wait of 3 s",
        started.elapsed()
    );
}

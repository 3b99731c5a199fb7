//! Several real server processes on one PostgreSQL database (TEST_DATABASE_URL), plus the
//! SQLite single-process guard. The PostgreSQL tests skip with a notice without it.
use crate::sla::eventually;
use crate::smtp::SmtpServer;
use crate::support::{TempDatabase, Ws};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_workflow-intel");

fn pg_base() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "NOTICE: replica test skipped: set TEST_DATABASE_URL to run it on PostgreSQL"
            );
            None
        }
    }
}

fn token(url: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "token",
            "create",
            "--company",
            "Acme",
            "--create-company",
            "--email",
            "ops@acme.io",
            "--role",
            "admin",
            "--database-url",
            url,
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Replica {
    child: Child,
    base: String,
}

impl Replica {
    async fn start(url: &str, env: &[(&str, String)]) -> Replica {
        let port = crate::smtp::free_port();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            url,
        ])
        .env("RUST_LOG", "warn")
        .env("POLL_INTERVAL_MS", "200")
        .env("OUTBOX_LEASE_SECONDS", "4")
        // Room for a conversation on a loaded test machine; still shorter than the lease.
        .env("SMTP_TIMEOUT_SECONDS", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let r = Replica {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !client
            .get(format!("{}/readyz", r.base))
            .send()
            .await
            .is_ok_and(|x| x.status().is_success())
        {
            assert!(Instant::now() < deadline, "replica did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        r
    }

    /// SIGKILL: no shutdown, no cleanup.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn gql(&self, token: &str, query: &str, vars: Value) -> Value {
        crate::support::post_data(&self.base, token, query, vars).await
    }

    async fn owns_clock(&self) -> bool {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .any(|l| l == "workflow_intel_sla_clock_owner 1")
    }

    /// Subscribed to the breach stream on this replica; `connection_init` carries the
    /// token in the `{"token": …}` form.
    async fn subscribe(&self, token: &str) -> Ws {
        let url = format!("{}/graphql", self.base.replace("http", "ws"));
        let mut ws = Ws::connect_url(&url, "graphql-transport-ws").await;
        ws.init(json!({"token": token})).await;
        let q = "subscription { slaBreachEvents { kind sequence breach { id severity } } }";
        ws.subscribe("1", q, json!({})).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        ws
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A workflow with a 5 s SLA (warning 3 s, critical 5 s); returns its id.
async fn workflow_with_sla(r: &Replica, token: &str) -> String {
    let wf = r
        .gql(
            token,
            "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { workflow { id } } }",
            json!({"i": {"name": "Replicated", "steps": [{"name": "a", "action": "task"}]}}),
        )
        .await["createWorkflow"]["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.gql(token, "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
          json!({"i": {"workflowId": wf, "name": "Five seconds", "targetDurationSeconds": 5, "warningThresholdSeconds": 3, "criticalThresholdSeconds": 5}}))
        .await;
    wf
}

/// Two replicas on a fresh PostgreSQL database, with an admin token of its company and a
/// workflow with a 5 s SLA (created through the first); None, with a notice, without
/// TEST_DATABASE_URL. The database is dropped with `db`.
struct Pair {
    db: TempDatabase,
    url: String,
    t: String,
    r1: Replica,
    r2: Replica,
    wf: String,
}

async fn pair(env: &[(&str, String)]) -> Option<Pair> {
    let base = pg_base()?;
    let db = TempDatabase::create(&base).await;
    let url = db.url.clone();
    let t = token(&url);
    let r1 = Replica::start(&url, env).await;
    let r2 = Replica::start(&url, env).await;
    let wf = workflow_with_sla(&r1, &t).await;
    Some(Pair {
        db,
        url,
        t,
        r1,
        r2,
        wf,
    })
}

/// Starts an execution and completes it 10 s long (two breaches at once).
async fn overrun(r: &Replica, token: &str, wf: &str, key: &str) {
    let e = r
        .gql(token, "mutation($w: ID!, $x: String) { startExecution(input: {workflowId: $w, externalId: $x}) { execution { id startedAt } } }", json!({"w": wf, "x": key}))
        .await;
    let started = chrono::DateTime::parse_from_rfc3339(
        e["startExecution"]["execution"]["startedAt"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    r.gql(token, "mutation($e: ID!, $c: DateTime!) { completeExecution(input: {executionId: $e, status: COMPLETED, completedAt: $c}) { execution { id } } }",
          json!({"e": e["startExecution"]["execution"]["id"], "c": (started + chrono::Duration::seconds(10)).to_rfc3339()}))
        .await;
}

/// The breach events that arrive within `within`.
async fn events(ws: &mut Ws, within: Duration) -> Vec<Value> {
    let end = tokio::time::Instant::now() + within;
    let mut out = Vec::new();
    while let Some(p) = ws.next_payload(end - tokio::time::Instant::now()).await {
        out.push(p["data"]["slaBreachEvents"].clone());
    }
    out
}

#[tokio::test]
async fn a_breach_on_one_replica_reaches_another_replicas_subscribers_once() {
    let Some(Pair {
        db: _db,
        t,
        r1,
        r2,
        wf,
        ..
    }) = pair(&[]).await
    else {
        return;
    };
    let mut ws = r2.subscribe(&t).await;
    let sent = Instant::now();
    overrun(&r1, &t, &wf, "x-1").await;
    let got = events(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(
        got.len(),
        2,
        "both breaches within 1 s of the commit: {got:?} after {:?}",
        sent.elapsed()
    );
    let more = events(&mut ws, Duration::from_millis(1500)).await;
    assert!(more.is_empty(), "each event exactly once: {more:?}");
    // Acknowledgements travel the same way.
    let id = got[0]["breach"]["id"].as_str().unwrap();
    r1.gql(
        &t,
        "mutation($id: ID!) { acknowledgeBreach(input: {id: $id}) { breach { id } } }",
        json!({"id": id}),
    )
    .await;
    let acks = events(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["kind"], "ACKNOWLEDGED");
}

#[tokio::test]
async fn two_hundred_alerts_are_sent_exactly_once_while_a_replica_is_killed() {
    let smtp = SmtpServer::start();
    let env = [("SMTP_URL", smtp.url())];
    let Some(Pair {
        db: _db,
        url,
        t,
        r1,
        mut r2,
        wf,
    }) = pair(&env).await
    else {
        return;
    };
    for i in 0..100 {
        if i == 49 {
            // Replica 2 records this execution's breaches and starts mailing them; the mail
            // server is slow to accept, so replica 2 dies holding claims it has not sent.
            smtp.stall(Duration::from_millis(1500));
        }
        let r = if i % 2 == 0 { &r1 } else { &r2 };
        overrun(r, &t, &wf, &format!("m-{i}")).await;
        if i == 49 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            r2.kill();
            smtp.stall(Duration::ZERO);
            r2 = Replica::start(&url, &env).await;
        }
    }
    eventually("200 alert emails", || async { smtp.mails().len() >= 200 }).await;
    tokio::time::sleep(Duration::from_secs(5)).await; // past a lease: nothing more may arrive
    let mails = smtp.mails();
    let ids: std::collections::HashSet<String> = mails
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!(mails.len(), 200, "exactly one email per breach");
    assert_eq!(ids.len(), 200);
}

/// Waits (at most 10 s) until one of the two replicas owns the clock.
async fn until_one_owns_the_clock(r1: &Replica, r2: &Replica) {
    let start = Instant::now();
    while !(r1.owns_clock().await || r2.owns_clock().await) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nobody took the clock"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_clock_moves_to_another_replica_when_its_owner_dies() {
    let Some(Pair {
        db: _db,
        t,
        mut r1,
        mut r2,
        wf,
        ..
    }) = pair(&[]).await
    else {
        return;
    };
    until_one_owns_the_clock(&r1, &r2).await;
    assert!(
        !(r1.owns_clock().await && r2.owns_clock().await),
        "one owner at a time"
    );
    for i in 0..5 {
        r2.gql(&t, "mutation($w: ID!, $x: String) { startExecution(input: {workflowId: $w, externalId: $x}) { execution { id } } }", json!({"w": wf, "x": format!("c-{i}")})).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Kill the owner before the 3 s and 5 s thresholds pass.
    let (owner, survivor) = if r1.owns_clock().await {
        (&mut r1, &r2)
    } else {
        (&mut r2, &r1)
    };
    owner.kill();
    let breaches = || async {
        survivor
            .gql(&t, "{ slaBreaches { totalCount } }", json!({}))
            .await["slaBreaches"]["totalCount"]
            .as_i64()
            .unwrap()
    };
    eventually("10 live breaches recorded by the new owner", || async {
        breaches().await >= 10
    })
    .await;
    assert!(survivor.owns_clock().await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(breaches().await, 10, "once each");
}

/// The sessions of the database whose last statement tried the clock's lock and that do not
/// hold it (the owner's session holds it).
async fn standby_lock_sessions(db: &sea_orm::DatabaseConnection) -> Vec<i32> {
    use sea_orm::{ConnectionTrait, Statement};
    let q = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND query LIKE '%pg_try_advisory_lock%' \
             AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted) \
             ORDER BY pid";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), q))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get("", "pid").unwrap()).collect()
}

/// A standby tries the clock's lock twice a second. It must do so on one session of its own:
/// taking a pool connection for each try and closing it emptied the pool of idle
/// connections, so every event cost the standby's subscribers new connections (100 to
/// 300 ms).
#[tokio::test]
async fn a_standby_replica_tries_the_clock_on_one_session() {
    let Some(Pair {
        db: _db,
        url,
        r1,
        r2,
        ..
    }) = pair(&[]).await
    else {
        return;
    };
    until_one_owns_the_clock(&r1, &r2).await;
    let db = workflow_intel::db::connect(&url, None).await.unwrap();
    // The standby has tried at least once.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let first = standby_lock_sessions(&db).await;
    assert_eq!(first.len(), 1, "one standby session: {first:?}");
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            standby_lock_sessions(&db).await,
            first,
            "the standby's tries stay on the same session"
        );
    }
    db.close().await.ok();
}

#[tokio::test]
async fn events_committed_while_listen_is_down_are_still_delivered() {
    let Some(Pair {
        db: _db,
        url,
        t,
        r1,
        r2,
        wf,
    }) = pair(&[]).await
    else {
        return;
    };
    let mut ws = r2.subscribe(&t).await;
    // Drop every LISTEN connection of this database, then commit breaches during the gap.
    let admin = workflow_intel::db::connect(&url, None).await.unwrap();
    let db = url.rsplit('/').next().unwrap();
    use sea_orm::ConnectionTrait;
    let res = admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND query ILIKE 'LISTEN%'"
        ))
        .await
        .unwrap();
    assert!(res.rows_affected() >= 2, "both replicas were listening");
    overrun(&r1, &t, &wf, "gap-1").await;
    let got = events(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let seqs: std::collections::HashSet<i64> = got
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 2, "no duplicates");
}

/// The replica that owns the deadline watcher, and another.
async fn owner_and_other<'a>(r1: &'a Replica, r2: &'a Replica) -> (&'a Replica, &'a Replica) {
    let start = Instant::now();
    loop {
        match (r1.owns_clock().await, r2.owns_clock().await) {
            (true, false) => return (r1, r2),
            (false, true) => return (r2, r1),
            _ => assert!(start.elapsed() < Duration::from_secs(10), "no single owner"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_resume_on_another_replica_moves_the_owners_deadlines_by_the_pause() {
    let Some(Pair {
        db: _db,
        t,
        r1,
        r2,
        wf,
        ..
    }) = pair(&[]).await
    else {
        return;
    };
    let (owner, other) = owner_and_other(&r1, &r2).await;
    // Started, paused and resumed on the replica that does not own the watcher.
    let e = other
        .gql(
            &t,
            "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id } } }",
            json!({"w": wf}),
        )
        .await["startExecution"]["execution"]["id"]
        .clone();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pause =
        "mutation($e: ID!) { pauseExecutionSla(input: {executionId: $e}) { execution { id } } }";
    other.gql(&t, pause, json!({"e": e})).await;
    // Past both wall-clock thresholds (3 s and 5 s) while paused: the owner's deadlines fire
    // and find the clock stopped.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let breaches = || async {
        owner
            .gql(
                &t,
                "{ slaBreaches { nodes { severity actualDurationSeconds } } }",
                json!({}),
            )
            .await["slaBreaches"]["nodes"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert!(breaches().await.is_empty(), "nothing while paused");
    let resume =
        "mutation($e: ID!) { resumeExecutionSla(input: {executionId: $e}) { execution { id } } }";
    other.gql(&t, resume, json!({"e": e})).await;
    // About 1 s of SLA time was used: the warning is due about 2 s after the resume, the
    // critical about 4 s after; the owner arms both again from the other replica's notice.
    eventually("both breaches after the resume", || async {
        breaches().await.len() == 2
    })
    .await;
    for b in breaches().await {
        let (sev, d) = (&b["severity"], b["actualDurationSeconds"].as_f64().unwrap());
        let due = if sev == "WARNING" { 3.0 } else { 5.0 };
        assert!(
            d > due && d < due + 1.0,
            "{sev} at {d} s of SLA time, not wall time"
        );
    }
}

/// A loopback TCP proxy to PostgreSQL that can be cut and restored.
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(port: u16, target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { port, task }
    }

    /// Closes the listener and every proxied connection (the JoinSet aborts on drop).
    fn cut(self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn readyz_follows_the_database_and_recovers_by_itself() {
    let Some(base) = pg_base() else { return };
    let db = TempDatabase::create(&base).await;
    let url = db.url.clone();
    let t = token(&url);
    assert!(!t.is_empty());
    let target: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let port = crate::smtp::free_port();
    let proxy = Proxy::start(port, target).await;
    let proxied = url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(
        proxied, url,
        "TEST_DATABASE_URL must point at 127.0.0.1:5432 for this test"
    );
    let r = Replica::start(&proxied, &[]).await;
    let ready = || async {
        reqwest::get(format!("{}/readyz", r.base))
            .await
            .map(|x| x.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready().await, 200);
    proxy.cut();
    eventually("unready while the database is unreachable", || async {
        ready().await == 503
    })
    .await;
    let _proxy = Proxy::start(port, target).await;
    eventually("ready again once the database is back", || async {
        ready().await == 200
    })
    .await;
}

#[test]
fn a_second_process_on_the_same_sqlite_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("wi-lock-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/one.db?mode=rwc", dir.display());
    let spawn = || {
        Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first process keeps serving"
    );
    let second = spawn().wait_with_output().unwrap();
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(msg.contains("SQLite is single-process"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

//! `TestApp`: a fresh database and a real server per test.
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use workflow_intel::app::{App, Background};
use workflow_intel::clock::{Clock, ManualClock};
use workflow_intel::config::Config;
use workflow_intel::model::Role;
use workflow_intel::{Timing, auth, db};

pub struct TestApp {
    pub addr: SocketAddr,
    pub app: App,
    pub db: DatabaseConnection,
    /// SQL statements the server has executed since it started.
    pub statements: Statements,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    background: Option<Background>,
}

/// The server's count of SQL statements it ran (through either pool).
pub struct Statements(prometheus::IntCounter);

impl Statements {
    pub fn load(&self, _order: Ordering) -> usize {
        self.0.get() as usize
    }
}

/// Background timing for tests: quick polls, so that a missed wake-up shows as a delay.
pub const TEST_TIMING: Timing = Timing {
    event_poll: std::time::Duration::from_millis(200),
    rearm_every: std::time::Duration::from_secs(2),
    outbox_poll: std::time::Duration::from_millis(200),
    lease: chrono::Duration::seconds(60),
};

/// Background timing with no periodic polls within a test's life: only wake-ups move things,
/// so statement counts are exact.
pub const QUIET_TIMING: Timing = Timing {
    event_poll: std::time::Duration::from_secs(3600),
    rearm_every: std::time::Duration::from_secs(3600),
    outbox_poll: std::time::Duration::from_secs(3600),
    lease: chrono::Duration::seconds(60),
};

/// A fresh database: in-memory SQLite, or a new schema in `TEST_DATABASE_URL`.
pub async fn fresh_db() -> DatabaseConnection {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let admin = db::connect(&url, None)
                .await
                .expect("connect TEST_DATABASE_URL");
            let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
            admin.close().await.ok();
            db::connect(&url, Some(&schema))
                .await
                .expect("connect to test schema")
        }
        _ => db::connect("sqlite::memory:", None)
            .await
            .expect("sqlite memory"),
    }
}

/// A SQLite file that a test's servers share across a kill and a restart, removed when the
/// test ends.
pub struct DbFile(std::path::PathBuf);

impl DbFile {
    /// A new SQLite file's path, and its removal when the test ends.
    pub fn new() -> (std::path::PathBuf, DbFile) {
        let path =
            std::env::temp_dir().join(format!("wi-test-{}.db", uuid::Uuid::now_v7().simple()));
        (path.clone(), DbFile(path))
    }
}

impl Drop for DbFile {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", self.0.display()));
        }
    }
}

/// A fresh database that outlives any one connection: a new schema in `TEST_DATABASE_URL`, or
/// a SQLite file. (An in-memory SQLite database is gone with its only connection, which a
/// server killed in the middle of a statement may take with it.)
pub async fn restartable_db() -> (DatabaseConnection, Option<DbFile>) {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return (fresh_db().await, None);
    }
    let (path, file) = DbFile::new();
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let conn = db::connect(&url, None).await.expect("sqlite file");
    (conn, Some(file))
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Config::default()).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        let mut conn = fresh_db().await;
        db::migrate(&conn).await.expect("migrate");
        Self::spawn_on(config, &mut conn, None).await
    }

    /// A server without its background tasks (event dispatcher, SLA clock, mailer), so that
    /// the statement counter sees only what requests run.
    pub async fn spawn_requests_only() -> Self {
        Self::spawn_requests_only_with(Config::default()).await
    }

    /// [`Self::spawn_requests_only`] with a configuration.
    pub async fn spawn_requests_only_with(config: Config) -> Self {
        let mut app = Self::spawn_with(config).await;
        app.background.take();
        // Let a poll that was already under way finish before anyone counts.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app
    }

    /// [`Self::spawn_requests_only`] on `pools`, with a manual clock.
    pub async fn spawn_requests_only_on(
        config: Config,
        pools: db::Pools,
        clock: Arc<ManualClock>,
    ) -> Self {
        let mut app = Self::spawn_timed(config, pools, Some(clock), TEST_TIMING).await;
        app.background.take();
        app
    }

    /// A server on an existing database (a "restart"), optionally with a manual clock.
    pub async fn spawn_on(
        config: Config,
        conn: &mut DatabaseConnection,
        clock: Option<Arc<ManualClock>>,
    ) -> Self {
        Self::spawn_timed(config, conn.clone().into(), clock, TEST_TIMING).await
    }

    /// Like `spawn_on`, with the background tasks' timing given.
    pub async fn spawn_timed(
        config: Config,
        pools: db::Pools,
        clock: Option<Arc<ManualClock>>,
        timing: Timing,
    ) -> Self {
        let db::Pools {
            read: conn,
            write: writer,
        } = pools;
        let clock: Arc<dyn Clock> = match &clock {
            Some(c) => c.clone(),
            None => Arc::new(workflow_intel::clock::SystemClock),
        };
        let pools = db::Pools {
            read: conn.clone(),
            write: writer,
        };
        let app = workflow_intel::app::build_with_clock(config, pools, clock);
        // The server's own statement counter (`workflow_intel_db_statements_total`): the
        // server installs its callback on both pools, replacing any set before.
        let statements = Statements(app.state.metrics.internals.db_statements_total.clone());
        let background = app
            .start_background(timing)
            .await
            .expect("background tasks");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = workflow_intel::app::serve(listener, &app, async {
            let _ = rx.await;
        });
        tokio::spawn(async move { serving.await.expect("serve") });
        TestApp {
            addr,
            app,
            db: conn,
            statements,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            background: Some(background),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The `/metrics` scrape, as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn token(&self, company: &str, email: &str, role: Role) -> String {
        let now = self.app.state.clock.now();
        auth::issue_token(&self.db, company, email, role, now)
            .await
            .expect("issue token")
            .token
    }

    /// POSTs one operation and returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("send");
        resp.json().await.expect("json response")
    }

    /// Runs each operation as `token` (another company's caller) and asserts that every one
    /// answers NOT_FOUND, exactly as a missing id does.
    pub async fn all_not_found(&self, token: &str, ops: &[(&str, Value)]) {
        for (query, variables) in ops {
            let v = self.gql(Some(token), query, variables.clone()).await;
            assert_eq!(code(&v), "NOT_FOUND", "{query}: {v}");
        }
    }

    /// Like `gql`, but panics on errors and returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let v = self.gql(Some(token), query, variables).await;
        assert!(v.get("errors").is_none(), "unexpected errors: {v:#}");
        v["data"].clone()
    }
}

impl TestApp {
    /// Stops the server and its background tasks at once, as a crash would.
    pub fn kill(mut self) {
        self.background.take();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.background.take();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// POSTs one operation to any server's `/graphql` and returns its data (panics on errors).
pub async fn post_data(base: &str, token: &str, query: &str, variables: Value) -> Value {
    let v: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v.get("errors").is_none(), "{v}");
    v["data"].clone()
}

/// A TCP port that was free a moment ago (for a server process started on it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `extensions.code` of the first error.
/// The id of the node named `name` in a connection's `nodes`.
pub fn id_named(connection: &Value, name: &str) -> String {
    connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {connection}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v:#}"))
}

/// The first error's message.
pub fn message(v: &Value) -> &str {
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {v:#}"))
}

pub const CREATE_ACTION: &str = r#"mutation($input: CreateActionInput!) {
  createAction(input: $input) { action { id name actionType latencyClass isIdempotent sideEffects inputSchema } }
}"#;

pub const CREATE_WORKFLOW: &str = r#"mutation($input: CreateWorkflowInput!) {
  createWorkflow(input: $input) { workflow { id name status steps owner { email } } }
}"#;

pub async fn create_action(app: &TestApp, token: &str, action_type: &str) -> Value {
    app.data(
        token,
        CREATE_ACTION,
        json!({"input": {"name": format!("Action {action_type}"), "actionType": action_type, "latencyClass": "FAST"}}),
    )
    .await["createAction"]["action"]
        .clone()
}

pub async fn create_workflow(app: &TestApp, token: &str, name: &str, steps: Value) -> Value {
    app.data(
        token,
        CREATE_WORKFLOW,
        json!({"input": {"name": name, "workflowType": "APPROVAL", "steps": steps}}),
    )
    .await["createWorkflow"]["workflow"]
        .clone()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw WebSocket client speaking JSON frames.
pub struct Ws(pub Socket);

impl Ws {
    pub async fn connect(app: &TestApp, protocol: &str) -> Ws {
        Ws::connect_url(&format!("ws://{}/graphql", app.addr), protocol).await
    }

    /// A connection to any server's WebSocket endpoint (`ws://host:port/graphql`).
    pub async fn connect_url(url: &str, protocol: &str) -> Ws {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("connect");
        Ws(ws)
    }

    /// Connected, initialised with `token` and acknowledged.
    pub async fn ready(app: &TestApp, token: &str) -> Ws {
        let mut ws = Ws::connect(app, "graphql-transport-ws").await;
        ws.init(json!({"Authorization": format!("Bearer {token}")}))
            .await;
        ws
    }

    /// Sends `connection_init` with this payload and waits for the acknowledgement.
    pub async fn init(&mut self, payload: Value) {
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        let ack = self.next().await.expect("ack");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    /// The payload of the next `next` message within `wait` (None when none comes).
    pub async fn next_payload(&mut self, wait: std::time::Duration) -> Option<Value> {
        let end = tokio::time::Instant::now() + wait;
        loop {
            let v = tokio::time::timeout_at(end, self.next()).await.ok()??;
            if v["type"] == "next" {
                return Some(v["payload"].clone());
            }
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.0
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next JSON message within 30 s (None on close or timeout).
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            // A guard against a hang, not a latency target: with the whole suite on two cores
            // and PostgreSQL, one delivery to 500 subscribers once took longer than 10 s.
            let msg = tokio::time::timeout(std::time::Duration::from_secs(30), self.0.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The close code the server ends with (skipping any messages before it).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            // A guard against a hang, not a latency target: with the whole suite on two cores
            // and PostgreSQL, one delivery to 500 subscribers once took longer than 10 s.
            let msg = tokio::time::timeout(std::time::Duration::from_secs(30), self.0.next())
                .await
                .ok()??;
            match msg {
                Ok(Message::Close(Some(f))) => return Some(u16::from(f.code)),
                Ok(Message::Close(None)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }
}

/// A database of its own on the TEST_DATABASE_URL server, dropped when the test ends, passed
/// or failed.
pub struct TempDatabase {
    base: String,
    name: String,
    pub url: String,
}

impl TempDatabase {
    pub async fn create(base: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let name = format!("wi_rep_{}", uuid::Uuid::now_v7().simple());
        let admin = workflow_intel::db::connect(base, None).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.ok();
        let (head, _) = base.rsplit_once('/').unwrap();
        TempDatabase {
            base: base.to_string(),
            url: format!("{head}/{name}"),
            name,
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        use sea_orm::ConnectionTrait;
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime, so the async work gets a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = workflow_intel::db::connect(&base, None).await.ok()?;
                let r = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                admin.close().await.ok();
                r.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: could not drop test database {}", self.name);
        }
    }
}

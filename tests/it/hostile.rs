//! Clients that try to hold the server: connections that trickle their headers or a body, or
//! stay open saying nothing. Run on the real binary with a low open-files limit.
use crate::cli::CliDb;
use crate::support::free_port;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server under a cap of 150 connections and 256 open files, with short waits (a head
/// has `header` seconds).
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

async fn held_server(header: &str) -> Held {
    let db = CliDb::new().await;
    let port = free_port();
    let env = [
        ("HTTP_MAX_CONNECTIONS", "150"),
        ("HTTP_HEADER_TIMEOUT_SECONDS", header),
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
    // Heads get 6 s: all the tricklers are still open when the last of them connects, even
    // on a loaded machine (with 2 s, the first were closed as late before the cap was reached).
    let held = held_server("6").await;
    let addr = held.base.trim_start_matches("http://").to_string();
    // More trickling connections than the cap, and near the open-files limit, all at once.
    let connecting: Vec<_> = (0..220)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move { trickler(&addr).await })
        })
        .collect();
    let mut tasks = Vec::new();
    for c in connecting {
        tasks.extend(c.await.unwrap());
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
    // The tricklers are closed once their heads are overdue (6 s from the first byte).
    let deadline = Instant::now() + Duration::from_secs(20);
    while tasks.iter().any(|t| !t.is_finished()) {
        assert!(
            Instant::now() < deadline,
            "{} trickling connections still open after 20 s",
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
    let held = held_server("2").await;
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

/// A server in process, and an admin token of company Acme.
async fn admin_app() -> (crate::support::TestApp, String) {
    let app = crate::support::TestApp::spawn().await;
    let token = app
        .token("Acme", "admin@acme.io", workflow_intel::model::Role::Admin)
        .await;
    (app, token)
}

/// Every root query and mutation field with arguments, from the schema's own introspection:
/// (operation keyword, field, its arguments with their types, whether it returns an object).
struct Root {
    kind: &'static str,
    field: String,
    args: Vec<(String, Value)>,
    object: bool,
}

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

async fn roots(app: &crate::support::TestApp, token: &str) -> (Vec<Root>, Value) {
    let q = format!(
        "{{ __schema {{ queryType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }}
           mutationType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }}
           types {{ name kind inputFields {{ name type {{ {TYPE_REF} }} }} enumValues {{ name }} }} }} }}"
    );
    let s = app.data(token, &q, json!({})).await["__schema"].clone();
    let mut out = Vec::new();
    for (kind, key) in [("query", "queryType"), ("mutation", "mutationType")] {
        for f in s[key]["fields"].as_array().unwrap() {
            let args: Vec<(String, Value)> = f["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["name"].as_str().unwrap().to_string(), a["type"].clone()))
                .collect();
            if args.is_empty() {
                continue;
            }
            let named = named(&f["type"]);
            out.push(Root {
                kind,
                field: f["name"].as_str().unwrap().to_string(),
                args,
                object: !matches!(kind_of(&s, &named).as_str(), "SCALAR" | "ENUM"),
            });
        }
    }
    (out, s)
}

fn named(t: &Value) -> String {
    match t["name"].as_str() {
        Some(n) => n.to_string(),
        None => named(&t["ofType"]),
    }
}

fn kind_of(schema: &Value, name: &str) -> String {
    schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn type_text(t: &Value) -> String {
    match t["kind"].as_str().unwrap() {
        "NON_NULL" => format!("{}!", type_text(&t["ofType"])),
        "LIST" => format!("[{}]", type_text(&t["ofType"])),
        _ => t["name"].as_str().unwrap().to_string(),
    }
}

/// A value of type `t` whose every text is drawn by `text` (input objects get every field).
fn value_of(schema: &Value, t: &Value, text: &mut dyn FnMut() -> String, depth: usize) -> Value {
    match t["kind"].as_str().unwrap() {
        "NON_NULL" => return value_of(schema, &t["ofType"], text, depth),
        "LIST" => return json!([value_of(schema, &t["ofType"], text, depth)]),
        _ => {}
    }
    let name = t["name"].as_str().unwrap();
    match name {
        "String" | "ID" => return json!(text()),
        "Int" => return json!(1),
        "Float" => return json!(1.5),
        "Boolean" => return json!(true),
        "DateTime" => return json!("2026-12-04T00:00:00Z"),
        "JSON" => return json!({ text(): text(), "list": [text()] }),
        _ => {}
    }
    let ty = schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap();
    match ty["kind"].as_str().unwrap() {
        "ENUM" => ty["enumValues"][0]["name"].clone(),
        "INPUT_OBJECT" if depth < 4 => {
            let mut o = serde_json::Map::new();
            for f in ty["inputFields"].as_array().unwrap() {
                let v = value_of(schema, &f["type"], text, depth + 1);
                o.insert(f["name"].as_str().unwrap().to_string(), v);
            }
            Value::Object(o)
        }
        _ => Value::Null,
    }
}

/// The operation that calls `r` with every argument as a variable.
fn operation(r: &Root) -> String {
    let decl: Vec<String> = r
        .args
        .iter()
        .map(|(n, t)| format!("${n}: {}", type_text(t)))
        .collect();
    let pass: Vec<String> = r.args.iter().map(|(n, _)| format!("{n}: ${n}")).collect();
    let pick = if r.object { " { __typename }" } else { "" };
    format!(
        "{} ({}) {{ {}({}){pick} }}",
        r.kind,
        decl.join(", "),
        r.field,
        pass.join(", ")
    )
}

/// Text that is legal everywhere but unusual: right-to-left marks, a BOM, the last code
/// points of a plane, emoji, quotes and long runs.
fn odd_text(rng: &mut rand::rngs::StdRng) -> String {
    use rand::Rng;
    const PIECES: [&str; 10] = [
        "\u{202e}",
        "\u{feff}",
        "\u{ffff}",
        "\u{10ffff}",
        "👩‍💻",
        "'\"",
        "\\",
        "é",
        "\u{1}",
        "x",
    ];
    let n = rng.random_range(1..12);
    let mut s: String = (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect();
    if rng.random_range(0..8) == 0 {
        s.push_str(&"z".repeat(3000));
    }
    s
}

#[tokio::test]
async fn nul_anywhere_is_refused_alike_and_odd_text_never_breaks_a_store() {
    use rand::SeedableRng;
    let (app, token) = admin_app().await;
    let (roots, schema) = roots(&app, &token).await;
    assert!(
        roots.len() > 30,
        "{} root fields with arguments",
        roots.len()
    );
    let count = "{ workflows(first: 1) { totalCount } actions(first: 1) { totalCount } }";
    let before = app.data(&token, count, json!({})).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for r in &roots {
        let op = operation(r);
        // NUL in every text: refused before anything runs, naming a variable.
        let mut nul = || format!("a\u{0}{}", "b");
        let vars: serde_json::Map<String, Value> = r
            .args
            .iter()
            .map(|(n, t)| (n.clone(), value_of(&schema, t, &mut nul, 0)))
            .collect();
        let v = app.gql(Some(&token), &op, Value::Object(vars)).await;
        let e = &v["errors"][0];
        assert_eq!(
            e["extensions"]["code"], "BAD_USER_INPUT",
            "{} with NUL: {v}",
            r.field
        );
        let m = e["message"].as_str().unwrap();
        assert!(
            m.starts_with("variable $") && m.contains("NUL"),
            "{}: {m}",
            r.field
        );
    }
    seeded_writes(&app, &token, &mut rng).await;
    // The NUL requests wrote nothing; the odd ones may have created rows, so compare the
    // counts taken before against a second company that only ever sent NUL.
    let other = app
        .token("Beta", "admin@beta.io", workflow_intel::model::Role::Admin)
        .await;
    for r in &roots {
        let mut nul = || "\u{0}".to_string();
        let vars: serde_json::Map<String, Value> = r
            .args
            .iter()
            .map(|(n, t)| (n.clone(), value_of(&schema, t, &mut nul, 0)))
            .collect();
        app.gql(Some(&other), &operation(r), Value::Object(vars))
            .await;
    }
    let after = app.data(&other, count, json!({})).await;
    assert_eq!(after["workflows"]["totalCount"], 0, "{after}");
    assert_eq!(
        after["actions"]["totalCount"], before["actions"]["totalCount"],
        "{after}"
    );
}

/// The operations that write text the issue names, each with valid variables that take a
/// unique number (so that one call's names never clash with another's).
type Seed = (&'static str, fn(&str, usize) -> Value);

const SEEDS: [Seed; 8] = [
    (
        "mutation($input: CreateActionInput!) { createAction(input: $input) { action { id } } }",
        |_, n| {
            json!({"input": {"name": format!("N{n}"), "actionType": format!("odd.type{n}"), "description": "D",
            "sideEffects": ["e"], "inputSchema": {"type": "object", "properties": {"p": {"type": "string", "description": "d"}}}}})
        },
    ),
    (
        "mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { workflow { id } } }",
        |_, n| {
            json!({"input": {"name": format!("W{n}"), "description": "D",
            "steps": [{"name": "S1", "action": "x.do", "description": "d"}], "inputSchema": {"type": "object", "title": "t"}}})
        },
    ),
    (
        "mutation($input: CreateSlaInput!) { createSla(input: $input) { sla { id } } }",
        |wf, n| {
            json!({"input": {"workflowId": wf, "name": format!("L{n}"), "description": "D", "targetDurationSeconds": 60,
            "alertRecipients": ["ops@acme.io"]}})
        },
    ),
    (
        "mutation($input: StartExecutionInput!) { startExecution(input: $input) { execution { id } } }",
        |wf, n| json!({"input": {"workflowId": wf, "inputData": {"k": "v", "n": {"m": ["x"]}}, "externalId": format!("E{n}")}}),
    ),
    (
        "mutation($input: ImportExecutionsInput!) { importExecutions(input: $input) { imported } }",
        |wf, n| {
            json!({"input": {"executions": [{"workflowId": wf, "externalId": format!("I{n}"), "status": "FAILED",
            "startedAt": "2026-12-01T00:00:00Z", "completedAt": "2026-12-01T00:01:00Z", "error": "boom", "inputData": {"k": "v"}}]}})
        },
    ),
    (
        "mutation($input: CreateProcessTemplateInput!) { createProcessTemplate(input: $input) { template { id } } }",
        |_, n| {
            json!({"input": {"name": format!("T{n}"), "version": "1.0.0", "templateType": "APPROVAL", "description": "D",
            "processSteps": [{"name": "S", "action": "x.do"}]}})
        },
    ),
    (
        "query($n: String!, $v: String) { processTemplate(name: $n, version: $v) { id } }",
        |_, _| json!({"n": "Tq", "v": "1.0.0"}),
    ),
    (
        "query($f: WorkflowFilterInput) { workflows(filter: $f) { totalCount } }",
        |_, _| json!({"f": {"search": "W"}}),
    ),
];

/// The paths of the text leaves in `v` (object values and list items, not keys).
fn text_paths(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::String(_) => out.push(at),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            let mut p = at.clone();
            p.push(i.to_string());
            text_paths(x, p, out)
        }),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            let mut p = at.clone();
            p.push(k.clone());
            text_paths(x, p, out)
        }),
        _ => {}
    }
}

fn leaf<'v>(v: &'v mut Value, path: &[String]) -> &'v mut Value {
    path.iter().fold(v, |v, k| match v {
        Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
        other => &mut other[k.as_str()],
    })
}

/// Each text leaf of each seed, one at a time: with NUL (refused, naming that leaf, on both
/// stores) and with odd text (stored or refused, never an internal error). Completing an
/// execution with an odd or NUL error is tried on a fresh execution each time.
async fn seeded_writes(app: &crate::support::TestApp, token: &str, rng: &mut rand::rngs::StdRng) {
    crate::support::create_action(app, token, "x.do").await;
    let steps = json!([{"name": "S1", "action": "x.do"}]);
    let wf = crate::support::create_workflow(app, token, "Base", steps).await;
    let wf = wf["id"].as_str().unwrap().to_string();
    let (create_template, template) = (SEEDS[5].0, SEEDS[5].1(&wf, 0));
    let mut template = template;
    template["input"]["name"] = json!("Tq");
    app.data(token, create_template, template).await;
    let mut n = 0;
    let mut stored = 0;
    for (op, vars) in SEEDS {
        n += 1;
        let valid = app.gql(Some(token), op, vars(&wf, n)).await;
        assert!(
            valid.get("errors").is_none(),
            "the seed {op} is refused: {valid}"
        );
        let mut paths = Vec::new();
        text_paths(&vars(&wf, 0), Vec::new(), &mut paths);
        for path in paths.iter().filter(|p| p[p.len() - 1] != "workflowId") {
            n += 1;
            let mut v = vars(&wf, n);
            *leaf(&mut v, path) = json!("a\u{0}b");
            let r = app.gql(Some(token), op, v).await;
            let e = &r["errors"][0];
            let named = format!("${}", path.join("."));
            assert_eq!(
                e["extensions"]["code"], "BAD_USER_INPUT",
                "{op} {named}: {r}"
            );
            let m = e["message"].as_str().unwrap_or_default();
            assert!(m.contains("NUL"), "{op} {named}: {m}");
            n += 1;
            let mut v = vars(&wf, n);
            *leaf(&mut v, path) = json!(odd_text(rng));
            let r = app.gql(Some(token), op, v).await;
            stored += r.get("errors").is_none() as usize;
            for e in r["errors"].as_array().into_iter().flatten() {
                assert_ne!(
                    e["extensions"]["code"], "INTERNAL_SERVER_ERROR",
                    "{op} {named}: {e}"
                );
            }
        }
    }
    complete_with_odd_errors(app, token, &wf, rng).await;
    assert!(stored >= 10, "only {stored} odd texts were stored");
}

async fn complete_with_odd_errors(
    app: &crate::support::TestApp,
    token: &str,
    wf: &str,
    rng: &mut rand::rngs::StdRng,
) {
    let start =
        "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id } } }";
    let complete = "mutation($id: ID!, $e: String) { completeExecution(input: {executionId: $id, status: FAILED, error: $e}) { execution { status error } } }";
    for text in ["a\u{0}b".to_string(), odd_text(rng)] {
        let id =
            app.data(token, start, json!({"w": wf})).await["startExecution"]["execution"]["id"]
                .clone();
        let r = app
            .gql(Some(token), complete, json!({"id": id, "e": text}))
            .await;
        let status = "{ executions(first: 100) { nodes { id status } } }";
        let all = app.data(token, status, json!({})).await;
        let run = all["executions"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .cloned();
        if text.contains('\0') {
            assert_eq!(
                r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{r}"
            );
            // Refused as a whole: the execution is still running, nothing half-written.
            assert_eq!(run.unwrap()["status"], "RUNNING");
        } else {
            assert_eq!(
                r["data"]["completeExecution"]["execution"]["error"],
                json!(text),
                "{r}"
            );
        }
    }
}

/// Opens a WebSocket on `/graphql` by hand (so that it can send what no client library
/// would), writes `frame` after the handshake, and returns the code of the close frame the
/// server answers with (None: it answered with none within 5 s).
async fn close_code_after(app: &crate::support::TestApp, frame: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s.write_all(frame).await.unwrap();
    let mut first = [0u8; 4];
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut first)).await;
    match read {
        Ok(Ok(_)) if first[0] == 0x88 => Some(u16::from_be_bytes([first[2], first[3]])),
        _ => None,
    }
}

/// A client frame: FIN, `opcode` and `rsv` bits, masked with 1, 2, 3, 4 unless `unmasked`.
fn frame(first: u8, payload: &[u8], unmasked: bool) -> Vec<u8> {
    let mut f = vec![first];
    let mask_bit = if unmasked { 0 } else { 0x80 };
    f.push(mask_bit | payload.len() as u8);
    if unmasked {
        f.extend_from_slice(payload);
        return f;
    }
    let mask = [1u8, 2, 3, 4];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// A frame header that claims `len` bytes (masked, no payload sent).
fn huge_header(len: u64) -> Vec<u8> {
    let mut f = vec![0x82, 0x80 | 127];
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    f
}

#[tokio::test]
async fn websocket_violations_are_closed_with_the_code_that_says_why() {
    let app = crate::support::TestApp::spawn().await;
    let cases: [(&str, Vec<u8>, &[u16]); 6] = [
        ("an unmasked frame", frame(0x81, b"hi", true), &[1002]),
        (
            "RSV1 without an extension",
            frame(0xC1, b"hi", false),
            &[1002],
        ),
        ("a reserved opcode", frame(0x83, b"", false), &[1002]),
        (
            "text that is not UTF-8",
            frame(0x81, &[0xC3, 0x28], false),
            &[1007],
        ),
        // Checked on the header: nothing of the 4 EiB is waited for.
        (
            "a header claiming 2^62 bytes",
            huge_header(1 << 62),
            &[1009],
        ),
        // The RFC requires the top bit of a 64-bit length to be 0.
        (
            "a header claiming 2^63 bytes",
            huge_header(1 << 63),
            &[1002, 1009],
        ),
    ];
    for (what, bytes, codes) in cases {
        let code = close_code_after(&app, &bytes).await;
        assert!(
            code.is_some_and(|c| codes.contains(&c)),
            "{what}: closed with {code:?}, expected one of {codes:?}"
        );
    }
    // A text message of 3 MiB, over GRAPHQL_MAX_BODY_BYTES (2 MiB): refused on its header,
    // with its first KiB sent (the rest would only meet a closed socket).
    let mut big = vec![0x81, 0x80 | 127];
    big.extend_from_slice(&(3u64 << 20).to_be_bytes());
    big.extend_from_slice(&[0, 0, 0, 0]);
    big.extend(std::iter::repeat_n(b'a', 1024));
    assert_eq!(close_code_after(&app, &big).await, Some(1009));
}

#[tokio::test]
async fn a_huge_syntax_error_is_quoted_short_and_undefined_bpmn_entities_are_warned() {
    let (app, token) = admin_app().await;
    // One line of 1.2 MB with a syntax error in the middle.
    let query = format!("{{ {} @@ {} }}", "a ".repeat(300_000), "b ".repeat(300_000));
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        resp.len() < 2_000,
        "{} bytes back for a 1.2 MB query",
        resp.len()
    );
    let v: Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
    assert!(
        v["errors"][0]["message"].as_str().unwrap().contains("@@"),
        "{v}"
    );
    // A name that uses an entity no DTD here defines: kept as written, and said.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <process id="p" isExecutable="false">
    <startEvent id="s"/>
    <task id="t" name="Review &company; file"/>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
  </process>
</definitions>"#;
    let imp = r#"mutation($input: ImportBpmnInput!) { importBpmn(input: $input) { template { processSteps } warnings } }"#;
    let r = app
        .data(
            &token,
            imp,
            json!({"input": {"xml": xml, "name": "Entities", "version": "1.0.0"}}),
        )
        .await;
    let warnings = r["importBpmn"]["warnings"].to_string();
    assert!(warnings.contains("&company;"), "{warnings}");
    assert!(
        r["importBpmn"]["template"]["processSteps"]
            .to_string()
            .contains("Review &company; file"),
        "{r}"
    );
}

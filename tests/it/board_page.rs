//! The live SLA board and the workflow view in headless Chromium, every request to another
//! origin blocked: breaches arrive without a reload, an acknowledgement clears every open
//! board, a restarted server is resumed from without loss or duplicate, the tiles show
//! `Sla.metrics`, another company sees nothing, and selecting a path highlights its steps.
use crate::browser::{self, Browser};
use crate::cli::CliDb;
use crate::sla::CREATE_SLA;
use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use workflow_intel::model::Role;
use workflow_intel::seed;

const LIVE: &str = "document.querySelector('#connection')?.dataset.state === 'live'";

fn board(base: &str, token: &str, query: &str) -> String {
    format!("{base}/board{query}#token={token}")
}

async fn sla(base: &str, token: &str, workflow: &Value, warning: i64) -> String {
    let input = json!({"workflowId": workflow, "name": "Refund turnaround", "targetDurationSeconds": warning,
        "warningThresholdSeconds": warning, "criticalThresholdSeconds": 3600});
    let r = post_data(base, token, CREATE_SLA, json!({"input": input})).await;
    r["createSla"]["sla"]["id"].as_str().unwrap().to_string()
}

const BREACHES: &str = "{ slaBreaches(first: 100) { nodes { id detectedAt acknowledged notes thresholdSeconds execution { id startedAt } } } }";

#[tokio::test]
async fn a_breach_appears_live_and_an_acknowledgement_clears_every_board() {
    let Some(chromium) = browser::available("board browser test") else {
        return;
    };
    let app = TestApp::spawn().await;
    let acme = app.token("Acme", "ops@acme.io", Role::Admin).await;
    let globex = app.token("Globex", "ops@globex.io", Role::Admin).await;
    let steps = json!([{"name": "Refund", "action": "x"}]);
    let wf = create_workflow(&app, &acme, "Refunds", steps).await;
    sla(&app.url(""), &acme, &wf["id"], 2).await;
    let mut b = Browser::launch(&chromium);
    for page in ["a", "b"] {
        b.open(page, &board(&app.url(""), &acme, "")).await;
    }
    // The other company signs in through the form rather than the URL.
    b.open("g", &app.url("/board")).await;
    b.fill("g", "#token", &globex).await;
    b.click("g", "form.signin button").await;
    for page in ["a", "b", "g"] {
        b.wait(page, LIVE).await;
        b.eval(page, "window.__sameDocument = true").await;
    }
    let q = "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id startedAt } } }";
    let started = app.data(&acme, q, json!({"w": wf["id"]})).await;
    let started_at: DateTime<Utc> = started["startExecution"]["execution"]["startedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let deadline = started_at + Duration::seconds(2);
    let appeared = b
        .wait(
            "a",
            "document.querySelector('#breach-rows tr') && Date.now()",
        )
        .await;
    let late_ms = appeared.as_f64().unwrap() - deadline.timestamp_millis() as f64;
    eprintln!("board: the breach appeared {late_ms:.0} ms after its deadline");
    assert_eq!(b.eval("a", "window.__sameDocument").await, true, "reloaded");
    let rows = app.data(&acme, BREACHES, json!({})).await["slaBreaches"]["nodes"].clone();
    let breach = rows[0].clone();
    let detected: DateTime<Utc> = breach["detectedAt"].as_str().unwrap().parse().unwrap();
    let detect_ms = (detected - deadline).num_milliseconds();
    assert!(
        (0..2000).contains(&detect_ms),
        "detected {detect_ms} ms after the deadline"
    );
    let id = breach["id"].as_str().unwrap();
    let row = format!("tr[data-breach=\"{id}\"]");
    let text = b
        .eval("a", &format!("document.querySelector('{row}').textContent"))
        .await;
    for want in ["warning", "Refund turnaround", "Refunds", "ago"] {
        assert!(
            text.as_str().unwrap().contains(want),
            "{want} not in {text}"
        );
    }
    b.wait("b", &format!("!!document.querySelector('{row}')"))
        .await;

    // Acknowledged on page a, gone from page b through the ACKNOWLEDGED event.
    b.fill("a", &format!("{row} input"), "looking into it")
        .await;
    b.click("a", &format!("{row} button")).await;
    b.wait("b", &format!("!document.querySelector('{row}')"))
        .await;
    assert_eq!(b.eval("b", "window.__sameDocument").await, true);
    let after = app.data(&acme, BREACHES, json!({})).await["slaBreaches"]["nodes"][0].clone();
    assert_eq!(
        (after["acknowledged"].as_bool(), after["notes"].as_str()),
        (Some(true), Some("looking into it"))
    );

    // Another company's board stayed empty, and live, the whole time.
    let g = b
        .eval("g", "[document.querySelectorAll('#breach-rows tr').length, document.querySelectorAll('#tiles [data-sla]').length, document.body.textContent.includes('Refund'), document.querySelector('#connection').dataset.state]")
        .await;
    assert_eq!(g, json!([0, 0, false, "live"]));
}

/// Late discount requests completed in the last hours, so that the demo board has breaches.
async fn late_cases(app: &TestApp, token: &str, workflow: &str) {
    let now = Utc::now();
    let cases: Vec<Value> = (0..4i64)
        .map(|i| {
            let end = now - Duration::minutes(20 + 35 * i);
            let start = end - Duration::seconds(50 + 20 * i);
            let approved = start + Duration::seconds(8);
            let steps = json!([
                {"stepName": "Validate", "status": "COMPLETED", "startedAt": start.to_rfc3339(), "completedAt": approved.to_rfc3339()},
                {"stepName": "Manager Approval", "status": "COMPLETED", "startedAt": approved.to_rfc3339(), "completedAt": end.to_rfc3339()},
            ]);
            json!({"workflowId": workflow, "externalId": format!("late-{i}"), "status": "COMPLETED", "steps": steps,
                   "inputData": {"amount": 12000 + i * 20000}, "startedAt": start.to_rfc3339(), "completedAt": end.to_rfc3339()})
        })
        .collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { breaches } }";
    let r = app
        .data(token, q, json!({"i": {"executions": cases}}))
        .await;
    assert!(
        r["importExecutions"]["breaches"].as_i64().unwrap() >= 4,
        "{r}"
    );
}

const METRICS: &str = "{ slas(first: 100) { nodes { id metrics { compliancePercentage targetPercentage met total errorBudgetRemaining errorBudgetTotal errorBudgetExhausted errorBudgetOverspent burnRates { longBurnRate } } breachTimeline { total } } } }";

/// The tiles' machine-readable figures: for each SLA, its `data-field` values.
const TILE_VALUES: &str = "Object.fromEntries([...document.querySelectorAll('#tiles [data-sla]')].map(t => [t.dataset.sla, Object.fromEntries([...t.querySelectorAll('[data-field]')].map(f => [f.dataset.field, Number(f.dataset.value)]))]))";

#[tokio::test]
async fn the_demo_board_tiles_match_sla_metrics_and_a_path_lights_up_its_steps() {
    let Some(chromium) = browser::available("board browser test") else {
        return;
    };
    let app = TestApp::spawn().await;
    let issued = seed::seed_demo(&app.db).await.unwrap();
    let admin = seed::demo_auth(&issued);
    let state = &app.app.state;
    seed::seed_demo_history(state, &admin).await.unwrap();
    seed::seed_demo_sla(state, &admin).await.unwrap();
    let token = issued.token;
    let wfs = app
        .data(
            &token,
            "{ workflows(first: 50) { nodes { id name } } }",
            json!({}),
        )
        .await;
    let discount = id_named(&wfs["workflows"], seed::DISCOUNT_WORKFLOW);
    late_cases(&app, &token, &discount).await;

    let mut b = Browser::launch(&chromium);
    b.open("a", &board(&app.url(""), &token, "")).await;
    b.wait("a", "document.querySelector('#tiles')?.dataset.loaded")
        .await;
    b.wait("a", LIVE).await;
    let tiles = b.eval("a", TILE_VALUES).await;
    let api = app.data(&token, METRICS, json!({})).await;
    let slas = api["slas"]["nodes"].as_array().unwrap();
    assert!(!slas.is_empty());
    for s in slas {
        let t = &tiles[s["id"].as_str().unwrap()];
        let m = &s["metrics"];
        // An exhausted budget shows by how much it is over, not a negative remainder.
        let budget = if m["errorBudgetExhausted"] == true {
            ("budget-overspent", &m["errorBudgetOverspent"])
        } else {
            ("budget-remaining", &m["errorBudgetRemaining"])
        };
        let pairs = [
            ("compliance", &m["compliancePercentage"]),
            ("target", &m["targetPercentage"]),
            ("met", &m["met"]),
            ("total", &m["total"]),
            budget,
            ("budget-total", &m["errorBudgetTotal"]),
            ("burn-0", &m["burnRates"][0]["longBurnRate"]),
            ("burn-2", &m["burnRates"][2]["longBurnRate"]),
            ("timeline-total", &s["breachTimeline"]["total"]),
        ];
        for (field, want) in pairs {
            assert_eq!(
                t[field].as_f64(),
                want.as_f64(),
                "{field}: tile {t}, API {s}"
            );
        }
        assert!(
            m["total"].as_i64().unwrap() > 0,
            "the demo SLA has completions: {s}"
        );
    }
    let rows = b
        .eval("a", "document.querySelectorAll('#breach-rows tr').length")
        .await;
    assert!(rows.as_i64().unwrap() >= 4, "{rows}");
    a_severity_filter_is_kept_in_the_url(&mut b, &app, &token).await;
    if let Ok(path) = std::env::var("BOARD_SCREENSHOT") {
        b.screenshot("a", std::path::Path::new(&path)).await;
    }
    the_workflow_view_highlights_a_selected_path(&mut b, &app, &token, &discount).await;
}

/// A severity filter is in the URL, and the list holds what the API holds under it.
async fn a_severity_filter_is_kept_in_the_url(b: &mut Browser, app: &TestApp, token: &str) {
    let q = "{ unacknowledgedBreaches(filter: {severity: CRITICAL}) { totalCount } }";
    let critical =
        app.data(token, q, json!({})).await["unacknowledgedBreaches"]["totalCount"].clone();
    b.open("c", &board(&app.url(""), token, "")).await;
    b.wait("c", LIVE).await;
    b.run(json!({"op": "select", "page": "c", "selector": "#f-severity", "value": "CRITICAL"}))
        .await;
    let shown = b
        .wait("c", "location.search.includes('severity=CRITICAL') && document.querySelector('#connection')?.dataset.state === 'live' && [...document.querySelectorAll('#breach-rows tr')].map(r => r.className)")
        .await;
    assert_eq!(
        shown.as_array().unwrap().len() as i64,
        critical.as_i64().unwrap()
    );
    assert!(
        shown
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c == "sev-critical"),
        "{shown}"
    );
}

/// Every text of every step box that does not fit inside its box: [step, text, why].
const OVERFLOWING: &str = "[...document.querySelectorAll('svg.graph g.node')].flatMap(n => { const r = n.querySelector('rect'); const w = r.width.baseVal.value, h = r.height.baseVal.value; return [...n.querySelectorAll('text')].map(t => [n.dataset.step, t.textContent, t.getBBox()]).filter(([, , b]) => b.x < 0 || b.y < 0 || b.x + b.width > w + 0.5 || b.y + b.height > h + 0.5).map(([s, t, b]) => [s, t, `${b.x},${b.y} ${b.width}x${b.height} in ${w}x${h}`]); })";

/// Each step's name is shown whole (its lines, joined, are the name).
const NAMES_SHOWN: &str = "[...document.querySelectorAll('svg.graph g.node:not(.end)')].map(n => [n.dataset.step, [...n.querySelectorAll('text.name')].map(t => t.textContent).join(' ')])";

/// The open workflow view: no text outside its box, and every name whole.
async fn every_text_fits_its_box(b: &mut Browser, page: &str) {
    let over = b.eval(page, OVERFLOWING).await;
    assert_eq!(over, json!([]), "text outside its box");
    for pair in b.eval(page, NAMES_SHOWN).await.as_array().unwrap() {
        let (name, shown) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(shown.replace(' ', ""), name.replace(' ', ""), "{pair}");
    }
}

#[tokio::test]
async fn a_discovered_25_step_workflow_with_long_names_fits_its_boxes() {
    let Some(chromium) = browser::available("workflow view test") else {
        return;
    };
    let app = TestApp::spawn().await;
    let token = app.token("Lender", "admin@lender.io", Role::Admin).await;
    let auth = match workflow_intel::auth::authenticate(&app.db, &token)
        .await
        .unwrap()
    {
        workflow_intel::auth::AuthState::User(a) => a,
        _ => panic!("token"),
    };
    // 25 activities with long names, 60 cases over days (so the statistics are long too).
    let names: Vec<String> = (1..=25)
        .map(|i| match i % 3 {
            0 => format!("Regional Vice President of Consumer Lending Approval {i}"),
            1 => format!("Check{i}WithAnExtremelyLongIdentifierThatHasNoSpacesAtAll"),
            _ => format!("Step {i}"),
        })
        .collect();
    let mut csv = String::from("case,activity,time\r\n");
    for c in 0..60i64 {
        let mut t = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap();
        for n in &names {
            t += chrono::Duration::minutes(37 + (c * 977) % 4000);
            csv.push_str(&format!("{c},\"{n}\",{}\r\n", t.to_rfc3339()));
        }
    }
    let dir = std::env::temp_dir().join(format!("wi-view-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("long.csv");
    std::fs::write(&file, csv).unwrap();
    let m = workflow_intel::history::mapping::Mapping::parse(
        "workflow = \"Long names\"\n[case]\nid = \"case\"\n[event]\nactivity = \"activity\"\ntimestamp = \"time\"\n",
    )
    .unwrap();
    let done = workflow_intel::history::import_file(
        &app.app.state,
        &workflow_intel::history::Destination::Company(auth),
        &file,
        &m,
        false,
    )
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let wf = done.workflow_id.to_string();
    let q = "query($w: ID!) { workflow(id: $w) { steps } }";
    let steps = app.data(&token, q, json!({"w": wf})).await["workflow"]["steps"].clone();
    assert_eq!(steps.as_array().unwrap().len(), 25, "{steps}");

    let mut b = Browser::launch(&chromium);
    let url = board(
        &app.url(""),
        &token,
        &format!("?view=workflow&workflow={wf}"),
    );
    b.open("w", &url).await;
    b.wait(
        "w",
        "document.querySelectorAll('svg.graph g.node').length === 26",
    )
    .await;
    every_text_fits_its_box(&mut b, "w").await;
    let stats = b
        .eval("w", "[...document.querySelectorAll('svg.graph text.stat')].filter(t => t.textContent.includes('runs')).length")
        .await;
    assert_eq!(stats, json!(25), "every step shows its recorded runs");
}

async fn the_workflow_view_highlights_a_selected_path(
    b: &mut Browser,
    app: &TestApp,
    token: &str,
    workflow: &str,
) {
    let url = board(
        &app.url(""),
        token,
        &format!("?view=workflow&workflow={workflow}"),
    );
    b.open("w", &url).await;
    b.wait("w", "document.querySelectorAll('svg.graph g.node').length > 0 && document.querySelectorAll('button.path').length").await;
    every_text_fits_its_box(b, "w").await;
    let q = "query($w: ID!) { workflowPaths(workflowId: $w) { paths { steps } } }";
    let paths = app.data(token, q, json!({"w": workflow})).await["workflowPaths"]["paths"].clone();
    let longest = paths
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| p["steps"].as_array().unwrap().len())
        .unwrap();
    // By keyboard: focus the path's button and press Enter.
    let focus = format!(
        "document.querySelector('button.path[data-path=\"{}\"]').focus()",
        longest.0
    );
    b.eval("w", &focus).await;
    b.run(json!({"op": "press", "page": "w", "key": "Enter"}))
        .await;
    let lit = b
        .eval(
            "w",
            "[...document.querySelectorAll('svg.graph g.node.on-path')].map(n => n.dataset.step)",
        )
        .await;
    let mut want: Vec<&str> = longest.1["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut got: Vec<&str> = lit
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    if let Ok(path) = std::env::var("BOARD_SCREENSHOT") {
        let path = path.replace(".png", "-workflow.png");
        b.screenshot("w", std::path::Path::new(&path)).await;
    }
    let pressed = b
        .eval(
            "w",
            "document.querySelectorAll('button.path[aria-pressed=\"true\"]').length",
        )
        .await;
    assert_eq!(pressed, 1);
    // The heat map's figures are in text as well as colour, and match the API's.
    let share = b
        .eval(
            "w",
            "document.querySelector('table.stats tbody tr').textContent",
        )
        .await;
    assert!(share.as_str().unwrap().contains('%'), "{share}");
}

/// A server process on a fixed port, so that it can be stopped and started again.
struct Server {
    child: std::process::Child,
}

impl Server {
    async fn start(db: &CliDb, port: u16) -> Server {
        let server = Server {
            child: db.spawn(&["serve", "--bind", &format!("127.0.0.1:{port}")]),
        };
        let url = format!("http://127.0.0.1:{port}/healthz");
        for _ in 0..300 {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        server.stop();
        panic!("the server did not answer on port {port}");
    }

    /// Kills the process at once, as a crash would (its connections drop unclosed).
    fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn after_a_restart_the_board_resumes_and_shows_a_missed_breach_once() {
    let Some(chromium) = browser::available("board browser test") else {
        return;
    };
    let db = CliDb::new().await;
    let token = db.admin_token();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server::start(&db, port).await;
    let cw = "mutation { createWorkflow(input: {name: \"Refunds\", steps: [{name: \"Refund\", action: \"x\"}]}) { workflow { id } } }";
    let wf =
        post_data(&base, &token, cw, json!({})).await["createWorkflow"]["workflow"]["id"].clone();
    sla(&base, &token, &wf, 2).await;
    let start =
        "mutation($w: ID!) { startExecution(input: {workflowId: $w}) { execution { id } } }";

    let mut b = Browser::launch(&chromium);
    b.open("a", &board(&base, &token, "")).await;
    b.wait("a", LIVE).await;
    b.eval("a", "window.__sameDocument = true").await;
    post_data(&base, &token, start, json!({"w": wf})).await;
    b.wait(
        "a",
        "document.querySelectorAll('#breach-rows tr').length === 1",
    )
    .await;
    // Notes half typed into the first row stay there while more breaches arrive.
    b.fill("a", "#breach-rows tr input", "checking the refund queue")
        .await;

    // The second execution's deadline passes while the server is down. The page is held
    // away (its new sockets refused) until the restarted server has recorded that breach, so
    // the breach fired during the page's gap whichever replica timing the database has.
    post_data(&base, &token, start, json!({"w": wf})).await;
    server.stop();
    b.run(json!({"op": "block_ws", "page": "a"})).await;
    b.wait(
        "a",
        "document.querySelector('#connection').dataset.state === 'reconnecting'",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let _server = Server::start(&db, port).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while post_data(&base, &token, BREACHES, json!({})).await["slaBreaches"]["nodes"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the missed breach was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused = b.run(json!({"op": "unblock_ws", "page": "a"})).await;
    assert!(
        refused.as_u64().is_some_and(|n| n > 0),
        "the page was never held away: {refused}"
    );
    let state = b
        // The list's refresh on reconnecting can draw the second row before the replayed
        // event arrives and is counted, so wait for the count too.
        .wait("a", "document.querySelector('#connection').dataset.state === 'resumed' && document.querySelectorAll('#breach-rows tr').length === 2 && document.querySelector('#connection').textContent.includes('replayed') && document.querySelector('#connection').textContent")
        .await;
    assert!(
        state.as_str().unwrap().contains("1 missed event replayed"),
        "{state}"
    );
    let rows = post_data(&base, &token, BREACHES, json!({})).await["slaBreaches"]["nodes"].clone();
    let ids: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{rows}");
    // A moment later still each breach exactly once, in the same document.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    for id in ids {
        let n = b
            .eval(
                "a",
                &format!("document.querySelectorAll('tr[data-breach=\"{id}\"]').length"),
            )
            .await;
        assert_eq!(n, 1, "breach {id} shown {n} times");
    }
    assert_eq!(b.eval("a", "window.__sameDocument").await, true);
    let typed = "[...document.querySelectorAll('#breach-rows tr input')].map(i => i.value)";
    let notes = b.eval("a", typed).await;
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "checking the refund queue"),
        "{notes}"
    );
}

/// 400 warning and 100 critical breaches open on one SLA: imported as 300 executions of 15 s
/// (over the 10 s warning) and 100 of 30 s (over both thresholds).
async fn five_hundred_open_breaches(app: &TestApp, token: &str) -> String {
    let wf = create_workflow(
        app,
        token,
        "Claims",
        json!([{"name": "Assess", "action": "x"}]),
    )
    .await;
    let input = json!({"workflowId": wf["id"], "name": "Claim turnaround", "targetDurationSeconds": 10,
        "warningThresholdSeconds": 10, "criticalThresholdSeconds": 20});
    let sla = post_data(&app.url(""), token, CREATE_SLA, json!({"input": input})).await["createSla"]["sla"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = Utc::now();
    let execs: Vec<Value> = (0..400i64)
        .map(|i| {
            let end = now - Duration::seconds(60 + i * 7);
            let took = if i < 300 { 15 } else { 30 };
            json!({"workflowId": wf["id"], "externalId": format!("claim-{i}"), "status": "COMPLETED",
                   "startedAt": (end - Duration::seconds(took)).to_rfc3339(), "completedAt": end.to_rfc3339()})
        })
        .collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { breaches } }";
    let r = app
        .data(token, q, json!({"i": {"executions": execs}}))
        .await;
    assert_eq!(r["importExecutions"]["breaches"], 500, "{r}");
    sla
}

#[tokio::test]
async fn a_long_day_board_puts_tiles_first_groups_and_pages_500_breaches_and_exports_csv() {
    let Some(chromium) = browser::available("board browser test") else {
        return;
    };
    let app = TestApp::spawn().await;
    let token = app.token("Acme", "ops@acme.io", Role::Admin).await;
    let sla = five_hundred_open_breaches(&app, &token).await;
    let mut b = Browser::launch(&chromium);
    b.open("a", &board(&app.url(""), &token, "")).await;
    b.wait("a", "document.querySelector('#tiles')?.dataset.loaded")
        .await;
    b.wait("a", LIVE).await;
    let first = "document.querySelector('#tiles').compareDocumentPosition(document.querySelector('#breach-rows')) & Node.DOCUMENT_POSITION_FOLLOWING";
    assert_eq!(
        b.eval("a", first).await,
        4,
        "the tiles come before the breaches"
    );
    let groups = "[...document.querySelectorAll('#breach-groups button')].map(g => [g.dataset.group, Number(g.querySelector('.count').textContent)])";
    assert_eq!(
        b.eval("a", groups).await,
        json!([
            [format!("{sla}:WARNING"), 400],
            [format!("{sla}:CRITICAL"), 100]
        ])
    );
    let shown = "[document.querySelector('#breach-count').textContent, document.querySelectorAll('#breach-rows tr').length]";
    assert_eq!(
        b.eval("a", shown).await,
        json!(["500", 50]),
        "one page of 50"
    );
    b.click("a", "#more").await;
    b.wait(
        "a",
        "document.querySelectorAll('#breach-rows tr').length === 100",
    )
    .await;

    // One group: its rows only, and the CSV of just those.
    b.click(
        "a",
        &format!("#breach-groups button[data-group='{sla}:CRITICAL']"),
    )
    .await;
    b.wait("a", &format!("location.search.includes('sla={sla}') && document.querySelector('#connection')?.dataset.state === 'live'"))
        .await;
    let rows = "[document.querySelector('#breach-count').textContent, [...new Set([...document.querySelectorAll('#breach-rows tr')].map(r => r.className))]]";
    assert_eq!(b.eval("a", rows).await, json!(["100", ["sev-critical"]]));
    the_csv_holds_what_the_filters_select(&mut b, &app, &token).await;
}

/// The board's CSV download of one group, and the export's refusals.
async fn the_csv_holds_what_the_filters_select(b: &mut Browser, app: &TestApp, token: &str) {
    b.click("a", "#csv").await;
    let csv = b
        .wait(
            "a",
            "document.querySelector('#csv-download')?.href && fetch(document.querySelector('#csv-download').href).then(r => r.text())",
        )
        .await;
    let csv = csv.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 101, "a header and 100 breaches");
    assert!(
        lines[0].starts_with("breach_id,detected_at,severity,sla,workflow"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(",CRITICAL,Claim turnaround,Claims,")),
        "{}",
        lines[1]
    );
    assert!(
        lines[1..].iter().any(|l| l.contains(",claim-3")),
        "external ids are in the export"
    );

    // The export refuses a missing token and a bad filter, with a code.
    let plain = reqwest::get(app.url("/api/breaches.csv")).await.unwrap();
    assert_eq!(plain.status(), 401);
    let bad = reqwest::Client::new()
        .get(app.url("/api/breaches.csv?severity=SEVERE"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
}

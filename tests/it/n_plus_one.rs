//! Relations go through DataLoaders: a page's SQL statement count does not grow with its size.
use crate::support::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use workflow_intel::model::Role;

const PAGE: &str = "query($n: Int) { workflows(first: $n) { totalCount edges { node { name owner { email role } actions { actionType latencyClass } } } } }";

async fn statements_for(app: &TestApp, token: &str, n: i32) -> (usize, usize) {
    let before = app.statements.load(Ordering::SeqCst);
    let d = app.data(token, PAGE, json!({"n": n})).await;
    let after = app.statements.load(Ordering::SeqCst);
    let edges = d["workflows"]["edges"].as_array().unwrap();
    for e in edges {
        assert!(e["node"]["owner"]["email"].is_string());
        assert_eq!(e["node"]["actions"].as_array().unwrap().len(), 3, "{e}");
    }
    (after - before, edges.len())
}

#[tokio::test]
async fn a_page_of_50_workflows_costs_as_many_statements_as_a_page_of_2() {
    // Tokens stay cached for the whole test: under load, creating the workflows below can take
    // longer than the default 5 s, and a page that missed the cache cost 2 statements more
    // than the page before it, which hit it (a flake seen with a build running beside the suite).
    let config = workflow_intel::config::Config {
        token_cache_seconds: 3600,
        ..Default::default()
    };
    let app = TestApp::spawn_requests_only_with(config).await;
    let admin = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for t in ["validation", "approval", "send_email"] {
        create_action(&app, &admin, t).await;
    }
    // Several owners, so the owner loader really batches distinct keys.
    let mut owners = Vec::new();
    for i in 0..5 {
        let email = format!("owner{i}@acme.io");
        app.token("Acme", &email, Role::Editor).await;
        owners.push(email);
    }
    let owner_ids: Vec<String> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        workflow_intel::entity::user::Entity::find()
            .filter(workflow_intel::entity::user::Column::Email.is_in(owners.clone()))
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id.to_string())
            .collect()
    };
    assert_eq!(owner_ids.len(), 5);
    for i in 0..50 {
        app.data(
            &admin,
            CREATE_WORKFLOW,
            json!({"input": {"name": format!("wf {i}"), "ownerId": owner_ids[i % 5], "steps": [
                {"name": "v", "action": "validation"},
                {"name": "m", "action": "approval", "approver": "manager"},
                {"name": "d", "action": "approval", "approver": "director"},
                {"name": "n", "action": "send_email"}
            ]}}),
        )
        .await;
    }
    let (small, n_small) = statements_for(&app, &admin, 2).await;
    let (large, n_large) = statements_for(&app, &admin, 50).await;
    assert_eq!((n_small, n_large), (2, 50));
    // count + page + owners (1 batch) + actions (1 batch) = 4, and auth (2) if the token
    // were not cached. Under load the
    // loader's 1 ms batching window can split one relation's keys into two batches, so allow
    // one extra; loading per item would cost 50 more.
    assert!(
        small <= 7 && large <= 7,
        "statements for 2 workflows: {small}, for 50: {large}"
    );
    assert!(
        large <= small + 1,
        "statements for 2 workflows: {small}, for 50: {large}"
    );
}

#[tokio::test]
async fn total_count_is_counted_only_when_selected() {
    let app = TestApp::spawn_requests_only().await;
    let admin = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for name in ["One", "Two", "Three"] {
        create_workflow(&app, &admin, name, json!([{"name": "s", "action": "x"}])).await;
    }
    let cost = |query: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            // Once to warm the token cache, then counted.
            app.data(&admin, query, json!({})).await;
            let before = app.statements.load(Ordering::SeqCst);
            let d = app.data(&admin, query, json!({})).await;
            assert_eq!(d["workflows"]["edges"].as_array().unwrap().len(), 2, "{d}");
            app.statements.load(Ordering::SeqCst) - before
        }
    };
    let page = cost("{ workflows(first: 2) { edges { node { name } } } }").await;
    let counted = cost("{ workflows(first: 2) { totalCount edges { node { name } } } }").await;
    assert_eq!((page, counted), (1, 2));
}

/// The dashboard's list: a page of breaches with their SLA and their execution's workflow.
const DASHBOARD: &str = "query($n: Int) { slaBreaches(first: $n) { TOTAL edges { node { id severity actualDurationSeconds sla { name targetDurationSeconds } execution { id status workflow { name } } } } } }";

/// Three workflows ("Flow i", each with its "SLA i" of 60 s) and 30 executions of 10 minutes
/// over them, imported: 60 breaches.
async fn sixty_breaches_over_three_workflows(app: &TestApp, admin: &str) {
    let mut workflows = Vec::new();
    for i in 0..3 {
        let wf = create_workflow(
            app,
            admin,
            &format!("Flow {i}"),
            json!([{"name": "a", "action": "task"}]),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let sla = json!({"i": {"workflowId": wf, "name": format!("SLA {i}"), "targetDurationSeconds": 60}});
        app.data(
            admin,
            "mutation($i: CreateSlaInput!) { createSla(input: $i) { sla { id } } }",
            sla,
        )
        .await;
        workflows.push(wf);
    }
    // 30 executions of 10 minutes over the three workflows: 60 breaches.
    let t0 = chrono::Utc::now() - chrono::Duration::days(1);
    let cases: Vec<_> = (0..30)
        .map(|i| {
            let start = t0 + chrono::Duration::minutes(i * 11);
            json!({"workflowId": workflows[i as usize % 3], "externalId": format!("c{i}"),
                   "status": "COMPLETED", "startedAt": start.to_rfc3339(),
                   "completedAt": (start + chrono::Duration::minutes(10)).to_rfc3339()})
        })
        .collect();
    let imported = app
        .data(
            admin,
            "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { breaches } }",
            json!({"i": {"executions": cases}}),
        )
        .await;
    assert_eq!(imported["importExecutions"]["breaches"], 60);
}

#[tokio::test]
async fn the_dashboard_list_costs_one_statement_with_its_total_or_without() {
    let app = TestApp::spawn_requests_only().await;
    let admin = app.token("Acme", "admin@acme.io", Role::Admin).await;
    sixty_breaches_over_three_workflows(&app, &admin).await;
    let count = |total: bool| {
        let q = DASHBOARD.replace("TOTAL", if total { "totalCount" } else { "" });
        let (app, admin) = (&app, &admin);
        async move {
            let before = app.statements.load(Ordering::SeqCst);
            let d = app.data(admin, &q, json!({"n": 20})).await;
            let n = app.statements.load(Ordering::SeqCst) - before;
            let edges = d["slaBreaches"]["edges"].as_array().unwrap().clone();
            assert_eq!(edges.len(), 20);
            for e in &edges {
                let node = &e["node"];
                assert!(node["sla"]["name"].as_str().unwrap().starts_with("SLA "));
                assert_eq!(node["sla"]["targetDurationSeconds"], 60);
                assert_eq!(node["execution"]["status"], "COMPLETED");
                let flow = node["execution"]["workflow"]["name"].as_str().unwrap();
                assert_eq!(
                    flow.replace("Flow", "SLA"),
                    node["sla"]["name"].as_str().unwrap()
                );
            }
            (n, d["slaBreaches"]["totalCount"].clone())
        }
    };
    // The token is verified once and then cached; the first request pays for it.
    count(false).await;
    let (without, _) = count(false).await;
    let (with, total) = count(true).await;
    assert_eq!(total, 60);
    assert_eq!(
        (without, with),
        (1, 1),
        "statements without and with totalCount"
    );
    // A second page by cursor costs the same.
    let q = "query($a: String) { slaBreaches(first: 20, after: $a) { pageInfo { endCursor } edges { node { sla { name } execution { workflow { name } } } } } }";
    let first = app.data(&admin, q, json!({"a": null})).await;
    let cursor = first["slaBreaches"]["pageInfo"]["endCursor"].clone();
    let before = app.statements.load(Ordering::SeqCst);
    let next = app.data(&admin, q, json!({"a": cursor})).await;
    assert_eq!(app.statements.load(Ordering::SeqCst) - before, 1);
    assert_eq!(next["slaBreaches"]["edges"].as_array().unwrap().len(), 20);
}

/// What one completion runs: one read (the execution, its workflow's SLAs and its breaches;
/// on SQLite its pauses too, in a second statement) before it queues for the writer; then on
/// the writer the update and the open pauses closed (and all of them returned), and at the
/// end of its write the rollups and running counts; and for its breaches three statements more
/// (the breaches, their counts, their events), however many SLAs it breaches (on PostgreSQL,
/// with the replicas' wake-up).
///
/// On SQLite statements travel in batches, each one command to a connection's thread: the
/// read is one, everything the completion writes one more, and the shared rows a third. So a
/// completion costs three commands, breaches or not. On PostgreSQL each statement is a
/// command of its own.
#[tokio::test]
async fn a_completion_is_three_commands_on_sqlite_whatever_it_breaches() {
    use chrono::{Duration, Utc};
    let s = crate::sla::requests_only().await;
    // A second SLA of the same workflow: an overrun breaches both.
    s.app
        .data(
            &s.token,
            crate::sla::CREATE_SLA,
            json!({"input": {"workflowId": s.workflow, "name": "Second", "targetDurationSeconds": 400,
                   "warningThresholdSeconds": 200, "criticalThresholdSeconds": 400}}),
        )
        .await;
    let start = Utc::now() - Duration::seconds(1000);
    let within = crate::sla::start_at(&s, start).await;
    let over = crate::sla::start_at(&s, start).await;
    let commands = &s.app.app.state.metrics.internals.db_commands_total;
    let cost = |id: String, secs: i64| {
        let s = &s;
        async move {
            let (before, sent) = (s.app.statements.load(Ordering::SeqCst), commands.get());
            let at = (start + Duration::seconds(secs)).to_rfc3339();
            let d = s
                .app
                .data(
                    &s.token,
                    crate::sla::COMPLETE,
                    json!({"input": {"executionId": id, "status": "COMPLETED", "completedAt": at}}),
                )
                .await;
            assert_eq!(d["completeExecution"]["execution"]["status"], "COMPLETED");
            let statements = s.app.statements.load(Ordering::SeqCst) - before;
            (statements, (commands.get() - sent) as usize)
        }
    };
    // On SQLite two statements more: the pauses' read, and the job's savepoint, which opens
    // in the writer's batch. (Sent unprepared, and seen by neither counter: BEGIN and COMMIT,
    // and on PostgreSQL the move of the queued events into the log after the commit, which
    // also wakes the other replicas.)
    let sqlite = s.app.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
    let batched = if sqlite { 2 } else { 0 };
    let (statements, sent) = cost(within, 100).await;
    assert_eq!(statements, 5 + batched, "within both SLAs");
    assert_eq!(
        sent,
        if sqlite { 3 } else { statements },
        "within both SLAs"
    );
    let (statements, sent) = cost(over, 500).await;
    assert_eq!(statements, 8 + batched, "over both SLAs: four breaches");
    assert_eq!(sent, if sqlite { 3 } else { statements }, "over both SLAs");
    assert_eq!(crate::sla::breaches(&s, json!({})).await.len(), 4);
}

/// Completions that the SQLite writer runs in one group add to their workflow's shared rows
/// (the rollups and the running counts) once for the group: each costs its read (two
/// statements, one command) and three statements on the writer (its savepoint, the update and
/// the pauses' close: one command), and each group two statements more (one command). On
/// PostgreSQL, where each completion is its own transaction, each writes its own.
#[tokio::test]
async fn completions_in_one_group_write_the_shared_rows_once() {
    use chrono::{Duration, Utc};
    let s = crate::sla::requests_only().await;
    let start = Utc::now() - Duration::seconds(1000);
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(crate::sla::start_at(&s, start).await);
    }
    let m = &s.app.app.state.metrics.internals;
    let (before, commits0, sent0) = (
        s.app.statements.load(Ordering::SeqCst),
        m.write_group_commits_total.get(),
        m.db_commands_total.get(),
    );
    let at = (start + Duration::seconds(100)).to_rfc3339();
    let calls = ids.iter().map(|id| {
        s.app.data(
            &s.token,
            crate::sla::COMPLETE,
            json!({"input": {"executionId": id, "status": "COMPLETED", "completedAt": at}}),
        )
    });
    for d in futures_util::future::join_all(calls).await {
        assert_eq!(d["completeExecution"]["execution"]["status"], "COMPLETED");
    }
    let statements = s.app.statements.load(Ordering::SeqCst) - before;
    let sent = (m.db_commands_total.get() - sent0) as usize;
    let groups = (m.write_group_commits_total.get() - commits0) as usize;
    match s.app.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => assert_eq!(statements, 40 * 5),
        _ => {
            assert!(groups < 40, "{groups} groups for 40 completions");
            assert_eq!(statements, 40 * 5 + 2 * groups, "{groups} groups");
            assert_eq!(sent, 40 * 2 + groups, "{groups} groups");
        }
    }
    // The counts are right: all 40 within the SLA, none running.
    let q = "query($id: ID!) { sla(id: $id) { metrics { total met } } }";
    let v = s.app.data(&s.token, q, json!({"id": s.sla})).await;
    assert_eq!(v["sla"]["metrics"], json!({"total": 40, "met": 40}));
}

/// The dashboard's one statement reads the related rows under prefixed names, each once. Every
/// column of every model it returns, and of every model it feeds the loaders, equals the ORM's
/// reading of the same row, including text, JSON and reals that a careless encoding would
/// change (a JSON encoding by the store, tried, rounded SQLite's reals to 15 digits).
#[tokio::test]
async fn the_dashboard_statement_reads_every_column_as_the_orm_does() {
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    };
    use workflow_intel::entity::{breach, execution, sla, workflow};
    use workflow_intel::sla::joined::{Wanted, fetch};
    let app = TestApp::spawn_requests_only().await;
    let admin = app.token("Acme", "admin@acme.io", Role::Admin).await;
    sixty_breaches_over_three_workflows(&app, &admin).await;
    let db = &app.db;
    let first = breach::Entity::find().order_by_asc(breach::Column::Id);
    let b = first.clone().one(db).await.unwrap().unwrap();
    let company = b.company_id;
    let odd = "quote \" backslash \\ newline\n tab\t NUL-free émoji 🚦 </script>";
    let t = chrono::Utc::now();
    let mut m: breach::ActiveModel = b.clone().into();
    m.notes = Set(odd.into());
    m.acknowledged = Set(true);
    m.acknowledged_by = Set(Some(uuid::Uuid::now_v7()));
    m.acknowledged_at = Set(Some(t));
    m.alert_sent_at = Set(Some(t - chrono::Duration::nanoseconds(1)));
    m.breach_margin_seconds = Set(0.1 + 0.2);
    m.actual_duration_seconds = Set(1.0 / 3.0);
    m.alert_recipients = Set(json!(["a@b.io", odd]));
    m.update(db).await.unwrap();
    let s = sla::Entity::find_by_id(b.sla_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut m: sla::ActiveModel = s.into();
    m.description = Set(odd.into());
    m.is_active = Set(false);
    m.slo_target_percentage = Set(99.95);
    m.applies_when = Set(Some(
        json!({"field": "x", "equals": [1.5, null, true, odd]}),
    ));
    m.escalation = Set(json!([{"afterSeconds": 60, "recipients": ["e@b.io"]}]));
    m.update(db).await.unwrap();
    let e = execution::Entity::find_by_id(b.execution_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let workflow_id = e.workflow_id;
    let mut m: execution::ActiveModel = e.into();
    m.input_data = Set(json!({"n": 1e-7, "big": 9007199254740993i64, "s": odd, "a": [{}]}));
    m.error = Set(Some(odd.into()));
    m.update(db).await.unwrap();
    let w = workflow::Entity::find_by_id(workflow_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut m: workflow::ActiveModel = w.into();
    m.input_schema = Set(Some(json!({"type": "object", "title": odd})));
    m.update(db).await.unwrap();

    let loaders = workflow_intel::graphql_base::loaders::Loaders::new(db.clone(), company);
    let page = first
        .filter(breach::Column::CompanyId.eq(company))
        .limit(21);
    let want = Wanted {
        sla: true,
        execution: true,
        workflow: true,
    };
    let (rows, _) = fetch(db, page.clone(), want, None, &loaders).await.unwrap();
    assert_eq!(rows, page.all(db).await.unwrap());
    assert_eq!(rows[0].notes, odd);
    // What the loaders hold, with no statement run: fed by the page, not loaded.
    let before = app.statements.load(Ordering::SeqCst);
    let mut fed = Vec::new();
    for r in &rows {
        let s = loaders.slas.load_one(r.sla_id).await.unwrap().unwrap();
        let e = loaders
            .executions
            .load_one(r.execution_id)
            .await
            .unwrap()
            .unwrap();
        let w = loaders
            .workflows
            .load_one(e.workflow_id)
            .await
            .unwrap()
            .unwrap();
        fed.push(((*s).clone(), (*e).clone(), (*w).clone()));
    }
    assert_eq!(app.statements.load(Ordering::SeqCst), before);
    // What the ORM reads for the same rows.
    let mut read = Vec::new();
    for (s, e, w) in &fed {
        read.push((
            sla::Entity::find_by_id(s.id)
                .one(db)
                .await
                .unwrap()
                .unwrap(),
            execution::Entity::find_by_id(e.id)
                .one(db)
                .await
                .unwrap()
                .unwrap(),
            workflow::Entity::find_by_id(w.id)
                .one(db)
                .await
                .unwrap()
                .unwrap(),
        ));
    }
    assert_eq!(fed, read);
}

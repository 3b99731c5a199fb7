//! A completion reads the execution before it queues for the writer, and writes after. What
//! another write records in between (a pause, a breach the deadline watcher records) still
//! counts: on SQLite the completion's one-batch write meets it, is rolled back and is written
//! step by step; on PostgreSQL it is written step by step anyway.
//!
//! The writer is held by a job of the test's own until the completion has read and queued.
//! That is the SQLite group writer's queue, on a file (readers beside the writer): on
//! PostgreSQL, where a completion reads its pauses and breaches inside its own transaction,
//! these tests return at once.
use crate::sla::{COMPLETE, Setup, breaches, start_at, t0, with_app};
use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, Set};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;
use workflow_intel::clock::ManualClock;
use workflow_intel::config::Config;
use workflow_intel::entity::execution;
use workflow_intel::error::AppResult;

type Between = Box<
    dyn for<'a> FnOnce(
            &'a DatabaseTransaction,
        ) -> futures_util::future::BoxFuture<'a, AppResult<()>>
        + Send,
>;

/// Completes `exec` at `at` while a write job of the test's own holds the writer; that job runs
/// `between` once the completion has read and queued behind it.
async fn complete_around(s: &Setup, exec: &str, at: DateTime<Utc>, between: Between) -> Value {
    let state = s.app.app.state.clone();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let writes = state.clone();
    let blocker = tokio::spawn(async move {
        writes
            .writes
            .write(move |txn| {
                Box::pin(async move {
                    let _ = held_tx.send(());
                    let _ = go_rx.await;
                    between(txn).await
                })
            })
            .await
    });
    held_rx.await.unwrap();
    let input = json!({"input": {"executionId": exec, "status": "COMPLETED", "completedAt": at.to_rfc3339()}});
    let completion = s.app.gql(Some(&s.token), COMPLETE, input);
    // A completion that fails before it queues never shows in the queue: the test fails then,
    // instead of waiting for it forever.
    let release = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut queued = false;
        while !queued && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            queued = state.writes.queued() > 0;
        }
        go_tx.send(()).unwrap();
        queued
    };
    let (done, queued) = tokio::join!(completion, release);
    assert!(
        queued,
        "the completion never queued behind the held writer: {done}"
    );
    blocker.await.unwrap().unwrap();
    done
}

/// The SLA tests' setup on a SQLite file (a writer beside readers, as the server runs, so the
/// completion reads while the writer is held), without background tasks; None on PostgreSQL.
async fn on_sqlite_file() -> Option<(Setup, DbFile)> {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        eprintln!("notice: the SQLite writer's queue only; nothing to race on PostgreSQL");
        return None;
    }
    let (path, file) = DbFile::new();
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pools = workflow_intel::db::connect_pools(&url).await.unwrap();
    workflow_intel::db::migrate(&pools.write).await.unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let app = TestApp::spawn_requests_only_on(Config::default(), pools, clock.clone()).await;
    Some((with_app(app, clock, json!([])).await, file))
}

/// An execution running since `start` (1,000 s before the manual clock's t0) on a SQLite file
/// (removed when `_file` drops: keep it bound for the whole test), with its row and its SLA's
/// id.
struct Running {
    s: Setup,
    _file: DbFile,
    exec: String,
    row: execution::Model,
    sla: Uuid,
    start: DateTime<Utc>,
}

async fn running() -> Option<Running> {
    let (s, file) = on_sqlite_file().await?;
    let start = t0() - Duration::seconds(1000);
    let exec = start_at(&s, start).await;
    let id = Uuid::parse_str(&exec).unwrap();
    let row = execution::Entity::find_by_id(id)
        .one(&s.app.app.state.db)
        .await
        .unwrap()
        .unwrap();
    let sla = Uuid::parse_str(&s.sla).unwrap();
    Some(Running {
        s,
        _file: file,
        exec,
        row,
        sla,
        start,
    })
}

/// A 600 s run with 400 s paused counts 200 s against the 300 s SLA (warning at 240 s): no
/// breach. Had the completion used only what it read (no pause), it would breach both
/// thresholds.
#[tokio::test]
async fn a_pause_recorded_between_a_completions_read_and_its_write_counts() {
    let Some(Running {
        s,
        _file,
        exec,
        row,
        start,
        ..
    }) = running().await
    else {
        return;
    };
    let (exec_id, company, workflow_id) = (row.id, row.company_id, row.workflow_id);
    let pause: Between = Box::new(move |txn| {
        Box::pin(async move {
            let p = workflow_intel::entity::execution_pause::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(company),
                execution_id: Set(exec_id),
                workflow_id: Set(workflow_id),
                paused_at: Set(start + Duration::seconds(100)),
                resumed_at: Set(Some(start + Duration::seconds(500))),
                reason: Set("recorded meanwhile".into()),
                sla_id: Set(None),
                created_at: Set(start),
                updated_at: Set(start),
            };
            p.insert(txn).await?;
            Ok(())
        })
    });
    let done = complete_around(&s, &exec, start + Duration::seconds(600), pause).await;
    assert!(done.get("errors").is_none(), "{done}");
    assert_eq!(
        done["data"]["completeExecution"]["execution"]["durationMs"],
        600_000
    );
    assert_eq!(breaches(&s, json!({})).await, Vec::<Value>::new());
}

/// The deadline watcher records the WARNING breach at 1,000 s while the completion, which read
/// no breach, waits for the writer. The completion at 600 s finds it: it brings it to its final
/// 600 s instead of recording it twice, and records the CRITICAL one.
#[tokio::test]
async fn a_breach_recorded_between_a_completions_read_and_its_write_is_finalized() {
    let Some(Running {
        s,
        _file,
        exec,
        row,
        sla: sla_id,
        start,
    }) = running().await
    else {
        return;
    };
    let exec_id = row.id;
    let alerting = s.app.app.state.alerting();
    let live: Between = Box::new(move |txn| {
        Box::pin(async move {
            let warning = workflow_intel::sla::Severity::Warning;
            workflow_intel::sla::service::fire_live(txn, exec_id, sla_id, warning, t0(), alerting)
                .await?;
            Ok(())
        })
    });
    let done = complete_around(&s, &exec, start + Duration::seconds(600), live).await;
    assert!(done.get("errors").is_none(), "{done}");
    let mut got: Vec<(String, f64)> = breaches(&s, json!({}))
        .await
        .iter()
        .map(|b| {
            let sev = b["severity"].as_str().unwrap().to_string();
            (sev, b["actualDurationSeconds"].as_f64().unwrap())
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![("CRITICAL".into(), 600.0), ("WARNING".into(), 600.0)]
    );
}

//! The SLO rollups against a recount from the execution rows, through every path that writes
//! them: imports, live completions, an SLA created over history, changed thresholds, and the
//! migration that backfills them.
use crate::sla::{COMPLETE, CREATE_SLA, Setup, setup, start_at, t0};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use workflow_intel::clock::Clock;
use workflow_intel::config::Config;
use workflow_intel::entity::{execution, sla, sla_rollup};
use workflow_intel::sla::buckets::{GRAINS, bucket};
use workflow_intel::sla::service::objective;
use workflow_intel::sla::slo::{Counts, Sample, Samples, report};

/// The workflow's completed executions, as stored.
async fn samples(s: &Setup) -> Vec<Sample> {
    let wf = uuid::Uuid::parse_str(&s.workflow).unwrap();
    execution::Entity::find()
        .filter(execution::Column::WorkflowId.eq(wf))
        .all(&s.app.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| {
            Some(Sample {
                completed_at: e.completed_at?,
                duration_ms: e.duration_ms?,
            })
        })
        .collect()
}

type Table = BTreeMap<(i16, i64), (i64, i64, i64, i64)>;

/// Every SLA's rollup rows equal a recount, and its metrics equal a report over every row.
async fn check(s: &Setup, when: &str) {
    let rows = samples(s).await;
    let slas = sla::Entity::find().all(&s.app.db).await.unwrap();
    assert!(slas.len() >= 3, "{when}");
    for x in &slas {
        let o = objective(x);
        let mut want = Table::new();
        for r in &rows {
            let c = Counts::of(r.duration_ms, &o);
            for (grain, width) in GRAINS {
                let e = want
                    .entry((grain, bucket(r.completed_at, width)))
                    .or_default();
                *e = (
                    e.0 + c.total,
                    e.1 + c.met,
                    e.2 + c.warning,
                    e.3 + c.critical,
                );
            }
        }
        // A bucket's shards summed (on PostgreSQL concurrent writers add to different ones).
        let mut got = Table::new();
        for r in sla_rollup::Entity::find()
            .filter(sla_rollup::Column::SlaId.eq(x.id))
            .all(&s.app.db)
            .await
            .unwrap()
        {
            let e = got.entry((r.grain, r.bucket)).or_default();
            *e = (
                e.0 + r.total,
                e.1 + r.met,
                e.2 + r.warning,
                e.3 + r.critical,
            );
        }
        assert_eq!(got, want, "{when}: the rollups of {}", x.name);
        for window in [1, 3, 24, 72] {
            let want = report(&Samples(&rows, &o), &o, window, s.clock.now());
            let q = "query($id: ID!, $w: Int) { sla(id: $id) { metrics(windowHours: $w) { total met breachedWarning breachedCritical burnRate burnRates { longBurnRate shortBurnRate } } } }";
            let v = json!({"id": x.id.to_string(), "w": window});
            let m = s.app.data(&s.token, q, v).await["sla"]["metrics"].clone();
            let burns: Vec<Value> = want
                .burn_rates
                .iter()
                .map(|b| json!({"longBurnRate": b.long_burn_rate, "shortBurnRate": b.short_burn_rate}))
                .collect();
            let expected = json!({"total": want.total, "met": want.met,
                "breachedWarning": want.breached_warning, "breachedCritical": want.breached_critical,
                "burnRate": want.burn_rate, "burnRates": burns});
            assert_eq!(m, expected, "{when}: {} over {window} h", x.name);
        }
    }
}

/// `n` finished executions over the 80 hours before now, 0–10 minutes long, imported in one
/// batch. None is left running: the deadline watcher would write breaches (and their counts)
/// at any moment, also while a test runs the migrations again.
async fn import(s: &Setup, rng: &mut StdRng, tag: &str, n: usize) {
    let now = s.clock.now();
    let cases: Vec<Value> = (0..n)
        .map(|i| {
            let done = now - Duration::milliseconds(rng.random_range(0..80 * 3_600_000));
            let start = done - Duration::milliseconds(rng.random_range(0..600_000));
            json!({"workflowId": s.workflow, "externalId": format!("{tag}-{i}"), "status": "COMPLETED",
                   "startedAt": start.to_rfc3339(), "completedAt": done.to_rfc3339()})
        })
        .collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }";
    let r = s
        .app
        .data(&s.token, q, json!({"i": {"executions": cases}}))
        .await;
    assert_eq!(r["importExecutions"]["imported"], n, "{r}");
}

/// Starts an execution backdated by up to 10 minutes and completes it through the API.
async fn run_live(s: &Setup, rng: &mut StdRng, started_at: DateTime<Utc>) {
    let id = start_at(s, started_at).await;
    s.clock
        .advance(Duration::milliseconds(rng.random_range(0..40_000)));
    let v = json!({"input": {"executionId": id, "status": "COMPLETED"}});
    s.app.data(&s.token, COMPLETE, v).await;
}

async fn create_sla(s: &Setup, name: &str, target: i64, active: bool) {
    let input = json!({"workflowId": s.workflow, "name": name, "targetDurationSeconds": target,
        "warningThresholdSeconds": target / 2, "criticalThresholdSeconds": target * 2, "isActive": active});
    s.app
        .data(&s.token, CREATE_SLA, json!({"input": input}))
        .await;
}

#[tokio::test]
async fn slo_rollups_equal_a_recount_from_the_rows_through_every_write_path() {
    let s = setup(Config::default(), json!([])).await;
    let mut rng = StdRng::seed_from_u64(11);
    s.clock.set(t0() + Duration::milliseconds(1_234));
    create_sla(&s, "Inactive", 120, false).await;
    import(&s, &mut rng, "a", 400).await;
    for _ in 0..25 {
        let back = Duration::milliseconds(rng.random_range(0..600_000));
        run_live(&s, &mut rng, s.clock.now() - back).await;
    }
    // Created over the history: its rollups are counted from the rows at once.
    create_sla(&s, "Later", 200, true).await;
    import(&s, &mut rng, "b", 150).await;
    check(&s, "after imports and live completions").await;
    // New thresholds: every rollup of that SLA is recounted.
    let q = "mutation($i: UpdateSlaInput!) { updateSla(input: $i) { sla { id } } }";
    let v = json!({"i": {"id": s.sla, "targetDurationSeconds": 100, "warningThresholdSeconds": 50, "criticalThresholdSeconds": 400}});
    s.app.data(&s.token, q, v).await;
    s.clock.advance(Duration::milliseconds(4_321_987));
    check(&s, "after new thresholds").await;
    // The day grain's migration, which sums the days from the hour rows: undone (it deletes
    // the day rows) with the three after it (the counters' shards summed back into one row
    // each), and run again with them.
    use migration::{Migrator, MigratorTrait};
    Migrator::down(&s.app.db, Some(4)).await.unwrap();
    Migrator::up(&s.app.db, None).await.unwrap();
    check(&s, "after the migration's backfill").await;
}

/// Every breach of the company, by (SLA id, severity, acknowledged), read page by page.
async fn all_breaches(s: &Setup) -> Vec<(String, String, bool)> {
    let q = "query($a: String) { slaBreaches(first: 100, after: $a) { pageInfo { hasNextPage endCursor } edges { node { severity acknowledged sla { id } } } } }";
    let (mut out, mut after) = (Vec::new(), Value::Null);
    loop {
        let page = s.app.data(&s.token, q, json!({"a": after})).await["slaBreaches"].clone();
        for e in page["edges"].as_array().unwrap() {
            let n = &e["node"];
            out.push((
                n["sla"]["id"].as_str().unwrap().to_string(),
                n["severity"].as_str().unwrap().to_string(),
                n["acknowledged"].as_bool().unwrap(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// `totalCount` under every combination of filters equals a count of the listed breaches.
async fn check_counts(s: &Setup, slas: &[String], when: &str) {
    let all = all_breaches(s).await;
    let q = "query($f: BreachFilterInput) { slaBreaches(first: 1, filter: $f) { totalCount } }";
    let slas: Vec<Option<&String>> = std::iter::once(None).chain(slas.iter().map(Some)).collect();
    for sla in &slas {
        for sev in [None, Some("WARNING"), Some("CRITICAL")] {
            for ack in [None, Some(false), Some(true)] {
                let want = all
                    .iter()
                    .filter(|b| sla.is_none_or(|x| *x == b.0))
                    .filter(|b| sev.is_none_or(|x| x.eq_ignore_ascii_case(&b.1)))
                    .filter(|b| ack.is_none_or(|x| x == b.2))
                    .count();
                let f = json!({"slaId": sla, "severity": sev, "acknowledged": ack});
                let got =
                    &s.app.data(&s.token, q, json!({"f": f})).await["slaBreaches"]["totalCount"];
                assert_eq!(got, want, "{when}: {f}");
            }
        }
    }
    let f = json!({"workflowId": s.workflow});
    let got = &s.app.data(&s.token, q, json!({"f": f})).await["slaBreaches"]["totalCount"];
    assert_eq!(got, all.len(), "{when}: by workflow");
}

#[tokio::test]
async fn breach_total_counts_equal_a_recount_under_every_filter() {
    let s = setup(Config::default(), json!([])).await;
    let mut rng = StdRng::seed_from_u64(5);
    s.clock.set(t0() + Duration::milliseconds(777));
    create_sla(&s, "Tight", 100, true).await;
    import(&s, &mut rng, "a", 120).await;
    let slas: Vec<String> = sla::Entity::find()
        .all(&s.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id.to_string())
        .collect();
    let ids: Vec<String> = {
        let q = "{ slaBreaches(first: 100) { edges { node { id } } } }";
        let d = s.app.data(&s.token, q, json!({})).await;
        d["slaBreaches"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(ids.len() > 40, "{} breaches", ids.len());
    let ack = "mutation($id: ID!) { acknowledgeBreach(input: {id: $id, notes: \"seen\"}) { breach { id } } }";
    for id in ids.iter().step_by(3) {
        s.app.data(&s.token, ack, json!({"id": id})).await;
    }
    // Acknowledging twice is refused and counts nothing.
    let again = s.app.gql(Some(&s.token), ack, json!({"id": ids[0]})).await;
    assert_eq!(crate::support::code(&again), "CONFLICT", "{again}");
    check_counts(&s, &slas, "after imports and acknowledgements").await;
    // The shards' migration undone (each count's shards summed into one row) and run again.
    use migration::{Migrator, MigratorTrait};
    Migrator::down(&s.app.db, Some(1)).await.unwrap();
    Migrator::up(&s.app.db, None).await.unwrap();
    check_counts(&s, &slas, "after the migration's backfill").await;
    let del = "mutation($id: ID!) { deleteSla(input: {id: $id}) { deletedId } }";
    s.app.data(&s.token, del, json!({"id": slas[1]})).await;
    check_counts(&s, &slas[..1], "after deleting an SLA").await;
}

/// The store's count of overdue running executions (one statement over the running ones'
/// index) equals a count of each one's deadline and elapsed time, on both stores: for starts
/// at random and on, 1 ms and 1 µs either side of every bound the statement sorts them by
/// (the target passing, each threshold passing, each span's start less the target).
#[tokio::test]
async fn overdue_counts_from_the_store_equal_counts_of_every_running_execution() {
    use workflow_intel::sla::buckets::needs;
    use workflow_intel::sla::overdue::{from_rows, in_store, per_split};
    use workflow_intel::sla::sla_time::SlaTime;
    use workflow_intel::sla::slo::spans;
    let s = setup(Config::default(), json!([])).await;
    let mut rng = StdRng::seed_from_u64(5);
    let now = t0();
    let splits = needs(now, &spans(24));
    let mut starts: Vec<DateTime<Utc>> = (0..40)
        .map(|_| now - Duration::milliseconds(rng.random_range(0..30 * 3_600_000)))
        .collect();
    // The SLA: 300 s target, 240 s warning, 300 s critical.
    let mut bounds: Vec<DateTime<Utc>> = [300, 240]
        .iter()
        .flat_map(|&x| {
            [
                now - Duration::seconds(x),
                now - Duration::milliseconds(x * 1000 + 1),
            ]
        })
        .collect();
    bounds.extend(
        splits
            .iter()
            .map(|x| DateTime::from_timestamp(x.sa - 300, 0).unwrap()),
    );
    for b in bounds {
        for d in [0, 1_000, 1] {
            starts.extend([b - Duration::microseconds(d), b + Duration::microseconds(d)]);
        }
    }
    for at in &starts {
        start_at(&s, *at).await;
    }
    let x = sla::Entity::find().one(&s.app.db).await.unwrap().unwrap();
    let o = objective(&x);
    for later in [0, 1, 999, 60_000, 3_600_000] {
        let at = now + Duration::milliseconds(later);
        let splits = needs(at, &spans(24));
        let got = in_store(&s.app.db, &x, at, &splits).await.unwrap();
        let rows = from_rows(&s.app.db, &x, at, &SlaTime::Wall).await.unwrap();
        assert!(rows.len() > 20, "{} overdue", rows.len());
        let want = per_split(&rows, &o, &splits);
        assert_eq!(got, want, "{later} ms after t0");
    }
}

/// The workflow's running executions (status running, not completed) by start, recounted from
/// the rows, against the stored counts; and how many started from instants on, against a
/// count of the rows.
async fn check_running(s: &Setup, rng: &mut StdRng, when: &str) {
    use workflow_intel::entity::running_rollup;
    use workflow_intel::sla::running::{Since, started_from};
    let wf = uuid::Uuid::parse_str(&s.workflow).unwrap();
    let starts: Vec<DateTime<Utc>> = execution::Entity::find()
        .filter(execution::Column::WorkflowId.eq(wf))
        .all(&s.app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.status == "running" && e.completed_at.is_none())
        .map(|e| e.started_at)
        .collect();
    assert!(starts.len() > 20, "{when}: {} running", starts.len());
    let mut want: BTreeMap<(i16, i64), i64> = BTreeMap::new();
    for at in &starts {
        for (grain, width) in GRAINS {
            *want.entry((grain, bucket(*at, width))).or_default() += 1;
        }
    }
    let mut got: BTreeMap<(i16, i64), i64> = BTreeMap::new();
    for r in running_rollup::Entity::find()
        .filter(running_rollup::Column::WorkflowId.eq(wf))
        .all(&s.app.db)
        .await
        .unwrap()
    {
        *got.entry((r.grain, r.bucket)).or_default() += r.running;
    }
    got.retain(|_, n| *n != 0);
    assert_eq!(got, want, "{when}: the counts by start");
    // Instants at random, and on and 1 µs either side of starts.
    let mut froms: Vec<Since> = Vec::new();
    for (k, at) in starts.iter().enumerate().take(30) {
        let d = Duration::microseconds([0, 1, -1][k % 3]);
        froms.push(Since {
            at: *at + d,
            strict: k % 2 == 0,
        });
    }
    for k in 0..20 {
        let at = t0() - Duration::milliseconds(rng.random_range(-60_000..31 * 3_600_000));
        froms.push(Since {
            at,
            strict: k % 2 == 0,
        });
    }
    let x = sla::Entity::find().one(&s.app.db).await.unwrap().unwrap();
    let got = started_from(&s.app.db, wf, x.company_id, &froms)
        .await
        .unwrap();
    let want: Vec<i64> = froms
        .iter()
        .map(|f| {
            let from = |at: &&DateTime<Utc>| if f.strict { **at > f.at } else { **at >= f.at };
            starts.iter().filter(from).count() as i64
        })
        .collect();
    assert_eq!(got, want, "{when}: started from");
}

/// The counts of running executions by start time, which let the SLO reports count overdue
/// executions without reading them, follow every write that starts, imports or completes one,
/// and the migration counts the ones already there.
#[tokio::test]
async fn running_counts_by_start_equal_a_recount_through_every_write_path() {
    let s = setup(Config::default(), json!([])).await;
    let mut rng = StdRng::seed_from_u64(17);
    let now = t0();
    let mut started = Vec::new();
    for k in 0..40 {
        // Pairs in the same second, to test the part read from the rows.
        let back = if k % 4 == 1 {
            0
        } else {
            rng.random_range(0..30 * 3_600_000)
        };
        let at = now - Duration::milliseconds(back + k % 2 * 137);
        started.push(start_at(&s, at).await);
    }
    let cases: Vec<Value> = (0..25)
        .map(|i| {
            let start = now - Duration::milliseconds(rng.random_range(0..30 * 3_600_000));
            let status = ["RUNNING", "RUNNING", "RUNNING", "PAUSED", "COMPLETED"][i % 5];
            let done = (status == "COMPLETED").then(|| now.to_rfc3339());
            json!({"workflowId": s.workflow, "externalId": format!("r-{i}"), "status": status,
                   "startedAt": start.to_rfc3339(), "completedAt": done})
        })
        .collect();
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }";
    s.app
        .data(&s.token, q, json!({"i": {"executions": cases}}))
        .await;
    let imported: Vec<String> = execution::Entity::find()
        .filter(execution::Column::ExternalId.is_not_null())
        .all(&s.app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.completed_at.is_none())
        .map(|e| e.id.to_string())
        .collect();
    // Every third live one, and every fourth imported one (running or paused).
    let done = started.iter().step_by(3).chain(imported.iter().step_by(4));
    for id in done {
        let v = json!({"input": {"executionId": id, "status": "FAILED"}});
        s.app.data(&s.token, COMPLETE, v).await;
    }
    check_running(&s, &mut rng, "after starts, imports and completions").await;
    // The running counts' migration undone with the shards' after it, and run again.
    use migration::{Migrator, MigratorTrait};
    Migrator::down(&s.app.db, Some(2)).await.unwrap();
    Migrator::up(&s.app.db, None).await.unwrap();
    check_running(&s, &mut rng, "after the migration's count").await;
}

/// Completions and imports of one workflow at once, overrunning and still running, in the
/// same start buckets: on PostgreSQL, concurrent transactions over the same shared rows (the
/// breach counts, the event log's lock, the rollups, the running counts). Every one is
/// answered without an error (a deadlock would fail one), and the rollups and running counts
/// still equal a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_completions_and_imports_of_one_workflow_all_succeed() {
    let s = setup(Config::default(), json!([])).await;
    let mut rng = StdRng::seed_from_u64(23);
    create_sla(&s, "Second", 200, true).await;
    create_sla(&s, "Inactive", 120, false).await;
    let now = t0();
    let at = now - Duration::seconds(400);
    let mut ids = Vec::new();
    for _ in 0..32 {
        ids.push(start_at(&s, at).await);
    }
    let q = "mutation($i: ImportExecutionsInput!) { importExecutions(input: $i) { imported } }";
    let imports = (0..4).map(|k| {
        let cases: Vec<Value> = (0..30)
            .map(|i| {
                // The running ones not yet overdue (the SLO figures would count them), and
                // in the same day's running counts as the completions.
                let (status, start, done) = match i % 2 {
                    0 => ("RUNNING", now - Duration::seconds(100), Value::Null),
                    _ => ("COMPLETED", at, json!(now.to_rfc3339())),
                };
                json!({"workflowId": s.workflow, "externalId": format!("c-{k}-{i}"), "status": status,
                       "startedAt": start.to_rfc3339(), "completedAt": done})
            })
            .collect();
        s.app.data(&s.token, q, json!({"i": {"executions": cases}}))
    });
    let completions = ids.iter().map(|id| {
        let v = json!({"input": {"executionId": id, "status": "COMPLETED"}});
        s.app.data(&s.token, COMPLETE, v)
    });
    let (imported, completed) = futures_util::future::join(
        futures_util::future::join_all(imports),
        futures_util::future::join_all(completions),
    )
    .await;
    assert!(
        imported
            .iter()
            .all(|d| d["importExecutions"]["imported"] == 30)
    );
    assert!(
        completed
            .iter()
            .all(|d| d["completeExecution"]["execution"]["status"] == "COMPLETED")
    );
    check(&s, "after concurrent completions and imports").await;
    check_running(&s, &mut rng, "after concurrent completions and imports").await;
}

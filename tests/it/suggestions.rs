//! Suggestions mined from history built to show each pattern (and to look close but not
//! qualify), the lifecycle, and the lending log.
use crate::sla::{CREATE_SLA, t0};
use crate::support::*;
use chrono::Duration;
use serde_json::{Value, json};
use workflow_intel::model::Role;
use workflow_intel::suggestions::miners::wilson_lower;

const IMPORT: &str =
    r#"mutation($input: ImportExecutionsInput!) { importExecutions(input: $input) { imported } }"#;
const GENERATE: &str = r#"mutation($input: GenerateSuggestionsInput!) { generateSuggestions(input: $input) {
  updated created { id suggestionType source status title description confidenceScore patternFrequency evidence proposedChange impact }
  nearMisses { workflowId step decision attribute condition rule support matching wilsonLowerBound requiredConfidence } } }"#;

fn at(s: i64) -> String {
    (t0() - Duration::days(5) + Duration::seconds(s)).to_rfc3339()
}

/// A reported step: (name, action, approver, decision, seconds, failed).
type StepSpec<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    i64,
    bool,
);

/// One execution with the given input and steps.
fn exec(wf: &str, key: String, input: Value, steps: &[StepSpec<'_>]) -> Value {
    let mut t = 0;
    let mut out = Vec::new();
    for (name, _action, approver, decision, secs, failed) in steps {
        out.push(json!({"stepName": name, "status": if *failed { "FAILED" } else { "COMPLETED" }, "startedAt": at(t), "completedAt": at(t + secs),
                        "approver": approver, "decision": decision}));
        t += secs;
    }
    json!({"workflowId": wf, "externalId": key, "inputData": input, "status": "COMPLETED", "startedAt": at(0), "completedAt": at(t), "steps": out})
}

async fn generate(app: &TestApp, t: &str, wf: Option<&str>) -> Value {
    app.data(
        t,
        GENERATE,
        json!({"input": {"days": 30, "minOccurrences": 10, "workflowId": wf}}),
    )
    .await["generateSuggestions"]
        .clone()
}

fn of_type<'a>(g: &'a Value, ty: &str) -> Vec<&'a Value> {
    g["created"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["suggestionType"] == ty)
        .collect()
}

#[tokio::test]
async fn small_discounts_always_approved_give_one_auto_approval() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let wf = create_workflow(
        &app,
        &t,
        "Discounts",
        json!([{"name": "Discount approval", "action": "approval", "approver": "sales_lead"}]),
    )
    .await;
    let wf = wf["id"].as_str().unwrap();
    let mut execs = Vec::new();
    for i in 0..150 {
        let d = (i % 95) as f64 / 10.0; // 0.0 … 9.4
        execs.push(exec(
            wf,
            format!("s{i}"),
            json!({"discount": d}),
            &[(
                "Discount approval",
                "approval",
                Some("sales_lead"),
                Some("APPROVED"),
                600,
                false,
            )],
        ));
    }
    for i in 0..150 {
        let d = 10 + (i % 31);
        let decision = if i % 2 == 0 { "APPROVED" } else { "REJECTED" };
        execs.push(exec(
            wf,
            format!("l{i}"),
            json!({"discount": d}),
            &[(
                "Discount approval",
                "approval",
                Some("sales_lead"),
                Some(decision),
                3600,
                false,
            )],
        ));
    }
    app.data(&t, IMPORT, json!({"input": {"executions": execs}}))
        .await;
    let g = generate(&app, &t, Some(wf)).await;
    let auto = of_type(&g, "AUTO_APPROVAL");
    assert_eq!(auto.len(), 1, "{g:#}");
    let s = auto[0];
    assert_eq!(
        s["proposedChange"]["when"],
        json!({"discount": {"$lt": 10}})
    );
    assert_eq!(s["patternFrequency"], 150);
    assert!((s["confidenceScore"].as_f64().unwrap() - wilson_lower(150, 150)).abs() < 1e-12);
    assert_eq!(s["source"], "HISTORICAL");
    assert!(
        s["description"]
            .as_str()
            .unwrap()
            .contains("Based on 150 requests"),
        "{}",
        s["description"]
    );
    assert!(s["description"].as_str().unwrap().contains("every time"));
    assert_eq!(s["impact"]["casesAffected"], 150);
    assert_eq!(s["impact"]["decidedDifferently"], 0);
    assert!((s["impact"]["hoursSaved"].as_f64().unwrap() - 150.0 * 600.0 / 3600.0).abs() < 1e-9);
    assert_eq!(
        s["evidence"]["sampleExecutionIds"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert!(
        of_type(&g, "AUTO_REJECTION").is_empty(),
        "larger discounts are mixed"
    );

    // Regenerating does not duplicate it.
    let again = generate(&app, &t, Some(wf)).await;
    assert!(of_type(&again, "AUTO_APPROVAL").is_empty());
    assert!(again["updated"].as_i64().unwrap() >= 1);
    let list = app
        .data(
            &t,
            "{ suggestions(filter: {type: AUTO_APPROVAL}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(list["suggestions"]["totalCount"], 1);

    // Lifecycle.
    let id = s["id"].as_str().unwrap();
    let review = |m: &str| {
        format!(
            "mutation($id: ID!) {{ {m}(input: {{id: $id, notes: \"ok\"}}) {{ suggestion {{ status reviewNotes reviewedBy {{ email }} }} }} }}"
        )
    };
    let d = app
        .data(&t, &review("acceptSuggestion"), json!({"id": id}))
        .await;
    assert_eq!(d["acceptSuggestion"]["suggestion"]["status"], "ACCEPTED");
    assert_eq!(
        d["acceptSuggestion"]["suggestion"]["reviewedBy"]["email"],
        "admin@acme.io"
    );
    let v = app
        .gql(Some(&t), &review("rejectSuggestion"), json!({"id": id}))
        .await;
    assert_eq!(code(&v), "CONFLICT");
    let d = app.data(&t, "mutation($id: ID!) { markSuggestionImplemented(input: {id: $id}) { suggestion { status } } }", json!({"id": id})).await;
    assert_eq!(
        d["markSuggestionImplemented"]["suggestion"]["status"],
        "IMPLEMENTED"
    );
    let v = app
        .gql(Some(&t), &review("acceptSuggestion"), json!({"id": id}))
        .await;
    assert_eq!(code(&v), "CONFLICT");
    let other = app.token("Other", "x@other.io", Role::Admin).await;
    app.all_not_found(
        &other,
        &[(
            "query($id: ID!) { suggestion(id: $id) { id } }",
            json!({"id": id}),
        )],
    )
    .await;
}

async fn two_approvers(app: &TestApp, t: &str, name: &str, manager_rejects_every: usize) -> String {
    let wf = create_workflow(app, t, name, json!([
        {"name": "Manager approval", "action": "approval", "approver": "manager"},
        {"name": "Finance approval", "action": "approval", "approver": "finance", "conditions": {"amount": {"$gt": 100}}}
    ]))
    .await;
    let wf = wf["id"].as_str().unwrap().to_string();
    let execs: Vec<Value> = (0..60)
        .map(|i| {
            let m = if manager_rejects_every > 0 && i % manager_rejects_every == 0 {
                "REJECTED"
            } else {
                "APPROVED"
            };
            let steps: &[StepSpec<'_>] = &[
                (
                    "Manager approval",
                    "approval",
                    Some("manager"),
                    Some(m),
                    1800,
                    false,
                ),
                (
                    "Finance approval",
                    "approval",
                    Some("finance"),
                    Some("APPROVED"),
                    900,
                    false,
                ),
            ];
            // As in a real sequence, a rejected request stops at the manager.
            let ran = if m == "REJECTED" { 1 } else { 2 };
            exec(
                &wf,
                format!("{name}-{i}"),
                json!({"amount": 500 + i}),
                &steps[..ran],
            )
        })
        .collect();
    app.data(t, IMPORT, json!({"input": {"executions": execs}}))
        .await;
    wf
}

#[tokio::test]
async fn parallel_approval_when_the_first_approver_rarely_rejects() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let wf = two_approvers(&app, &t, "Purchases", 0).await;
    let g = generate(&app, &t, Some(&wf)).await;
    let p = of_type(&g, "PARALLEL_APPROVAL");
    assert_eq!(p.len(), 1, "{g:#}");
    assert_eq!(
        p[0]["proposedChange"]["parallel"],
        json!(["Manager approval", "Finance approval"])
    );
    assert_eq!(p[0]["patternFrequency"], 60);
    assert!(
        (p[0]["evidence"]["secondWaitedHours"].as_f64().unwrap() - 30.0).abs() < 1e-9,
        "finance waited 60 × 30 min behind the manager"
    );
    assert!(
        (p[0]["impact"]["hoursSaved"].as_f64().unwrap() - 15.0).abs() < 1e-9,
        "in parallel each request is shorter by the shorter step: 60 × 15 min"
    );
    assert_eq!(p[0]["impact"]["needlessRequests"], 0);
    // Close but not: the manager rejects one in five. Those requests never reached finance,
    // so the requests where both steps ran show no rejection at all; the miner must still
    // see them.
    let wf2 = two_approvers(&app, &t, "Purchases (strict)", 5).await;
    let g = generate(&app, &t, Some(&wf2)).await;
    assert!(of_type(&g, "PARALLEL_APPROVAL").is_empty(), "{g:#}");
}

#[tokio::test]
async fn performance_names_the_bottleneck_when_p90_exceeds_the_sla() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for (name, slow_secs) in [("Slow onboarding", 250), ("Fine onboarding", 60)] {
        let wf = create_workflow(&app, &t, name, json!([{"name": "Collect documents", "action": "task"}, {"name": "Background check", "action": "task"}])).await;
        let wf = wf["id"].as_str().unwrap().to_string();
        app.data(
            &t,
            CREATE_SLA,
            json!({"input": {"workflowId": wf, "name": "2 minutes", "targetDurationSeconds": 120}}),
        )
        .await;
        let execs: Vec<Value> = (0..30)
            .map(|i| {
                exec(
                    &wf,
                    format!("{name}-{i}"),
                    json!({}),
                    &[
                        ("Collect documents", "task", None, None, 10, false),
                        (
                            "Background check",
                            "task",
                            None,
                            None,
                            slow_secs + i % 5,
                            false,
                        ),
                    ],
                )
            })
            .collect();
        app.data(&t, IMPORT, json!({"input": {"executions": execs}}))
            .await;
        let g = generate(&app, &t, Some(&wf)).await;
        let p = of_type(&g, "PERFORMANCE");
        if slow_secs > 120 {
            assert_eq!(p.len(), 1, "{g:#}");
            assert_eq!(p[0]["evidence"]["bottleneck"], "Background check");
            assert!(p[0]["evidence"]["bottleneckShare"].as_f64().unwrap() > 0.9);
            assert!(
                p[0]["description"]
                    .as_str()
                    .unwrap()
                    .contains("Background check")
            );
        } else {
            assert!(p.is_empty(), "p90 under the target: {g:#}");
        }
    }
}

#[tokio::test]
async fn error_handling_depends_on_idempotency() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for (ty, idem) in [
        ("charge_card", false),
        ("fetch_rates", true),
        ("send_receipt", false),
    ] {
        app.data(
            &t,
            CREATE_ACTION,
            json!({"input": {"name": ty, "actionType": ty, "isIdempotent": idem}}),
        )
        .await;
    }
    let wf = create_workflow(&app, &t, "Checkout", json!([
        {"name": "Rates", "action": "fetch_rates"}, {"name": "Charge", "action": "charge_card"}, {"name": "Receipt", "action": "send_receipt"}
    ]))
    .await;
    let wf = wf["id"].as_str().unwrap().to_string();
    let execs: Vec<Value> = (0..100)
        .map(|i| {
            exec(
                &wf,
                format!("c{i}"),
                json!({}),
                &[
                    ("Rates", "fetch_rates", None, None, 1, i % 4 == 0),
                    ("Charge", "charge_card", None, None, 2, i % 3 == 0),
                    ("Receipt", "send_receipt", None, None, 1, i == 7), // 1 %: close, but not a pattern
                ],
            )
        })
        .collect();
    app.data(&t, IMPORT, json!({"input": {"executions": execs}}))
        .await;
    let g = generate(&app, &t, None).await;
    let e = of_type(&g, "ERROR_HANDLING");
    assert_eq!(e.len(), 2, "{g:#}");
    let by = |a: &str| {
        e.iter()
            .find(|s| s["evidence"]["action"] == a)
            .copied()
            .unwrap_or_else(|| panic!("no suggestion for {a}"))
    };
    assert!(
        by("fetch_rates")["proposedChange"]["retry"].is_object(),
        "idempotent: retry"
    );
    assert_eq!(
        by("charge_card")["proposedChange"]["onFailure"],
        "compensate_or_review"
    );
    assert_eq!(by("charge_card")["evidence"]["failures"], 34);
    assert!(
        (by("charge_card")["confidenceScore"].as_f64().unwrap() - wilson_lower(34, 100)).abs()
            < 1e-12,
        "derived from the statistics"
    );
}

type Decisions = std::collections::HashMap<uuid::Uuid, String>;

/// A workflow's executions, and the decision each took at `step`, read straight from the
/// tables.
async fn decisions_of(
    app: &TestApp,
    wid: uuid::Uuid,
    step: &str,
) -> (Vec<workflow_intel::entity::execution::Model>, Decisions) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use workflow_intel::entity::{execution, step_execution};
    let execs = execution::Entity::find()
        .filter(execution::Column::WorkflowId.eq(wid))
        .all(&app.db)
        .await
        .unwrap();
    let decisions = step_execution::Entity::find()
        .filter(step_execution::Column::StepName.eq(step))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|s| Some((s.execution_id, s.decision?)))
        .collect();
    (execs, decisions)
}

/// The AUTO_APPROVAL and AUTO_REJECTION suggestions of a generation for one step.
fn auto_rules<'a>(g: &'a Value, step: &str) -> Vec<&'a Value> {
    g["created"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            (s["suggestionType"] == "AUTO_APPROVAL" || s["suggestionType"] == "AUTO_REJECTION")
                && s["evidence"]["step"] == step
        })
        .collect()
}

/// Counts, without the miner, the decisions a suggested rule covers and how many went its
/// way: the support must be the pattern frequency and the rate must clear the bar.
fn assert_rule_holds(
    s: &Value,
    execs: &[workflow_intel::entity::execution::Model],
    decisions: &Decisions,
) {
    let cond = workflow_intel::conditions::parse(&s["proposedChange"]["when"]).unwrap();
    let want = if s["suggestionType"] == "AUTO_APPROVAL" {
        "approved"
    } else {
        "rejected"
    };
    let (mut support, mut hits) = (0, 0);
    for e in execs {
        if let Some(d) = decisions.get(&e.id).filter(|_| cond.matches(&e.input_data)) {
            support += 1;
            hits += (d == want) as usize;
        }
    }
    assert_eq!(s["patternFrequency"], support, "{s:#}");
    assert!(wilson_lower(hits, support) >= 0.95, "{hits}/{support}");
    assert!((s["confidenceScore"].as_f64().unwrap() - wilson_lower(hits, support)).abs() < 1e-12);
}

#[tokio::test]
async fn the_demo_history_shows_every_kind_of_suggestion() {
    use workflow_intel::seed;
    let app = TestApp::spawn().await;
    let issued = seed::seed_demo(&app.db).await.unwrap();
    let admin = seed::demo_auth(&issued);
    let r = seed::seed_demo_history(&app.app.state, &admin)
        .await
        .unwrap();
    assert_eq!(
        (r.imported, r.breaches),
        (seed::DEMO_HISTORY, 0),
        "it predates the SLA"
    );
    let again = seed::seed_demo_history(&app.app.state, &admin)
        .await
        .unwrap();
    assert_eq!(
        (again.imported, again.skipped),
        (0, seed::DEMO_HISTORY),
        "a restart adds nothing"
    );
    let now = app.app.state.clock.now();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let history = workflow_intel::entity::execution::Entity::find()
        .filter(workflow_intel::entity::execution::Column::CompanyId.eq(admin.company_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(history.len(), seed::DEMO_HISTORY);
    assert!(
        history
            .iter()
            .all(|e| e.completed_at.is_some_and(|c| c <= now)),
        "all of it is over"
    );
    seed::seed_demo_sla(&app.app.state, &admin).await.unwrap();
    let g = generate(&app, &issued.token, None).await;
    let wid = workflow_intel::entity::workflow::Entity::find()
        .filter(workflow_intel::entity::workflow::Column::CompanyId.eq(admin.company_id))
        .filter(workflow_intel::entity::workflow::Column::Name.eq(seed::DISCOUNT_WORKFLOW))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    for kind in [
        "AUTO_APPROVAL",
        "PARALLEL_APPROVAL",
        "PERFORMANCE",
        "ERROR_HANDLING",
    ] {
        assert!(!of_type(&g, kind).is_empty(), "no {kind} in {g:#}");
    }
    // Every rule holds in the rows, counted without the miner.
    let (execs, manager) = decisions_of(&app, wid, "Manager Approval").await;
    assert!(!auto_rules(&g, "Manager Approval").is_empty(), "{g:#}");
    for step in ["Manager Approval", "Director Approval", "CFO Approval"] {
        let (_, decisions) = decisions_of(&app, wid, step).await;
        for s in auto_rules(&g, step) {
            assert_rule_holds(s, &execs, &decisions);
        }
    }
    // The manager rejects some requests the director would see, so those two are not asked
    // in parallel (the director only ever saw the ones the manager approved).
    let big_rejected = execs
        .iter()
        .filter(|e| e.input_data["amount"].as_f64().unwrap() > 10_000.0)
        .filter(|e| manager.get(&e.id).is_some_and(|d| d == "rejected"))
        .count();
    assert!(big_rejected > 0);
    for p in of_type(&g, "PARALLEL_APPROVAL") {
        assert_ne!(
            p["proposedChange"]["parallel"][0], "Manager Approval",
            "{p:#}"
        );
    }
    let perf = of_type(&g, "PERFORMANCE");
    assert_eq!(
        perf[0]["evidence"]["bottleneck"], "Director Approval",
        "{g:#}"
    );
    let failed = execs.iter().filter(|e| e.status == "failed").count();
    let errors = of_type(&g, "ERROR_HANDLING");
    let validation = errors
        .iter()
        .find(|s| s["evidence"]["action"] == "validation")
        .unwrap();
    assert_eq!(validation["evidence"]["failures"], failed);
    assert_eq!(validation["evidence"]["runs"], execs.len());
}

/// The discovered workflow predicts the history it came from within 20 % at the median.
async fn predicts_its_own_history(app: &TestApp, t: &str, wid: uuid::Uuid) {
    let r = app
        .data(
            t,
            "query($w: ID!) { workflowReplay(workflowId: $w, runsPerCase: 8) { cases p50Ratio } }",
            json!({"w": wid.to_string()}),
        )
        .await["workflowReplay"]
        .clone();
    assert_eq!(r["cases"], 10_000);
    let ratio = r["p50Ratio"].as_f64().unwrap();
    assert!((0.8..=1.2).contains(&ratio), "{r}");
}

#[tokio::test]
async fn the_lending_log_imports_and_its_credit_score_rules_are_found_and_weighed() {
    let Some(dir) = crate::templates::event_logs() else {
        return;
    };
    let app = TestApp::spawn().await;
    let t = app.token("Bank", "admin@bank.io", Role::Admin).await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/lending.toml"
    ))
    .unwrap();
    let m = workflow_intel::history::mapping::Mapping::parse(&text).unwrap();
    let auth = match workflow_intel::auth::authenticate(&app.db, &t)
        .await
        .unwrap()
    {
        workflow_intel::auth::AuthState::User(a) => a,
        _ => panic!("token"),
    };
    let path = dir.join("lending_log_high.xes.gz");
    let into = workflow_intel::history::Destination::Company(auth);
    let first = workflow_intel::history::import_file(&app.app.state, &into, &path, &m, false)
        .await
        .unwrap();
    let wid = first.workflow_id;
    assert_eq!(first.report.imported, 10_000);
    let again = workflow_intel::history::import_file(&app.app.state, &into, &path, &m, false)
        .await
        .unwrap()
        .report;
    assert_eq!(
        (again.imported, again.skipped),
        (0, 10_000),
        "re-importing changes nothing"
    );
    predicts_its_own_history(&app, &t, wid).await;
    // The log is from 2015.
    let g = app
        .data(
            &t,
            GENERATE,
            json!({"input": {"days": 10_000, "minOccurrences": 50, "workflowId": wid.to_string()}}),
        )
        .await["generateSuggestions"]
        .clone();
    // Re-derive, from the imported rows and without the miner, every decision rule found.
    let (execs, decisions) = decisions_of(&app, wid, "Loan decision").await;
    assert_eq!(
        decisions.len(),
        2627 + 4787,
        "Sign Loan Agreement and Loan Denied"
    );
    for s in auto_rules(&g, "Loan decision") {
        assert_rule_holds(s, &execs, &decisions);
    }
    // The CreditScore threshold rule for loan outcomes, in each direction: the miner reports
    // the strongest one it found, and that it falls short of the bar. Re-derived here by
    // brute force over every cut point of the imported rows.
    let scored: Vec<(f64, bool)> = execs
        .iter()
        .filter_map(|e| {
            let d = decisions.get(&e.id)?;
            Some((e.input_data["credit_score"].as_f64()?, d == "approved"))
        })
        .collect();
    assert_eq!(scored.len(), 7414, "every decided case has a CreditScore");
    let mut cuts: Vec<f64> = scored.iter().map(|s| s.0).collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let near = g["nearMisses"].as_array().unwrap();
    for (decision, approved) in [("REJECTED", false), ("APPROVED", true)] {
        // (wilson, support, matching, op, cut), strongest first.
        let mut best: Option<(f64, usize, usize, &str, f64)> = None;
        for &cut in &cuts {
            for op in ["$lt", "$gte"] {
                let covered = scored.iter().filter(|s| (s.0 < cut) == (op == "$lt"));
                let (n, k) =
                    covered.fold((0, 0), |(n, k), s| (n + 1, k + (s.1 == approved) as usize));
                if n < 50 || n == scored.len() {
                    continue;
                }
                let w = wilson_lower(k, n);
                if best.is_none_or(|b| (w, n) > (b.0, b.1)) {
                    best = Some((w, n, k, op, cut));
                }
            }
        }
        let (w, n, k, op, cut) = best.unwrap();
        let m = near
            .iter()
            .find(|m| m["attribute"] == "credit_score" && m["decision"] == decision)
            .unwrap_or_else(|| panic!("no {decision} CreditScore rule in {near:#?}"));
        eprintln!(
            "lending: Loan decision {decision} when {}: {} of {} (Wilson {:.3}, bar {})",
            m["rule"], m["matching"], m["support"], m["wilsonLowerBound"], m["requiredConfidence"]
        );
        assert_eq!(m["step"], "Loan decision");
        assert_eq!(m["workflowId"], wid.to_string());
        assert_eq!(
            m["condition"],
            json!({"credit_score": {op: cut as i64}}),
            "{m:#}"
        );
        assert_eq!(
            (m["support"].as_u64(), m["matching"].as_u64()),
            (Some(n as u64), Some(k as u64))
        );
        assert!((m["wilsonLowerBound"].as_f64().unwrap() - w).abs() < 1e-12);
        assert!(w < 0.95 && m["requiredConfidence"] == 0.95);
        // What the data says, stated: low scores lean to denial, high ones to signing, and
        // neither is near the bar.
        if approved {
            assert_eq!((op, cut, n, k), ("$gte", 78.0, 1188, 474));
        } else {
            assert_eq!((op, cut, n, k), ("$lt", 63.0, 1881, 1318));
        }
    }
    assert!(
        !g["created"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["proposedChange"]["when"]
                .to_string()
                .contains("credit_score")),
        "a rule this weak is never suggested"
    );
}

/// A local server speaking the OpenAI-compatible chat-completions API (the LLM is a paid
/// service, faked only at its HTTP boundary). `mode` picks its behaviour.
async fn fake_llm(mode: &'static str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::{Json, Router, routing::post};
    let seen: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(body);
                let content = match mode {
                    "slow" => {
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                        "{}".to_string()
                    }
                    "malformed" => "Sure! Here are some ideas: speed things up.".to_string(),
                    _ => json!({"suggestions": [
                        {"type": "auto_approval", "title": "Pre-approve small discounts", "description": "Most discounts are approved.",
                         "claims": [{"metric": "approval_rate", "subject": "Discount approval", "value": 0.75}]},
                        {"type": "performance", "title": "Approvals are slow", "description": "The p90 is very high.",
                         "claims": [{"metric": "p90_seconds", "subject": "Discount approval", "value": 99999.0}]}
                    ]})
                    .to_string(),
                };
                Json(json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

async fn discount_history(app: &TestApp, t: &str) -> String {
    let wf = create_workflow(
        app,
        t,
        "Discounts",
        json!([{"name": "Discount approval", "action": "approval", "approver": "sales_lead"}]),
    )
    .await;
    let wf = wf["id"].as_str().unwrap().to_string();
    let execs: Vec<Value> = (0..300)
        .map(|i| {
            let (d, dec) = if i < 150 {
                (i % 9, "APPROVED")
            } else {
                (
                    10 + i % 30,
                    if i % 2 == 0 { "APPROVED" } else { "REJECTED" },
                )
            };
            exec(
                &wf,
                format!("d{i}"),
                json!({"discount": d}),
                &[(
                    "Discount approval",
                    "approval",
                    Some("sales_lead"),
                    Some(dec),
                    600,
                    false,
                )],
            )
        })
        .collect();
    app.data(t, IMPORT, json!({"input": {"executions": execs}}))
        .await;
    wf
}

#[tokio::test]
async fn the_llm_pass_keeps_only_verified_claims_and_never_breaks_generation() {
    use workflow_intel::config::Config;
    const GEN_LLM: &str = r#"mutation($input: GenerateSuggestionsInput!) { generateSuggestions(input: $input) {
      created { source title evidence } llm { status message proposed dropped } } }"#;
    for mode in ["good", "slow", "malformed"] {
        let (url, seen) = fake_llm(mode).await;
        let config = Config {
            llm_base_url: Some(url),
            llm_model: Some("test-model".into()),
            llm_api_key: Some("sk-test".into()),
            llm_timeout_seconds: 1,
            ..Config::default()
        };
        let app = TestApp::spawn_with(config).await;
        let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
        let wf = discount_history(&app, &t).await;
        let g = app
            .data(
                &t,
                GEN_LLM,
                json!({"input": {"days": 30, "minOccurrences": 10, "workflowId": wf}}),
            )
            .await["generateSuggestions"]
            .clone();
        let created = g["created"].as_array().unwrap();
        assert!(
            created.iter().any(|s| s["source"] == "HISTORICAL"),
            "the historical pass always runs: {g:#}"
        );
        let llm: Vec<&Value> = created.iter().filter(|s| s["source"] == "LLM").collect();
        let request = seen
            .lock()
            .unwrap()
            .first()
            .cloned()
            .expect("the model was asked");
        assert_eq!(request["model"], "test-model");
        assert!(
            request["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains("approval rate 0.750"),
            "{request}"
        );
        match mode {
            "good" => {
                assert_eq!(g["llm"]["status"], "ok");
                assert_eq!(
                    (g["llm"]["proposed"].as_i64(), g["llm"]["dropped"].as_i64()),
                    (Some(2), Some(1))
                );
                assert_eq!(llm.len(), 1);
                assert_eq!(llm[0]["title"], "Pre-approve small discounts");
                assert_eq!(llm[0]["evidence"]["claims"][0]["verified"], true);
            }
            "slow" => {
                assert_eq!(g["llm"]["status"], "timeout", "{g:#}");
                assert!(llm.is_empty());
            }
            _ => {
                assert_eq!(g["llm"]["status"], "malformed", "{g:#}");
                assert!(llm.is_empty());
            }
        }
    }
}

#[tokio::test]
async fn days_beyond_the_range_of_dates_are_bad_input_not_a_panic() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for days in [i32::MAX, 100_000_000] {
        let r = app
            .gql(
                Some(&t),
                GENERATE,
                json!({"input": {"days": days, "minOccurrences": 1}}),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{days}: {r}");
        assert!(message(&r).contains("representable range"), "{r}");
    }
    // The server still answers.
    let r = app
        .data(
            &t,
            GENERATE,
            json!({"input": {"days": 36_500, "minOccurrences": 1}}),
        )
        .await;
    assert!(r["generateSuggestions"].is_object(), "{r}");
}

const WINDOW: &str = r#"mutation($input: GenerateSuggestionsInput!) { generateSuggestions(input: $input) {
  history { executions outsideWindow firstStartedAt lastStartedAt } } }"#;

#[tokio::test]
async fn a_window_says_how_much_history_it_left_out() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let wf = two_approvers(&app, &t, "Purchases", 0).await;
    let all = app
        .data(
            &t,
            WINDOW,
            json!({"input": {"allHistory": true, "workflowId": wf}}),
        )
        .await["generateSuggestions"]["history"]
        .clone();
    let n = all["executions"].as_i64().unwrap();
    assert!(n > 0, "{all}");
    assert_eq!(all["outsideWindow"], 0);
    // A window that starts after the last execution leaves every one of them out.
    let last =
        chrono::DateTime::parse_from_rfc3339(all["lastStartedAt"].as_str().unwrap()).unwrap();
    let since = (last + Duration::seconds(1)).to_rfc3339();
    let after = app
        .data(
            &t,
            WINDOW,
            json!({"input": {"since": since, "workflowId": wf}}),
        )
        .await["generateSuggestions"]["history"]
        .clone();
    assert_eq!(after["outsideWindow"], n, "{after}");
    assert_eq!(after["firstStartedAt"], all["firstStartedAt"]);
    for input in [
        json!({"days": 5, "allHistory": true}),
        json!({"days": 5, "since": since}),
        json!({"since": "2999-01-01T00:00:00Z"}),
        json!({"days": 0}),
        json!({"days": -1}),
    ] {
        let r = app.gql(Some(&t), WINDOW, json!({"input": input})).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{input}: {r}");
    }
}

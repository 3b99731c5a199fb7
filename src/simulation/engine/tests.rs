//! The engine's tests: routing, the concrete run, exploration, estimates and forecasts.
use super::*;
use serde_json::json;

fn catalog() -> HashMap<String, CatalogEntry> {
    let e = |lc, idem, fx: &[&str]| CatalogEntry {
        latency_class: lc,
        avg_execution_time_ms: 0.0,
        execution_count: 0,
        is_idempotent: idem,
        side_effects: fx.iter().map(|s| s.to_string()).collect(),
        input_schema: None,
    };
    HashMap::from([
        (
            "validation".to_string(),
            e(LatencyClass::Instant, true, &[]),
        ),
        ("approval".to_string(), e(LatencyClass::Slow, true, &[])),
        (
            "send_email".to_string(),
            e(LatencyClass::Fast, false, &["email"]),
        ),
    ])
}

#[test]
fn gateways_lanes_and_the_end_route_one_alternative_each() {
    let lane = |l: u32| json!({"group": "g", "lane": l});
    let steps = json!([
        {"name": "register", "action": "validation"},
        {"name": "exam?", "action": "gateway", "parallel": lane(1), "branches": [
            {"condition": {"route_exam": "thorough"}, "next_step": "examine thoroughly"}]},
        {"name": "examine casually", "action": "approval", "approver": "a", "parallel": lane(1),
         "default_next": "check ticket"},
        {"name": "examine thoroughly", "action": "approval", "approver": "a", "parallel": lane(1)},
        {"name": "check ticket", "action": "approval", "approver": "b", "parallel": lane(2)},
        {"name": "decide?", "action": "gateway", "branches": [
            {"condition": {"route_decide": "reject"}, "next_step": "reject request"}]},
        {"name": "pay compensation", "action": "send_email", "default_next": "$end"},
        {"name": "reject request", "action": "send_email"}
    ]);
    let ran = |o: &Outcome| -> Vec<String> {
        o.execution_path
            .iter()
            .filter(|p| p.status == StepStatus::Run)
            .map(|p| p.name.clone())
            .collect()
    };
    let o = run(&steps, json!({}));
    assert!(o.validation_errors.is_empty(), "{:?}", o.validation_errors);
    assert_eq!(
        ran(&o),
        [
            "register",
            "exam?",
            "examine casually",
            "check ticket",
            "decide?",
            "pay compensation"
        ]
    );
    let (slow, fast, instant) = (
        LatencyClass::Slow.default_duration_ms(),
        LatencyClass::Fast.default_duration_ms(),
        LatencyClass::Instant.default_duration_ms(),
    );
    // The two lanes overlap: one approval's time, not two.
    assert_eq!(o.predicted_duration_ms, instant + slow + fast);
    assert_eq!(o.execution_path[1].duration_source, DurationSource::Routing);
    let o = run(
        &steps,
        json!({"route_exam": "thorough", "route_decide": "reject"}),
    );
    assert_eq!(
        ran(&o),
        [
            "register",
            "exam?",
            "examine thoroughly",
            "check ticket",
            "decide?",
            "reject request"
        ]
    );
    let ex = &o.branch_explorations;
    assert_eq!(ex.paths.len(), 4, "two alternatives at each gateway");
    assert!(
        ex.paths
            .iter()
            .all(|p| p.predicted_duration_ms == instant + slow + fast)
    );
}

fn run(steps: &Value, input: Value) -> Outcome {
    let cat = catalog();
    let history = HashMap::new();
    let decisions = HashMap::new();
    let fail = HashSet::new();
    simulate(&Request {
        steps,
        input: &input,
        input_schema: None,
        catalog: &cat,
        history: &history,
        slas: &[],
        decisions: &decisions,
        fail_steps: &fail,
        limits: Limits::default(),
        forecast: None,
    })
}

fn approvers(o: &Outcome) -> Vec<String> {
    o.approval_chain
        .iter()
        .map(|a| a.approver.clone())
        .collect()
}

#[test]
fn discount_approval_chains() {
    let steps = crate::seed::discount_steps();
    for (amount, want) in [
        (5000, vec!["manager"]),
        (10000, vec!["manager"]),
        (10001, vec!["manager", "director"]),
        (75000, vec!["manager", "director", "cfo"]),
    ] {
        let o = run(&steps, json!({"amount": amount}));
        assert_eq!(approvers(&o), want, "amount {amount}");
        assert_eq!(o.status, SimulationStatus::Succeeded);
    }
    let o = run(&steps, json!({"amount": 10001}));
    let director = &o.execution_path[2];
    assert_eq!(director.status, StepStatus::Run);
    let cmp = &director.condition.as_ref().unwrap().comparisons[0];
    assert_eq!(cmp.actual, Some(json!(10001)));
    assert_eq!(o.execution_path[3].status, StepStatus::Skipped);
    assert_eq!(
        o.approval_chain[1].condition,
        Some(json!({"amount": {"$gt": 10000}}))
    );
}

#[test]
fn discount_exploration_has_three_paths() {
    let steps = crate::seed::discount_steps();
    let o = run(&steps, json!({"amount": 1}));
    let ex = &o.branch_explorations;
    assert!(!ex.truncated);
    assert_eq!(ex.paths.len(), 3, "{:#?}", ex.paths);
    let mut found: Vec<(String, Vec<String>)> = ex
        .paths
        .iter()
        .map(|p| {
            (
                p.regions[0].constraints[0].description.clone(),
                p.approval_chain.clone(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "10000 < amount <= 50000".to_string(),
                vec!["manager".to_string(), "director".to_string()]
            ),
            (
                "amount <= 10000 or amount is missing".to_string(),
                vec!["manager".to_string()]
            ),
            (
                "amount > 50000".to_string(),
                vec![
                    "manager".to_string(),
                    "director".to_string(),
                    "cfo".to_string()
                ]
            ),
        ]
    );
    for p in &ex.paths {
        assert!(p.witness_verified, "{p:?}");
        let w = run(&steps, p.witness.clone());
        assert_eq!(approvers(&w), p.approval_chain);
    }
    assert!(ex.unreachable_steps.is_empty());
}

#[test]
fn missing_fields_warn() {
    let o = run(&crate::seed::discount_steps(), json!({"customer": "x"}));
    assert!(
        o.warnings
            .iter()
            .any(|w| w.code == "MISSING_FIELD" && w.message.contains("\"amount\"")),
        "{:?}",
        o.warnings
    );
    assert_eq!(approvers(&o), vec!["manager"]);
}

#[test]
fn independent_branches_stop_at_the_cap() {
    let steps: Vec<Value> = (0..20)
        .map(|i| json!({"name": format!("s{i}"), "action": "validation", "conditions": {format!("f{i}"): true}}))
        .collect();
    let o = run(&Value::Array(steps), json!({}));
    let ex = &o.branch_explorations;
    assert!(ex.truncated);
    assert_eq!(ex.paths.len(), Limits::default().max_paths);
}

#[test]
fn branches_overlaps_gaps_and_unreachable_steps() {
    let steps = json!([
        {"name": "triage", "action": "validation", "branches": [
            {"condition": {"priority": {"$gte": 3}}, "next_step": "escalate"},
            {"condition": {"priority": {"$gte": 5}}, "next_step": "page"}
        ]},
        {"name": "normal", "action": "send_email", "default_next": "done"},
        {"name": "escalate", "action": "approval", "approver": "lead", "default_next": "done"},
        {"name": "page", "action": "send_email", "default_next": "done"},
        {"name": "never", "action": "validation", "conditions": {"$and": [{"x": {"$gt": 5}}, {"x": {"$lt": 3}}]}},
        {"name": "done", "action": "validation"}
    ]);
    let o = run(&steps, json!({"priority": 4}));
    let names: Vec<_> = o
        .execution_path
        .iter()
        .filter(|p| p.status == StepStatus::Run)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, vec!["triage", "escalate", "done"]);
    assert_eq!(o.execution_path[0].branch_taken, Some(0));
    let ex = &o.branch_explorations;
    assert_eq!(ex.overlapping_branches.len(), 1);
    assert_eq!(ex.overlapping_branches[0].branches, vec![0, 1]);
    assert_eq!(ex.branch_gaps.len(), 1, "priority < 3 matches no branch");
    assert!(
        ex.unreachable_steps.contains(&"page".to_string()),
        "{:?}",
        ex.unreachable_steps
    );
    assert!(ex.unreachable_steps.contains(&"never".to_string()));
    assert!(
        ex.constant_conditions
            .iter()
            .any(|c| c.step == "never" && !c.always)
    );
    // The same findings are warnings, with codes.
    let codes: Vec<(&str, Option<&str>)> = o
        .warnings
        .iter()
        .map(|w| (w.code.as_str(), w.step.as_deref()))
        .collect();
    for expected in [
        ("UNREACHABLE_STEP", Some("page")),
        ("UNREACHABLE_STEP", Some("never")),
        ("CONDITION_ALWAYS_FALSE", Some("never")),
        ("BRANCHES_OVERLAP", Some("triage")),
        ("BRANCH_GAP", Some("triage")),
    ] {
        assert!(codes.contains(&expected), "{expected:?} in {codes:?}");
    }
    assert!(
        !o.warnings
            .iter()
            .any(|w| w.code == "NON_IDEMPOTENT_SIDE_EFFECTS"),
        "no email step runs"
    );
    let o = run(&steps, json!({"priority": 1}));
    assert!(o.warnings.iter().any(
        |w| w.code == "NON_IDEMPOTENT_SIDE_EFFECTS" && w.step.as_deref() == Some("normal")
    ));
}

#[test]
fn decisions_failures_and_loops() {
    let steps = crate::seed::discount_steps();
    let cat = catalog();
    let history = HashMap::from([(
        "Manager Approval".to_string(),
        StepHistory {
            p50_ms: 1000,
            p95_ms: 5000,
            samples: 20,
            sorted_ms: vec![1000; 20],
            ended: 0,
        },
    )]);
    let decisions = HashMap::from([("Director Approval".to_string(), ApprovalDecision::Rejected)]);
    let fail = HashSet::new();
    let input = json!({"amount": 60000});
    let o = simulate(&Request {
        steps: &steps,
        input: &input,
        input_schema: None,
        catalog: &cat,
        history: &history,
        slas: &[SlaTarget {
            name: "fast".into(),
            target_seconds: 1,
        }],
        decisions: &decisions,
        fail_steps: &fail,
        limits: Limits::default(),
        forecast: None,
    });
    assert_eq!(o.status, SimulationStatus::Rejected);
    assert_eq!(o.execution_path.len(), 3, "stops at the rejection");
    assert_eq!(o.execution_path[1].duration_source, DurationSource::History);
    // validation (10) + manager (history p50 1000) + director (slow default 60000)
    assert_eq!(o.predicted_duration_ms, 10 + 1000 + 60_000);
    assert_eq!(o.predicted_duration_p95_ms, Some(10 + 5000 + 60_000));
    assert!(o.warnings.iter().any(|w| w.code == "SLA_TARGET_EXCEEDED"));

    let looping = json!([
        {"name": "try", "action": "validation", "max_iterations": 3},
        {"name": "check", "action": "validation", "branches": [{"condition": {"retry": true}, "next_step": "try"}]},
        {"name": "end", "action": "validation"}
    ]);
    let o = run(&looping, json!({"retry": true}));
    let tries = o.execution_path.iter().filter(|p| p.name == "try").count();
    assert_eq!(tries, 3);
    assert_eq!(o.execution_path.last().unwrap().name, "end");
    assert_eq!(o.branch_explorations.paths.len(), 2);
}

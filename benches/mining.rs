//! Mining bench (run with `cargo bench --bench mining`): every miner over 1,000,000 generated
//! executions (MINING_EXECUTIONS to change), reporting wall time and peak memory.
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;
use uuid::Uuid;
use workflow_intel::model::ApprovalDecision;
use workflow_intel::suggestions::miners::{CaseRec, StepRec, WorkflowHistory, mine, near_misses};
use workflow_intel::workflows::steps::Step;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn step(name: &str, approver: Option<&str>) -> Step {
    serde_json::from_value(json!({"name": name, "action": if approver.is_some() { "approval" } else { "task" }, "approver": approver})).unwrap()
}

fn main() {
    let n: usize = std::env::var("MINING_EXECUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    // Ten workflows, each with a validation step, two approvals and a fulfilment step.
    let mut workflows: Vec<WorkflowHistory> = (0..10)
        .map(|w| WorkflowHistory {
            id: Uuid::from_u128(w as u128 + 1),
            name: format!("Workflow {w}"),
            steps: vec![
                step("Validate", None),
                step("Manager approval", Some("manager")),
                step("Finance approval", Some("finance")),
                step("Fulfil", None),
            ],
            sla_targets: vec![("SLA".into(), 3_000)],
            cases: Vec::with_capacity(n / 10),
        })
        .collect();
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let discount = (rnd() % 400) as f64 / 10.0;
        let region = ["EU", "US", "APAC"][(rnd() % 3) as usize];
        let approved = discount < 10.0 || rnd() % 2 == 0;
        let mgr = (rnd() % 3600) as i64 * 1000;
        let fin = (rnd() % 1800) as i64 * 1000;
        let failed = rnd() % 20 == 0;
        let case = CaseRec {
            id: Uuid::from_u128(i as u128),
            input:
                json!({"discount": discount, "region": region, "amount": (rnd() % 100_000) as f64})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            duration_ms: Some(1000 + mgr + fin + 500),
            failed,
            steps: vec![
                StepRec {
                    name: "Validate".into(),
                    action_type: Some("validation".into()),
                    approver: None,
                    decision: None,
                    duration_ms: Some(1000),
                    handling: true,
                    failed: false,
                },
                StepRec {
                    name: "Manager approval".into(),
                    action_type: Some("approval".into()),
                    approver: Some("manager".into()),
                    decision: Some(if approved {
                        ApprovalDecision::Approved
                    } else {
                        ApprovalDecision::Rejected
                    }),
                    duration_ms: Some(mgr),
                    handling: true,
                    failed: false,
                },
                StepRec {
                    name: "Finance approval".into(),
                    action_type: Some("approval".into()),
                    approver: Some("finance".into()),
                    decision: Some(ApprovalDecision::Approved),
                    duration_ms: Some(fin),
                    handling: true,
                    failed: false,
                },
                StepRec {
                    name: "Fulfil".into(),
                    action_type: Some("fulfil".into()),
                    approver: None,
                    decision: None,
                    duration_ms: Some(500),
                    handling: true,
                    failed,
                },
            ],
        };
        workflows[i % 10].cases.push(case);
    }
    let generated = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let idempotent = HashMap::from([("fulfil".to_string(), false)]);
    let found = mine(&workflows, &idempotent, 10);
    let secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let near = near_misses(&workflows, 10);
    let near_secs = t.elapsed().as_secs_f64();
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for m in &found {
        *kinds.entry(m.kind.as_str().to_string()).or_default() += 1;
    }
    println!("## Mining {n} executions\n");
    println!("| measure | value |\n|---|---|");
    println!("| generating the history in memory | {generated:.2} s |");
    println!("| mining (all four kinds) | {secs:.2} s |");
    println!(
        "| near misses ({} rules short of the bar) | {near_secs:.2} s |",
        near.len()
    );
    println!(
        "| a whole generation (mining and near misses) | {:.2} s |",
        secs + near_secs
    );
    println!(
        "| peak RSS (history and mining) | {:.0} MiB |",
        peak_rss_mib()
    );
    println!("| suggestions found | {} ({kinds:?}) |", found.len());
}

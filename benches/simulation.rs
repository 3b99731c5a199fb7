//! Criterion benches for the pure simulation engine. Results: docs/benchmarks.md.
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use workflow_intel::model::LatencyClass;
use workflow_intel::simulation::engine::{CatalogEntry, Limits, Request, simulate};

fn catalog() -> HashMap<String, CatalogEntry> {
    HashMap::from([(
        "task".to_string(),
        CatalogEntry {
            latency_class: LatencyClass::Fast,
            avg_execution_time_ms: 120.0,
            execution_count: 10,
            is_idempotent: true,
            side_effects: vec![],
            input_schema: None,
        },
    )])
}

/// 1,000 steps; every fifth carries one of 200 threshold conditions spread over 5 fields.
fn big_workflow() -> Value {
    let steps: Vec<Value> = (0..1000)
        .map(|i| {
            let mut s = json!({"name": format!("step {i}"), "action": "task"});
            if i % 5 == 0 {
                let k = (i / 5) % 5;
                let threshold = (i / 25) * 100;
                s["conditions"] = json!({ format!("f{k}"): {"$gt": threshold} });
            }
            if i % 50 == 0 {
                s["approver"] = json!(format!("approver{}", i / 50));
            }
            s
        })
        .collect();
    Value::Array(steps)
}

/// 20 independent two-way branches: 2^20 paths if enumerated.
fn wide_workflow() -> Value {
    Value::Array(
        (0..20)
            .map(|i| json!({"name": format!("b{i}"), "action": "task", "conditions": {format!("flag{i}"): true}}))
            .collect(),
    )
}

fn run(steps: &Value, input: &Value) -> usize {
    let catalog = catalog();
    let history = HashMap::new();
    let decisions = HashMap::new();
    let fail = HashSet::new();
    let out = simulate(&Request {
        steps,
        input,
        input_schema: None,
        catalog: &catalog,
        history: &history,
        slas: &[],
        decisions: &decisions,
        fail_steps: &fail,
        limits: Limits::default(),
        forecast: None,
    });
    out.branch_explorations.paths.len()
}

fn benches(c: &mut Criterion) {
    let big = big_workflow();
    let input = json!({"f0": 950, "f1": 20, "f2": 3000, "f3": 0, "f4": 1234});
    c.bench_function(
        "simulate+explore 1000 steps, 200 conditions, 5 fields",
        |b| b.iter(|| black_box(run(black_box(&big), &input))),
    );
    let wide = wide_workflow();
    let empty = json!({});
    c.bench_function("explore 20 independent branches (stops at the cap)", |b| {
        b.iter(|| black_box(run(black_box(&wide), &empty)))
    });
}

criterion_group!(name = simulation; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(simulation);

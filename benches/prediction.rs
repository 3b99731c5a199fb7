//! Out-of-sample prediction per input segment (run with `cargo bench --bench prediction`): each
//! shared event log (`WI_EVENT_LOGS`) is read through its example mapping as the import reads
//! it (each case an execution with its step runs), its workflow discovered from all of it, and
//! `workflowReplay`'s out-of-sample replay run on it: the model (step durations, branch
//! probabilities, branch models) fitted on the older 70 % of the cases replays the newest 30 %.
//! Prints the predicted against the actual median per input segment. Target: within 30 % for
//! every segment of at least 200 replayed cases. Results: docs/benchmarks.md.
#[path = "support/logs.rs"]
mod logs;
use logs::{LOGS, logs_dir};
use workflow_intel::discovery::DEFAULT_NOISE;
use workflow_intel::history::{self, mapping::Mapping, reader};
use workflow_intel::model::{ApprovalDecision, StepRunStatus};
use workflow_intel::simulation::holdout::{self, Case};
use workflow_intel::workflows::steps::compile;

/// Segments this large are held to the target.
const TARGET_CASES: u32 = 200;

/// The log's cases as the import stores them, oldest first.
fn cases(path: &std::path::Path, m: &Mapping, steps: &serde_json::Value) -> Vec<Case> {
    let lanes = history::lanes_of(steps);
    let mut r = reader::open(path, m, limits().read).unwrap();
    let mut out: Vec<(chrono::DateTime<chrono::Utc>, Case)> = Vec::new();
    while let Some(c) = r.next_case().unwrap() {
        let Some(e) = history::to_execution(m, uuid::Uuid::nil(), &lanes, &c) else {
            continue;
        };
        let rec = e.record;
        let (Some(end), start) = (rec.completed_at, rec.started_at) else {
            continue;
        };
        let steps = rec
            .steps
            .iter()
            .map(|s| {
                let ended = s.status == StepRunStatus::Failed
                    || s.decision == Some(ApprovalDecision::Rejected);
                let d = s
                    .completed_at
                    .map(|c| (c - s.started_at).num_milliseconds());
                (s.step_name.clone(), d, ended)
            })
            .collect();
        let case = Case {
            input: rec.input_data,
            duration_ms: (end - start).num_milliseconds(),
            steps,
        };
        out.push((start, case));
    }
    out.sort_by_key(|(s, _)| *s);
    out.into_iter().map(|(_, c)| c).collect()
}

fn main() {
    let Some(dir) = logs_dir() else {
        println!("event logs not found (set WI_EVENT_LOGS): nothing to bench");
        return;
    };
    let (mut held, mut all) = (0, 0);
    println!(
        "log | field = segment | replayed cases | actual p50 h | predicted p50 h | ratio | target (segments of {TARGET_CASES}+)"
    );
    for (file, map) in LOGS {
        let path = format!("{}/examples/{map}", env!("CARGO_MANIFEST_DIR"));
        let m = Mapping::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let log = dir.join(file);
        let (found, _) = history::discover_file(&log, &m, DEFAULT_NOISE, limits()).unwrap();
        let compiled = compile(&found.steps).unwrap();
        let cases = cases(&log, &m, &found.steps);
        let h = holdout::holdout(&compiled, &cases, &|_| 0, 32, 1);
        let hours = |ms: i64| ms as f64 / 3_600_000.0;
        println!(
            "{file}: fitted on {}, replayed {}: actual p50 {:.2} h, predicted {:.2} h (ratio {:.3}); tree {}",
            h.fit_cases,
            h.test_cases,
            hours(h.actual_p50_ms),
            hours(h.predicted_p50_ms),
            h.p50_ratio,
            found.tree
        );
        for s in &h.segments {
            let judged = s.cases >= TARGET_CASES;
            let ok = (0.7..=1.3).contains(&s.p50_ratio);
            if judged {
                all += 1;
                held += ok as usize;
            }
            println!(
                "{file} | {} = {} | {} | {:.2} | {:.2} | {:.3} | {}",
                s.field,
                s.value,
                s.cases,
                hours(s.actual_p50_ms),
                hours(s.predicted_p50_ms),
                s.p50_ratio,
                match (judged, ok) {
                    (false, _) => "-",
                    (true, true) => "met",
                    (true, false) => "MISSED",
                }
            );
        }
    }
    println!("target: within 30 % on {held} of {all} segments of {TARGET_CASES}+ replayed cases");
}

/// The import limits of the default configuration.
fn limits() -> history::Limits {
    history::Limits::of(&workflow_intel::config::Config::default())
}

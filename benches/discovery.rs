//! Discovery bench (run with `cargo bench --bench discovery`): the Inductive Miner –
//! infrequent on every shared event log with its example mapping, and on the lending log
//! repeated to 262,000 events (the size the issue names). With pm4py installed (`pip install
//! pm4py`), its Inductive Miner runs on the same repeated log in the same run, and the ratio
//! is printed. Results: docs/benchmarks.md.
#[path = "support/logs.rs"]
mod logs;
use logs::{LOGS, logs_dir};
use std::time::Instant;
use workflow_intel::discovery::{self, Case, DEFAULT_NOISE};
use workflow_intel::history::{self, mapping::Mapping};

/// How many events the repeated log holds (pm4py's 37 s in the issue was on this many).
const TARGET_EVENTS: usize = 262_000;

/// The best of `n` timed runs, in seconds.
fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn mapping(name: &str) -> Mapping {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    Mapping::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Times discovery of `cases` and prints one line; returns the seconds for the whole
/// discovery and for the process tree alone.
fn report(label: &str, cases: &[Case], m: &Mapping, read: f64) -> (f64, f64) {
    let approval = |s: &str| history::is_approval(m, s);
    let found = discovery::discover(cases, &approval, DEFAULT_NOISE);
    let events: usize = cases.iter().map(|c| c.steps.len()).sum();
    let secs = best_of(3, || {
        std::hint::black_box(discovery::discover(cases, &approval, DEFAULT_NOISE));
    });
    let tree = best_of(3, || {
        std::hint::black_box(discovery::tree(cases, DEFAULT_NOISE));
    });
    println!(
        "{label}: {} cases, {events} events; read {read:.3} s, discover {secs:.3} s \
         (of which the process tree {tree:.3} s; best of 3); tree {} nodes, {} steps, {} rules",
        cases.len(),
        found.size,
        found.steps.as_array().map_or(0, Vec::len),
        found.rules
    );
    (secs, tree)
}

/// The lending log's cases, cycled until they hold TARGET_EVENTS events.
fn repeated(cases: &[Case]) -> Vec<Case> {
    let mut out = Vec::new();
    let mut events = 0;
    for c in cases.iter().cycle() {
        if events >= TARGET_EVENTS {
            break;
        }
        events += c.steps.len();
        out.push(Case {
            steps: c.steps.clone(),
            input: c.input.clone(),
        });
    }
    out
}

/// pm4py's Inductive Miner (infrequent, noise 0.2) on the lending log repeated to the same
/// number of cases, timed around the discovery call only.
fn pm4py(dir: &std::path::Path, cases: usize) -> Option<f64> {
    let script = format!(
        r#"
import time, pm4py, pandas as pd
log = pm4py.read_xes("{}", return_legacy_log_object=False)
ids = log["case:concept:name"].unique()
copies, parts = 0, []
while sum(len(p["case:concept:name"].unique()) for p in parts) < {cases}:
    p = log.copy(); p["case:concept:name"] = p["case:concept:name"] + "-" + str(copies)
    parts.append(p); copies += 1
big = pd.concat(parts)
keep = big["case:concept:name"].unique()[:{cases}]
big = big[big["case:concept:name"].isin(keep)]
t = time.time()
pm4py.discover_process_tree_inductive(big, noise_threshold=0.2)
print(time.time() - t, len(keep), len(big))
"#,
        dir.join("lending_log_high.xes.gz").display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "pm4py did not run: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    let secs: f64 = f.next()?.parse().ok()?;
    println!(
        "pm4py Inductive Miner (noise 0.2): {} cases, {} events; discover {secs:.3} s",
        f.next()?,
        f.next()?
    );
    Some(secs)
}

fn main() {
    let Some(dir) = logs_dir() else {
        println!("event logs not found (set WI_EVENT_LOGS): nothing to bench");
        return;
    };
    let mut lending = Vec::new();
    for (file, map) in LOGS {
        let m = mapping(map);
        let t = Instant::now();
        let cases = history::read_cases(&dir.join(file), &m, limits())
            .unwrap()
            .0;
        let read = t.elapsed().as_secs_f64();
        report(file, &cases, &m, read);
        if file.starts_with("lending") {
            lending = cases;
        }
    }
    let big = repeated(&lending);
    let (ours, tree) = report("lending, repeated", &big, &mapping("lending.toml"), 0.0);
    println!("target: at most 3.7 s (a tenth of pm4py's 37 s in the issue)");
    if let Some(peer) = pm4py(&dir, big.len()) {
        println!(
            "ratio to pm4py (target at most 0.1): process tree {:.4}; with decision mining, \
             which pm4py does not do, {:.4}",
            tree / peer,
            ours / peer
        );
    }
}

/// The import limits of the default configuration.
fn limits() -> history::Limits {
    history::Limits::of(&workflow_intel::config::Config::default())
}

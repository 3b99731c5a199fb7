//! Process discovery (pure): a workflow's structure from its history. The Inductive Miner –
//! infrequent ([`imf`]) finds a process tree over the cases' step sequences; decision mining
//! ([`rules`]) gives each choice's branches a condition over the case input where one holds
//! under the Wilson bar; [`graph`] draws the tree as a BPMN-shaped graph with branch
//! probabilities, which becomes workflow steps through the same conversion as an imported BPMN
//! model.
pub mod branching;
pub mod canonical;
pub mod cuts;
pub mod graph;
pub mod imf;
pub mod net;
pub mod rules;
pub mod synth;

use crate::conformance::{self, Conformance};
use crate::templates::body::GraphSpec;
use crate::templates::bpmn_flow::steps_from_graph;
use crate::workflows::branch_model::BranchModel;
use crate::workflows::steps::GATEWAY;
use imf::{Log, Tree};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// IMf's default noise threshold (the setting `DISCOVERY_NOISE` overrides it).
pub const DEFAULT_NOISE: f64 = 0.2;

/// One case: its steps in order, and its input.
pub struct Case {
    pub steps: Vec<String>,
    pub input: Map<String, Value>,
}

/// What discovery found.
pub struct Discovered {
    /// The process tree in the usual notation.
    pub tree: String,
    /// Nodes in the process tree.
    pub size: usize,
    pub graph: GraphSpec,
    /// Workflow steps: tasks name an action per step (see [`action_type`]), approval steps
    /// the action `approval`, choices the action `gateway`.
    pub steps: Value,
    /// Branch conditions decision mining found.
    pub rules: usize,
    /// The tree replayed against the cases it was discovered from.
    pub conformance: Conformance,
    pub warnings: Vec<String>,
}

/// The catalog action a discovered task step names: its name, lower-cased, with runs of
/// other characters as `_` (prefixed `step_` unless it starts with a letter).
pub fn action_type(step: &str) -> String {
    let mut out = String::new();
    for c in step.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out: String = out.trim_matches('_').chars().take(90).collect();
    if out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out
    } else {
        format!("step_{out}").trim_end_matches('_').to_string()
    }
}

/// The process tree alone (the Inductive Miner – infrequent, no decision mining), with the
/// step names its activities index.
pub fn tree(cases: &[Case], noise: f64) -> (Tree, Vec<String>) {
    let (log, names) = indexed(cases);
    (select(&log, &names, cases, noise), names)
}

/// The cases as the miner's log, and the step names its activities index. Activities are
/// numbered in name order, so that the miner's ties (which activity a fall-through takes
/// first, which part a tied trace joins) do not depend on case order.
pub fn indexed(cases: &[Case]) -> (Log, Vec<String>) {
    let mut names: Vec<&str> = cases
        .iter()
        .flat_map(|c| c.steps.iter().map(String::as_str))
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    names.sort_unstable();
    let index: HashMap<&str, imf::Act> = names
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as imf::Act))
        .collect();
    let mut log = Log::default();
    for (k, c) in cases.iter().enumerate() {
        log.push(
            c.steps.iter().map(|s| index[s.as_str()]).collect(),
            k as u32,
        );
    }
    (log, names.into_iter().map(String::from).collect())
}

/// How much fitness the selection gives up for precision: among the variants' models, the
/// most precise one whose fitness is within this of the best is kept.
const FITNESS_GIVE: f64 = 0.01;

/// Mines `log` with each of the miner's variants ([`imf::Options::variants`]), each tree in
/// the reference's canonical form ([`canonical`]), and keeps the most precise model whose
/// token-replay fitness on the log is within [`FITNESS_GIVE`] of the best variant's; the
/// default variant wins ties. Where the papers leave a choice open, no one
/// convention wins on every log, and the replay says which fits this one.
fn select(log: &Log, names: &[String], cases: &[Case], noise: f64) -> Tree {
    // The minings are independent: one thread each.
    let mined: Vec<Tree> = std::thread::scope(|s| {
        let handles: Vec<_> = imf::Options::variants(noise)
            .map(|o| s.spawn(move || canonical::canonical(imf::mine(log, &o), names)))
            .into_iter()
            .collect();
        let joined = handles.into_iter().map(std::thread::ScopedJoinHandle::join);
        joined
            .map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut trees: Vec<Tree> = Vec::new();
    for tree in mined {
        if !trees.contains(&tree) {
            trees.push(tree);
        }
    }
    if trees.len() == 1 {
        return trees.remove(0);
    }
    let traces = variants(cases);
    // The replays are independent: one thread each.
    let scores: Vec<(f64, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = trees
            .iter()
            .map(|t| {
                let traces = &traces;
                s.spawn(move || {
                    let c = conformance::check(&net::of_tree(t, names), traces);
                    (c.fitness, c.precision)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0.0, 0.0)))
            .collect()
    });
    let best = scores.iter().map(|(f, _)| *f).fold(0.0, f64::max);
    let within = |i: usize| scores[i].0 >= best - FITNESS_GIVE;
    let mut keep = 0;
    for i in 1..scores.len() {
        if within(i) && (!within(keep) || scores[i].1 > scores[keep].1) {
            keep = i;
        }
    }
    trees.swap_remove(keep)
}

/// Discovers the workflow that `cases` followed. `approval` tells which steps are approvals.
pub fn discover(cases: &[Case], approval: &dyn Fn(&str) -> bool, noise: f64) -> Discovered {
    let (tree, names) = tree(cases, noise);
    let inputs: Vec<&Map<String, Value>> = cases.iter().map(|c| &c.input).collect();
    let found = std::cell::Cell::new(0usize);
    let decide = |branches: &[(Tree, Vec<u32>)]| -> graph::Mined {
        let cases: Vec<&[u32]> = branches.iter().map(|(_, c)| c.as_slice()).collect();
        let rules = rules::mine(&inputs, &cases);
        found.set(found.get() + rules.iter().flatten().count());
        graph::Mined {
            conditions: rules.into_iter().map(|r| r.map(|r| r.condition)).collect(),
            model: branching::fit(&inputs, &cases),
        }
    };
    let (graph, models) = graph::Drawer::new(&names, approval, &decide).draw(&tree);
    let converted = steps_from_graph(&graph);
    let conformance = conformance::check(&net::of_tree(&tree, &names), &variants(cases));
    let mut warnings = converted.warnings;
    warnings.extend(conformance::precision_warning(&conformance));
    Discovered {
        tree: tree.notation(&names),
        size: tree.size(),
        steps: with_models(name_actions(converted.steps), models),
        rules: found.get(),
        conformance,
        warnings,
        graph,
    }
}

/// Each distinct step sequence with how many cases followed it.
pub fn variants(cases: &[Case]) -> Vec<(Vec<String>, usize)> {
    let mut count: HashMap<&[String], usize> = HashMap::new();
    for c in cases {
        *count.entry(c.steps.as_slice()).or_default() += 1;
    }
    count.into_iter().map(|(t, n)| (t.to_vec(), n)).collect()
}

/// Each choice step gets its branch model (steps are named after their gateway's label).
fn with_models(mut steps: Value, models: Vec<(String, BranchModel)>) -> Value {
    let models: HashMap<String, BranchModel> = models.into_iter().collect();
    for s in steps.as_array_mut().into_iter().flatten() {
        let branches = s["branches"].as_array().map_or(0, Vec::len);
        let model = s["name"].as_str().and_then(|n| models.get(n));
        if let Some(m) = model.filter(|m| m.check(branches).is_ok())
            && let Ok(v) = serde_json::to_value(m)
        {
            s["branch_model"] = v;
        }
    }
    steps
}

/// Task steps get their own action (see [`action_type`]).
fn name_actions(mut steps: Value) -> Value {
    for s in steps.as_array_mut().into_iter().flatten() {
        if s["action"] == json!("task") {
            let name = s["name"].as_str().unwrap_or_default().to_string();
            s["action"] = json!(action_type(&name));
        }
    }
    steps
}

/// The catalog actions the steps name (not the routing action).
pub fn actions(steps: &Value) -> Vec<String> {
    let mut v: Vec<String> = steps
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["action"].as_str())
        .filter(|a| *a != GATEWAY)
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

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
use rayon::prelude::*;
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
    (select(&log, &names, noise), names)
}

/// The cases as the miner's log, and the step names its activities index. Activities are
/// numbered in name order, so that the miner's ties (which activity a fall-through takes
/// first, which part a tied trace joins) do not depend on case order.
pub fn indexed(cases: &[Case]) -> (Log, Vec<String>) {
    // One pass, numbering activities as they come, then renumbered in name order (one
    // lookup per event, and one renumbering per distinct trace).
    let mut seen: rustc_hash::FxHashMap<&str, imf::Act> = Default::default();
    let mut names: Vec<&str> = Vec::new();
    let mut traces: rustc_hash::FxHashMap<Vec<imf::Act>, Vec<u32>> = Default::default();
    for (k, c) in cases.iter().enumerate() {
        let trace = c.steps.iter().map(|s| {
            *seen.entry(s.as_str()).or_insert_with(|| {
                names.push(s);
                (names.len() - 1) as imf::Act
            })
        });
        traces.entry(trace.collect()).or_default().push(k as u32);
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_unstable_by_key(|i| names[*i]);
    let mut rank = vec![0 as imf::Act; names.len()];
    order
        .iter()
        .enumerate()
        .for_each(|(r, i)| rank[*i] = r as imf::Act);
    let mut log = Log::default();
    for (t, ks) in traces {
        log.traces
            .insert(t.iter().map(|a| rank[*a as usize]).collect(), ks);
    }
    let names = order.into_iter().map(|i| names[i].to_string()).collect();
    (log, names)
}

/// How much fitness another variant may give up against the reference's model and still
/// replace it (less than the 0.01 a comparison of miners usually allows, so that a model
/// chosen here is within it by any token replay's rounding).
const FITNESS_GIVE: f64 = 0.005;

/// Mines `log` with each of the miner's variants ([`imf::Options::variants`]), each tree in
/// the reference's canonical form ([`canonical`]). The reference implementation's model
/// ([`imf::Options::reference`], pm4py's IMf) is the baseline: another variant's model
/// replaces it only when token replay on the log finds it more precise (by at least
/// [`PRECISION_GAIN`]), with fitness at most [`FITNESS_GIVE`] lower ([`preferred`]). Where
/// the papers leave a choice open, no one convention wins on every log, and the replay says
/// which fits this one; the model kept is never less precise than the reference's.
fn select(log: &Log, names: &[String], noise: f64) -> Tree {
    let options = imf::Options::variants(noise);
    // The minings are independent: one task each on rayon's pool, whose threads (and their
    // allocator's pages) outlive the call. A thread spawned per call first has fresh pages
    // zeroed and set up for it: 30 % of a profile's samples on one log.
    let mined: Vec<Tree> = options
        .par_iter()
        .map(|o| canonical::canonical(imf::mine(log, o), names))
        .collect();
    let mut trees: Vec<Tree> = Vec::new();
    let mut reference = 0;
    for (tree, o) in mined.into_iter().zip(options) {
        let at = trees.iter().position(|t| *t == tree).unwrap_or(trees.len());
        if at == trees.len() {
            trees.push(tree);
        }
        if o.reference {
            reference = at;
        }
    }
    if trees.len() == 1 {
        return trees.remove(0);
    }
    let scores = replay_each(&trees, names, &prefixes(log, names));
    let keep = preferred(&scores, reference);
    trees.swap_remove(keep)
}

/// The miner's log as the replay's prefix tree (each distinct trace weighs its cases).
fn prefixes(log: &Log, names: &[String]) -> conformance::Prefixes {
    let traces = log.traces.iter().map(|(t, c)| (t.as_slice(), c.len()));
    conformance::Prefixes::of_numbered(traces, names)
}

/// Each tree's token-replay fitness and precision on `log`, one task per tree.
fn replay_each(trees: &[Tree], names: &[String], log: &conformance::Prefixes) -> Vec<(f64, f64)> {
    trees
        .par_iter()
        .map(|t| {
            let c = conformance::check_prefixes(&net::of_tree(t, names), log);
            (c.fitness, c.precision)
        })
        .collect()
}

/// How much more precise than the reference's model another variant's must be to replace
/// it: two models whose precision differs by less are alike to the replay's rounding (token
/// replays differ in which silent moves they take), and the reference's is kept.
const PRECISION_GAIN: f64 = 0.001;

/// Which of the scored models (fitness, precision) [`select`] keeps: the most precise of
/// those at least [`PRECISION_GAIN`] more precise than the `reference` model and within
/// [`FITNESS_GIVE`] of its fitness (then the fitter, then the first); else the reference.
fn preferred(scores: &[(f64, f64)], reference: usize) -> usize {
    let (fitness, precision) = scores[reference];
    let qualifies =
        |(f, p): (f64, f64)| f >= fitness - FITNESS_GIVE && p >= precision + PRECISION_GAIN;
    let mut keep = reference;
    for (i, s) in scores.iter().enumerate() {
        let better = keep == reference || (s.1, s.0) > (scores[keep].1, scores[keep].0);
        if i != reference && qualifies(*s) && better {
            keep = i;
        }
    }
    keep
}

/// Discovers the workflow that `cases` followed. `approval` tells which steps are approvals.
pub fn discover(cases: &[Case], approval: &dyn Fn(&str) -> bool, noise: f64) -> Discovered {
    let (log, names) = indexed(cases);
    let tree = select(&log, &names, noise);
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
    let conformance =
        conformance::check_prefixes(&net::of_tree(&tree, &names), &prefixes(&log, &names));
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
    let mut count: rustc_hash::FxHashMap<&[String], usize> = Default::default();
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

#[cfg(test)]
mod tests {
    use super::preferred;

    #[test]
    fn another_variant_replaces_the_reference_only_when_more_precise_and_as_fitting() {
        // The reference (index 2) at 0.94 / 0.78; a fitter but far less precise model does
        // not replace it.
        assert_eq!(preferred(&[(0.98, 0.28), (0.98, 0.30), (0.94, 0.78)], 2), 2);
        // A more precise model within 0.005 of its fitness does; the most precise wins.
        let scores = [(0.936, 0.80), (0.95, 0.79), (0.94, 0.78)];
        assert_eq!(preferred(&scores, 2), 0);
        // More precise, but 0.006 less fitting: not taken.
        let scores = [(0.934, 0.90), (0.93, 0.95), (0.94, 0.78)];
        assert_eq!(preferred(&scores, 2), 2);
        // Less than 0.001 more precise is alike: the reference stays, however fit the other.
        let scores = [(0.99, 0.7805), (0.96, 0.78), (0.94, 0.78)];
        assert_eq!(preferred(&scores, 2), 2);
        // Equally more precise: the fitter, then the earlier.
        let scores = [(0.95, 0.79), (0.96, 0.79), (0.94, 0.78)];
        assert_eq!(preferred(&scores, 2), 1);
        let scores = [(0.95, 0.79), (0.95, 0.79), (0.94, 0.78)];
        assert_eq!(preferred(&scores, 2), 0);
    }
}

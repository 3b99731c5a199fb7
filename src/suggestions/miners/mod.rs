//! The miners: pure functions over history, each suggestion with evidence, a proposed change
//! and an impact replayed over the same history. One file per miner; `rules.rs` is the rule
//! engine that the decision miners and the near misses share.
mod auto_decisions;
mod error_handling;
mod near_misses;
mod parallel;
mod performance;
mod rules;
#[cfg(test)]
mod tests;

pub use auto_decisions::auto_decisions;
pub use error_handling::error_handling;
pub use near_misses::{NearMiss, near_misses};
pub use parallel::parallel_approvals;
pub use performance::performance;

use super::SuggestionType;
use crate::conditions;
use crate::model::ApprovalDecision;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

pub use crate::stats::{RULE_CONFIDENCE, wilson_lower, wilson_upper};

#[derive(Clone, Debug)]
pub struct StepRec {
    pub name: String,
    pub action_type: Option<String>,
    pub approver: Option<String>,
    pub decision: Option<ApprovalDecision>,
    pub duration_ms: Option<i64>,
    /// Whether the duration is handling time alone (the run's start was recorded, not taken
    /// from the previous event).
    pub handling: bool,
    pub failed: bool,
}

#[derive(Clone, Debug)]
pub struct CaseRec {
    pub id: Uuid,
    pub input: Map<String, Value>,
    pub duration_ms: Option<i64>,
    pub failed: bool,
    pub steps: Vec<StepRec>,
}

#[derive(Clone, Debug)]
pub struct WorkflowHistory {
    pub id: Uuid,
    pub name: String,
    /// The definition's steps (name, approver, conditions), in order.
    pub steps: Vec<crate::workflows::steps::Step>,
    /// Active SLA targets: (name, seconds).
    pub sla_targets: Vec<(String, i64)>,
    pub cases: Vec<CaseRec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mined {
    pub kind: SuggestionType,
    pub workflow_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub confidence: f64,
    pub frequency: usize,
    pub evidence: Value,
    pub proposed_change: Value,
    pub impact: Value,
    pub fingerprint: String,
}

pub(super) fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

pub(super) fn sample_ids(ids: impl Iterator<Item = Uuid>) -> Vec<String> {
    ids.take(5).map(|i| i.to_string()).collect()
}

pub(super) fn fmt_num(x: f64) -> String {
    num_value(x).to_string()
}

/// A whole number as a JSON integer (`10`, not `10.0`), anything else as it is.
pub(super) fn num_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// What an imported or reported step duration measures: from the step's start to its end,
/// where the start is the previous event when the log records only completions.
pub(super) const HANDLING: &str = "a step's duration runs from its recorded start to its end, so it is handling time alone and the time saved can never exceed the handling time recorded";
pub(super) const ELAPSED: &str = "a step's duration runs from its start to its end; in a log that records only completions its start is the previous event, so it is waiting and handling together";

/// How many distinct executions.
pub(super) fn distinct(ids: impl Iterator<Item = Uuid>) -> usize {
    ids.collect::<std::collections::HashSet<_>>().len()
}

/// Every miner over a history.
pub fn mine(
    workflows: &[WorkflowHistory],
    idempotent: &HashMap<String, bool>,
    min: usize,
) -> Vec<Mined> {
    let mut out = Vec::new();
    for w in workflows {
        out.extend(auto_decisions(w, min));
        out.extend(parallel_approvals(w, min));
        out.extend(performance(w, min));
    }
    out.extend(error_handling(workflows, idempotent, min));
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out
}

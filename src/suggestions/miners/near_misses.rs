//! Near misses: the strongest rule that history does not support, per step and outcome.
use super::rules::*;
use super::*;

/// The strongest one-attribute rule for an approval step and outcome that history does not
/// support at [`RULE_CONFIDENCE`]: the answer to "why was nothing suggested on this
/// attribute?". It is reported with the generation, never stored as a suggestion.
#[derive(Clone, Debug, PartialEq)]
pub struct NearMiss {
    pub workflow_id: Uuid,
    pub step: String,
    /// The outcome the rule would decide.
    pub decision: ApprovalDecision,
    pub attribute: String,
    pub condition: Value,
    pub rule: String,
    /// Decisions the rule covers.
    pub support: usize,
    /// Of those, how many history decided as the rule would.
    pub matching: usize,
    pub wilson_lower_bound: f64,
}

/// Near misses cap: the strongest this many are reported.
pub(super) const NEAR_MISSES: usize = 50;

/// For every approval step, outcome and input attribute, the strongest one-attribute rule
/// with at least `min` support, when it falls short of the bar. An attribute that carries a
/// qualifying rule has none. Strongest first.
pub fn near_misses(workflows: &[WorkflowHistory], min: usize) -> Vec<NearMiss> {
    let mut out = Vec::new();
    for w in workflows {
        for (step, ds) in decisions_by_step(w) {
            let all: Vec<&Decision<'_>> = ds.iter().collect();
            let (numeric, categorical) = (numeric_attrs(&ds), categorical_attrs(&ds));
            for want_approved in [true, false] {
                let mut consider = |attr: &str, search: &dyn Fn(&mut Best)| {
                    let mut best = Best {
                        min,
                        total: ds.len(),
                        floor: f64::NEG_INFINITY,
                        rule: None,
                    };
                    search(&mut best);
                    let Some(r) = best.rule.filter(|r| r.wilson() < RULE_CONFIDENCE) else {
                        return;
                    };
                    out.push(NearMiss {
                        workflow_id: w.id,
                        step: step.to_string(),
                        decision: if want_approved {
                            ApprovalDecision::Approved
                        } else {
                            ApprovalDecision::Rejected
                        },
                        attribute: attr.to_string(),
                        wilson_lower_bound: r.wilson(),
                        condition: r.condition,
                        rule: r.text,
                        support: r.support,
                        matching: r.hits,
                    });
                };
                for a in &numeric {
                    consider(a, &|b| threshold_rules(&all, a, want_approved, None, b));
                }
                for c in &categorical {
                    consider(c, &|b| {
                        for members in value_groups(&ds, c) {
                            consider_value(&members, c, want_approved, b);
                        }
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| {
        b.wilson_lower_bound
            .total_cmp(&a.wilson_lower_bound)
            .then(b.support.cmp(&a.support))
    });
    out.truncate(NEAR_MISSES);
    out
}

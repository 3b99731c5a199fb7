//! The miners: pure functions over history, each suggestion with evidence, a proposed change
//! and an impact replayed over the same history.
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

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

fn sample_ids(ids: impl Iterator<Item = Uuid>) -> Vec<String> {
    ids.take(5).map(|i| i.to_string()).collect()
}

fn fmt_num(x: f64) -> String {
    num_value(x).to_string()
}

/// A whole number as a JSON integer (`10`, not `10.0`), anything else as it is.
fn num_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// One approval decision, with the case's input and the step's duration.
struct Decision<'a> {
    case: &'a CaseRec,
    approved: bool,
    duration_ms: i64,
}

/// A candidate rule and how history judged it.
#[derive(Clone, Debug)]
struct Rule {
    condition: Value,
    text: String,
    support: usize,
    hits: usize,
    fields: usize,
}

impl Rule {
    fn wilson(&self) -> f64 {
        wilson_lower(self.hits, self.support)
    }
}

/// Keeps the best qualifying rule seen so far: the surest (for a pure region the Wilson
/// bound grows with its support), then the broadest, then the simplest.
struct Best {
    min: usize,
    total: usize,
    /// The least Wilson bound a rule needs to be kept: [`RULE_CONFIDENCE`] for suggestions,
    /// none when looking for the strongest rule that falls short.
    floor: f64,
    rule: Option<Rule>,
}

impl Best {
    fn consider(
        &mut self,
        support: usize,
        hits: usize,
        fields: usize,
        make: impl FnOnce() -> (Value, String),
    ) {
        if support < self.min || support >= self.total {
            return;
        }
        let w = wilson_lower(hits, support);
        if w < self.floor {
            return;
        }
        let better = match &self.rule {
            None => true,
            Some(r) => w
                .total_cmp(&r.wilson())
                .then(support.cmp(&r.support))
                .then(r.fields.cmp(&fields))
                .is_gt(),
        };
        if better {
            let (condition, text) = make();
            self.rule = Some(Rule {
                condition,
                text,
                support,
                hits,
                fields,
            });
        }
    }
}

fn numeric_attrs(ds: &[Decision<'_>]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in ds {
        for (k, v) in &d.case.input {
            if v.is_number() {
                *counts.entry(k.as_str()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .filter(|(_, c)| *c * 10 >= ds.len() * 8)
        .map(|(k, _)| k.to_string())
        .collect()
}

fn categorical_attrs(ds: &[Decision<'_>]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in ds {
        for (k, v) in &d.case.input {
            if v.is_string() || v.is_boolean() {
                *counts.entry(k.as_str()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .filter(|(_, c)| *c * 10 >= ds.len() * 8)
        .map(|(k, _)| k.to_string())
        .collect()
}

/// Threshold rules on one numeric attribute: every prefix (`< v`) and suffix (`>= v`) of the
/// sorted values, counted in one pass.
fn threshold_rules(
    ds: &[&Decision<'_>],
    attr: &str,
    want_approved: bool,
    base: Option<(&str, &Value)>,
    best: &mut Best,
) {
    let mut vals: Vec<(f64, bool)> = ds
        .iter()
        .filter_map(|d| {
            d.case
                .input
                .get(attr)
                .and_then(Value::as_f64)
                .map(|x| (x, d.approved == want_approved))
        })
        .collect();
    if vals.len() < 2 {
        return;
    }
    vals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total_hits = vals.iter().filter(|v| v.1).count();
    let n = vals.len();
    let fields = 1 + base.is_some() as usize;
    let mut prefix_hits = 0;
    for i in 0..n {
        prefix_hits += vals[i].1 as usize;
        let boundary = i + 1 < n && vals[i + 1].0 > vals[i].0;
        if !boundary {
            continue;
        }
        let cut = vals[i + 1].0;
        let mk = |op: &str| {
            let mut cond = Map::new();
            if let Some((k, v)) = base {
                cond.insert(k.to_string(), v.clone());
            }
            cond.insert(attr.to_string(), json!({ op: num_value(cut) }));
            let sym = if op == "$lt" { "<" } else { ">=" };
            let text = match base {
                Some((k, v)) => format!("{k} = {v} and {attr} {sym} {}", fmt_num(cut)),
                None => format!("{attr} {sym} {}", fmt_num(cut)),
            };
            (Value::Object(cond), text)
        };
        best.consider(i + 1, prefix_hits, fields, || mk("$lt"));
        best.consider(n - i - 1, total_hits - prefix_hits, fields, || mk("$gte"));
    }
}

/// The decisions of one categorical attribute grouped by value, largest groups first (at most
/// 20 of them).
fn value_groups<'a, 'b>(ds: &'b [Decision<'a>], attr: &str) -> Vec<Vec<&'b Decision<'a>>> {
    let mut groups: BTreeMap<String, Vec<&Decision<'_>>> = BTreeMap::new();
    for d in ds {
        if let Some(v) = d
            .case
            .input
            .get(attr)
            .filter(|v| v.is_string() || v.is_boolean())
        {
            groups.entry(v.to_string()).or_default().push(d);
        }
    }
    let mut by_size: Vec<Vec<&Decision<'_>>> = groups.into_values().collect();
    by_size.sort_by_key(|g| std::cmp::Reverse(g.len()));
    by_size.truncate(20);
    by_size
}

/// The rule `attr = value` for one group of [`value_groups`].
fn consider_value(members: &[&Decision<'_>], attr: &str, want_approved: bool, best: &mut Best) {
    let value = &members[0].case.input[attr];
    let hits = members
        .iter()
        .filter(|d| d.approved == want_approved)
        .count();
    best.consider(members.len(), hits, 1, || {
        (json!({ attr: value.clone() }), format!("{attr} = {value}"))
    });
}

/// The best qualifying rule for one approval step and direction.
fn best_rule(ds: &[Decision<'_>], want_approved: bool, min: usize) -> Option<Rule> {
    let all: Vec<&Decision<'_>> = ds.iter().collect();
    let mut best = Best {
        min,
        total: ds.len(),
        floor: RULE_CONFIDENCE,
        rule: None,
    };
    let numeric = numeric_attrs(ds);
    for a in &numeric {
        threshold_rules(&all, a, want_approved, None, &mut best);
    }
    for c in categorical_attrs(ds) {
        for members in value_groups(ds, &c) {
            let value = members[0].case.input[&c].clone();
            consider_value(&members, &c, want_approved, &mut best);
            if members.len() >= min {
                for a in &numeric {
                    threshold_rules(&members, a, want_approved, Some((&c, &value)), &mut best);
                }
            }
        }
    }
    best.rule
}

/// Every approval decision in history, by step name.
fn decisions_by_step(w: &WorkflowHistory) -> BTreeMap<&str, Vec<Decision<'_>>> {
    let mut by_step: BTreeMap<&str, Vec<Decision<'_>>> = BTreeMap::new();
    for c in &w.cases {
        for s in &c.steps {
            if let Some(d) = s.decision {
                by_step.entry(s.name.as_str()).or_default().push(Decision {
                    case: c,
                    approved: d == ApprovalDecision::Approved,
                    duration_ms: s.duration_ms.unwrap_or(0),
                });
            }
        }
    }
    by_step
}

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
const NEAR_MISSES: usize = 50;

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

/// AUTO_APPROVAL and AUTO_REJECTION: rules over input attributes under which an approval
/// step's outcome is (statistically) certain.
pub fn auto_decisions(w: &WorkflowHistory, min: usize) -> Vec<Mined> {
    let mut out = Vec::new();
    for (step, ds) in decisions_by_step(w) {
        for want_approved in [true, false] {
            let Some(rule) = best_rule(&ds, want_approved, min) else {
                continue;
            };
            let Ok(cond) = conditions::parse(&rule.condition) else {
                continue;
            };
            let covered: Vec<&Decision<'_>> = ds
                .iter()
                .filter(|d| cond.matches_map(&d.case.input))
                .collect();
            let differently = covered
                .iter()
                .filter(|d| d.approved != want_approved)
                .count();
            let hours: f64 =
                covered.iter().map(|d| d.duration_ms as f64).sum::<f64>() / 3_600_000.0;
            let cases = distinct(covered.iter().map(|d| d.case.id));
            let (kind, verb, outcome) = if want_approved {
                (SuggestionType::AutoApproval, "approve", "approved")
            } else {
                (SuggestionType::AutoRejection, "reject", "rejected")
            };
            let rate = rule.hits as f64 / rule.support as f64;
            let every = if rule.hits == rule.support {
                "every time".to_string()
            } else {
                format!("{:.1}% of the time", rate * 100.0)
            };
            out.push(Mined {
                kind,
                workflow_id: Some(w.id),
                title: format!("Auto-{verb} \"{step}\" when {}", rule.text),
                description: format!(
                    "Based on {} requests, \"{step}\" {outcome} requests with {} {every} (95% confidence lower bound {:.3}). Deciding these automatically would have saved the {:.1} hours these decisions took, waiting included.",
                    rule.support, rule.text, rule.wilson(), hours
                ),
                confidence: rule.wilson(),
                frequency: rule.support,
                evidence: json!({
                    "step": step,
                    "rule": rule.text,
                    "support": rule.support,
                    outcome: rule.hits,
                    "rate": rate,
                    "wilsonLowerBound": rule.wilson(),
                    "decisionsSeen": ds.len(),
                    "sampleExecutionIds": sample_ids(covered.iter().map(|d| d.case.id)),
                    "impactMethod": {
                        "casesAffected": "distinct executions that reached the step with an input the rule matches",
                        "decisionsAffected": "the step's decisions in those executions (a step that repeats decides more than once)",
                        "hoursSaved": format!("the recorded durations of those decisions, summed: {ELAPSED}"),
                        "hoursSavedMeasures": "elapsed",
                        "decidedDifferently": "decisions among them whose recorded outcome differs from the rule's",
                    },
                }),
                proposed_change: json!({
                    "step": step,
                    "decision": outcome,
                    "when": rule.condition,
                    // The approval step then runs only when the rule does not hold.
                    "stepConditions": {"$nor": [rule.condition]},
                }),
                impact: json!({
                    "casesAffected": cases,
                    "decisionsAffected": covered.len(),
                    "hoursSaved": hours,
                    "decidedDifferently": differently,
                }),
                fingerprint: fingerprint(&[kind.as_str(), &w.id.to_string(), step, &rule.condition.to_string()]),
            });
        }
    }
    out
}

/// PARALLEL_APPROVAL: consecutive approval steps with different approvers, where the later
/// step's condition does not read the earlier step's outcome and history shows the earlier
/// step rarely rejects.
pub fn parallel_approvals(w: &WorkflowHistory, min: usize) -> Vec<Mined> {
    let mut out = Vec::new();
    for pair in w.steps.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let Some(b_applies) = independent_approvals(a, b) else {
            continue;
        };
        let t = tally(w, a, b, b_applies.as_ref());
        if t.n < min {
            continue;
        }
        // "Rarely rejects": even the pessimistic (95 % upper) rejection rate is under 10 %.
        let upper = wilson_upper(t.rejected, t.n);
        if upper <= 0.10 {
            out.push(parallel_suggestion(w, a, b, &t, upper));
        }
    }
    out
}

/// For two consecutive approval steps with different approvers, where the later one does
/// not read the earlier one's outcome: the later step's own condition (None: it always
/// applies). None when the pair does not qualify.
fn independent_approvals(
    a: &crate::workflows::steps::Step,
    b: &crate::workflows::steps::Step,
) -> Option<Option<conditions::Cond>> {
    let (aa, ba) = (a.approver.as_ref()?, b.approver.as_ref()?);
    if aa == ba {
        return None;
    }
    let reads_outcome = b
        .conditions
        .as_ref()
        .and_then(|c| conditions::parse(c).ok())
        .is_some_and(|c| {
            c.fields()
                .iter()
                .any(|f| f.contains(&a.name) || f.contains("decision"))
        });
    if reads_outcome {
        return None;
    }
    // The later step's own condition decides which cases it concerns. Whether it ran
    // cannot: in a sequence it runs only after the earlier step approved, so counting
    // only cases where it ran would never see a rejection.
    match &b.conditions {
        None => Some(None),
        Some(c) => conditions::parse(c).ok().map(Some),
    }
}

/// What the history says about a pair of approvals.
#[derive(Default)]
struct PairTally {
    /// Executions in which the first decided and the second's condition holds.
    n: usize,
    rejected: usize,
    /// How long the second waited behind the first, and what overlapping would have saved.
    wait_ms: f64,
    saved_ms: f64,
    ids: Vec<Uuid>,
}

fn tally(
    w: &WorkflowHistory,
    a: &crate::workflows::steps::Step,
    b: &crate::workflows::steps::Step,
    b_applies: Option<&conditions::Cond>,
) -> PairTally {
    let mut t = PairTally::default();
    for c in &w.cases {
        let Some(sa) = c
            .steps
            .iter()
            .find(|s| s.name == a.name && s.decision.is_some())
        else {
            continue;
        };
        if b_applies.is_some_and(|cond| !cond.matches_map(&c.input)) {
            continue;
        }
        t.n += 1;
        if sa.decision == Some(ApprovalDecision::Rejected) {
            t.rejected += 1;
        } else if let Some(sb) = c.steps.iter().find(|s| s.name == b.name) {
            // In parallel the pair takes as long as the longer of the two.
            let (da, db) = (sa.duration_ms.unwrap_or(0), sb.duration_ms.unwrap_or(0));
            t.wait_ms += da as f64;
            t.saved_ms += da.min(db) as f64;
            t.ids.push(c.id);
        }
    }
    t
}

fn parallel_suggestion(
    w: &WorkflowHistory,
    a: &crate::workflows::steps::Step,
    b: &crate::workflows::steps::Step,
    t: &PairTally,
    upper: f64,
) -> Mined {
    let (aa, ba) = (
        a.approver.as_deref().unwrap_or_default(),
        b.approver.as_deref().unwrap_or_default(),
    );
    let hours = t.saved_ms / 3_600_000.0;
    let (n, rejected, wait_ms, saved_ms, ids) = (t.n, t.rejected, t.wait_ms, t.saved_ms, &t.ids);
    Mined {
        kind: SuggestionType::ParallelApproval,
        workflow_id: Some(w.id),
        title: format!(
            "Ask {aa} and {ba} in parallel (\"{}\" and \"{}\")",
            a.name, b.name
        ),
        description: format!(
            "Of {n} requests that concern both, \"{}\" ({aa}) rejected {rejected}, and \"{}\" ({ba}) does not depend on its outcome. {ba} waited {:.1} hours behind {aa}; running them in parallel would have made those requests {:.1} hours shorter in all ({:.1} min per request); {rejected} requests would have reached {ba} needlessly.",
            a.name,
            b.name,
            wait_ms / 3_600_000.0,
            hours,
            saved_ms / ids.len().max(1) as f64 / 60_000.0
        ),
        confidence: 1.0 - upper,
        frequency: n,
        evidence: json!({"first": a.name, "second": b.name, "executions": n, "firstRejected": rejected, "rejectionRateUpperBound": upper, "secondWaitedHours": wait_ms / 3_600_000.0, "sampleExecutionIds": sample_ids(ids.iter().copied()),
        "impactMethod": {
            "casesAffected": "executions in which the first step decided and the second step's condition holds",
            "hoursSaved": format!("replayed: in each execution the first approved and the second then ran, the two overlapping instead of running one after the other shortens it by the shorter of their recorded durations; summed: {ELAPSED}"),
            "secondWaitedHours": "the first step's recorded durations in those executions, summed: how long the second waited behind it",
            "hoursSavedMeasures": "elapsed",
            "needlessRequests": "executions in which the first step rejected (the second would have been asked in vain)",
        }}),
        proposed_change: json!({"parallel": [a.name, b.name]}),
        impact: json!({"casesAffected": n, "hoursSaved": hours, "decidedDifferently": 0, "needlessRequests": rejected}),
        fingerprint: fingerprint(&["parallel_approval", &w.id.to_string(), &a.name, &b.name]),
    }
}

/// What an imported or reported step duration measures: from the step's start to its end,
/// where the start is the previous event when the log records only completions.
const HANDLING: &str = "a step's duration runs from its recorded start to its end, so it is handling time alone and the time saved can never exceed the handling time recorded";
const ELAPSED: &str = "a step's duration runs from its start to its end; in a log that records only completions its start is the previous event, so it is waiting and handling together";

/// How many distinct executions.
fn distinct(ids: impl Iterator<Item = Uuid>) -> usize {
    ids.collect::<std::collections::HashSet<_>>().len()
}

/// Executions in which a step ran.
fn cases_with(w: &WorkflowHistory, step: &str) -> usize {
    w.cases
        .iter()
        .filter(|c| c.steps.iter().any(|s| s.name == step))
        .count()
}

/// How far values exceed a level, summed.
fn overrun(values: &[f64], level: f64) -> f64 {
    values.iter().map(|v| (v - level).max(0.0)).sum()
}

fn p90(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * 0.9).round() as usize]
}

/// PERFORMANCE: workflows whose p90 duration exceeds an SLA target, and steps whose p90
/// stands far out from their peers; each names the bottleneck step and its share of the time.
pub fn performance(w: &WorkflowHistory, min: usize) -> Vec<Mined> {
    let mut totals: Vec<f64> = w
        .cases
        .iter()
        .filter_map(|c| c.duration_ms)
        .map(|d| d as f64 / 1000.0)
        .collect();
    if totals.len() < min {
        return Vec::new();
    }
    let wf_p90 = p90(&mut totals);
    let mut by_step: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for c in &w.cases {
        for s in &c.steps {
            if let Some(d) = s.duration_ms {
                by_step
                    .entry(s.name.as_str())
                    .or_default()
                    .push(d as f64 / 1000.0);
            }
        }
    }
    let grand: f64 = by_step.values().flatten().sum();
    let Some((bottleneck, secs)) = by_step
        .iter()
        .map(|(k, v)| (*k, v.iter().sum::<f64>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Vec::new();
    };
    let share = if grand > 0.0 { secs / grand } else { 0.0 };
    let late = Late {
        totals: &totals,
        wf_p90,
        bottleneck,
        share,
    };
    match sla_overrun(w, &late) {
        Some(m) => vec![m],
        // No SLA breach: a step far slower than its peers.
        None => outlier_step(w, min, &mut by_step, grand)
            .into_iter()
            .collect(),
    }
}

/// A workflow's case durations and where its time goes.
struct Late<'a> {
    totals: &'a [f64],
    wf_p90: f64,
    bottleneck: &'a str,
    share: f64,
}

/// The workflow's p90 exceeds its tightest SLA target.
fn sla_overrun(w: &WorkflowHistory, l: &Late<'_>) -> Option<Mined> {
    let (totals, wf_p90, bottleneck, share) = (l.totals, l.wf_p90, l.bottleneck, l.share);
    let (sla, target) = w.sla_targets.iter().min_by_key(|(_, t)| *t)?;
    if wf_p90 <= *target as f64 {
        return None;
    }
    let over = totals.iter().filter(|d| **d > *target as f64).count();
    Some(Mined {
        kind: SuggestionType::Performance,
        workflow_id: Some(w.id),
        title: format!(
            "\"{}\" runs past its SLA: speed up \"{bottleneck}\"",
            w.name
        ),
        description: format!(
            "The p90 duration is {:.0} s against the {target} s target of SLA \"{sla}\" ({over} of {} executions over). \"{bottleneck}\" takes {:.0}% of the time.",
            wf_p90,
            totals.len(),
            share * 100.0
        ),
        confidence: wilson_lower(over, totals.len()).max(0.5_f64.min(share)),
        frequency: totals.len(),
        evidence: json!({"p90Seconds": wf_p90, "slaTargetSeconds": target, "executions": totals.len(), "overTarget": over, "bottleneck": bottleneck, "bottleneckShare": share,
        "impactMethod": {
            "casesAffected": "executions whose duration exceeded the target",
            "hoursSaved": "replayed: each of those executions finishing at the target instead; the hours by which they overran it, summed",
            "hoursSavedMeasures": "case duration",
        }}),
        proposed_change: json!({"optimiseStep": bottleneck, "target": {"p90Seconds": target}}),
        impact: json!({"casesAffected": over, "hoursSaved": overrun(totals, *target as f64) / 3600.0}),
        fingerprint: fingerprint(&["performance", &w.id.to_string(), "sla", bottleneck]),
    })
}

/// The slowest step's p90 is over five times the median step's.
fn outlier_step(
    w: &WorkflowHistory,
    min: usize,
    by_step: &mut BTreeMap<&str, Vec<f64>>,
    grand: f64,
) -> Option<Mined> {
    let mut p90s: Vec<(&str, f64, usize)> = by_step
        .iter_mut()
        .filter(|(_, v)| v.len() >= min)
        .map(|(k, v)| (*k, p90(v), v.len()))
        .collect();
    if p90s.len() < 3 {
        return None;
    }
    p90s.sort_by(|a, b| a.1.total_cmp(&b.1));
    let median = p90s[p90s.len() / 2].1;
    let &(step, slow, n) = p90s.last()?;
    if median <= 0.0 || slow <= 5.0 * median {
        return None;
    }
    let handling = w
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| s.name == step && s.duration_ms.is_some())
        .all(|s| s.handling);
    let (measures, method) = if handling {
        ("handling", HANDLING)
    } else {
        ("elapsed", ELAPSED)
    };
    Some(Mined {
        kind: SuggestionType::Performance,
        workflow_id: Some(w.id),
        title: format!("\"{step}\" is the bottleneck of \"{}\"", w.name),
        description: format!(
            "\"{step}\" has a p90 of {slow:.0} s ({}), {:.1}× the median step's {median:.0} s, and takes {:.0}% of the workflow's recorded step time.",
            if handling {
                "handling time"
            } else {
                "waiting and handling together"
            },
            slow / median,
            by_step
                .get(step)
                .map(|v| v.iter().sum::<f64>() / grand * 100.0)
                .unwrap_or(0.0)
        ),
        confidence: (1.0 - median / slow).clamp(0.0, 1.0),
        frequency: cases_with(w, step),
        evidence: json!({"step": step, "p90Seconds": slow, "medianStepP90Seconds": median, "samples": n, "durationMeasures": measures,
        "impactMethod": {
            "casesAffected": "distinct executions in which the step ran (samples counts its runs)",
            "hoursSaved": format!("replayed: every run of the step that took longer than the median step's p90 ({median:.0} s) taking that long instead; the difference, summed: {method}"),
            "hoursSavedMeasures": measures,
        }}),
        proposed_change: json!({"optimiseStep": step, "target": {"p90Seconds": median}}),
        impact: json!({"casesAffected": cases_with(w, step), "hoursSaved": by_step.get(step).map_or(0.0, |v| overrun(v, median)) / 3600.0}),
        fingerprint: fingerprint(&["performance", &w.id.to_string(), "outlier", step]),
    })
}

/// ERROR_HANDLING: actions with high failure rates. Idempotent actions get retries with
/// backoff; the others compensation or manual review.
pub fn error_handling(
    workflows: &[WorkflowHistory],
    idempotent: &HashMap<String, bool>,
    min: usize,
) -> Vec<Mined> {
    let mut stats: BTreeMap<&str, (usize, usize, Vec<Uuid>)> = BTreeMap::new();
    for w in workflows {
        for c in &w.cases {
            for s in &c.steps {
                if let Some(t) = &s.action_type {
                    let e = stats.entry(t.as_str()).or_default();
                    e.0 += 1;
                    if s.failed {
                        e.1 += 1;
                        e.2.push(c.id);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (action, (n, failed, ids)) in stats {
        if n < min || failed == 0 {
            continue;
        }
        let lower = wilson_lower(failed, n);
        if lower < 0.05 {
            continue;
        }
        let idem = idempotent.get(action).copied().unwrap_or(false);
        let (title, change) = if idem {
            (
                format!("Retry \"{action}\" with backoff"),
                json!({"action": action, "retry": {"maxAttempts": 3, "backoff": "exponential", "initialDelaySeconds": 2}}),
            )
        } else {
            (
                format!("Add compensation or manual review to \"{action}\""),
                json!({"action": action, "onFailure": "compensate_or_review", "reason": "not idempotent: a blind retry could repeat its side effects"}),
            )
        };
        out.push(Mined {
            kind: SuggestionType::ErrorHandling,
            workflow_id: None,
            title,
            description: format!(
                "\"{action}\" failed {failed} of {n} times ({:.1}%, at least {:.1}% with 95% confidence). It is {}idempotent, so {}.",
                failed as f64 * 100.0 / n as f64,
                lower * 100.0,
                if idem { "" } else { "not " },
                if idem { "retrying with backoff is safe" } else { "failures need compensation or a person" }
            ),
            confidence: lower,
            frequency: n,
            evidence: json!({"action": action, "runs": n, "failures": failed, "failureRateLowerBound": lower, "idempotent": idem, "sampleExecutionIds": sample_ids(ids.iter().copied()),
                "impactMethod": {
                    "casesAffected": "distinct executions in which the action failed at least once",
                    "failures": "failed runs of the action",
                    "hoursSaved": "not estimated (0): the history does not say how long a failure cost",
                }}),
            proposed_change: change,
            impact: json!({"casesAffected": distinct(ids.iter().copied()), "failures": failed, "hoursSaved": 0.0, "decidedDifferently": 0}),
            fingerprint: fingerprint(&["error_handling", action]),
        });
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A history of one approval step over `discount`: `decide(i)` says whether case `i`,
    /// whose discount is `discount(i)`, was approved.
    fn history(
        n: usize,
        discount: impl Fn(usize) -> usize,
        decide: impl Fn(usize) -> bool,
    ) -> WorkflowHistory {
        WorkflowHistory {
            id: Uuid::now_v7(),
            name: "Discounts".into(),
            steps: vec![],
            sla_targets: vec![],
            cases: (0..n)
                .map(|i| CaseRec {
                    id: Uuid::now_v7(),
                    input: json!({"discount": discount(i)})
                        .as_object()
                        .cloned()
                        .unwrap(),
                    duration_ms: Some(60_000),
                    failed: false,
                    steps: vec![StepRec {
                        name: "Manager".into(),
                        action_type: None,
                        approver: Some("manager".into()),
                        decision: Some(if decide(i) {
                            ApprovalDecision::Approved
                        } else {
                            ApprovalDecision::Rejected
                        }),
                        duration_ms: Some(60_000),
                        handling: true,
                        failed: false,
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn near_misses_name_the_strongest_rule_that_falls_short() {
        // Discounts 0..9 (ten cases each) are approved 9 times in 10, one rejection per
        // value, so no prefix is pure; discounts 10..19 are approved half the time.
        let w = history(
            200,
            |i| i / 10,
            |i| {
                if i < 100 {
                    i % 10 != (i / 10) % 10
                } else {
                    i % 2 == 0
                }
            },
        );
        assert!(auto_decisions(&w, 10).is_empty(), "nothing reaches the bar");
        let near = near_misses(std::slice::from_ref(&w), 10);
        let approve: Vec<&NearMiss> = near
            .iter()
            .filter(|m| m.decision == ApprovalDecision::Approved)
            .collect();
        assert_eq!(approve.len(), 1, "{near:#?}");
        let m = approve[0];
        assert_eq!(m.condition, json!({"discount": {"$lt": 10}}));
        assert_eq!((m.support, m.matching), (100, 90));
        assert!((m.wilson_lower_bound - wilson_lower(90, 100)).abs() < 1e-12);
        assert!(m.wilson_lower_bound < RULE_CONFIDENCE);

        // 150 of 150 under 10: a suggestion, so no near miss for that outcome.
        let w = history(300, |i| i / 15, |i| i < 150 || i % 2 == 0);
        assert_eq!(auto_decisions(&w, 10).len(), 1);
        let near = near_misses(std::slice::from_ref(&w), 10);
        assert!(
            near.iter()
                .all(|m| m.decision == ApprovalDecision::Rejected),
            "{near:#?}"
        );
        // Support below the minimum is never a near miss either.
        assert!(near_misses(std::slice::from_ref(&w), 1000).is_empty());
    }

    #[test]
    fn wilson_bounds() {
        assert!(
            (wilson_lower(150, 150) - 0.97505).abs() < 1e-4,
            "{}",
            wilson_lower(150, 150)
        );
        assert_eq!(wilson_lower(0, 0), 0.0);
        assert!(wilson_lower(5, 10) < 0.5 && wilson_upper(5, 10) > 0.5);
        assert!(
            (wilson_lower(81, 100) - 0.7222).abs() < 1e-3,
            "{}",
            wilson_lower(81, 100)
        );
    }
}

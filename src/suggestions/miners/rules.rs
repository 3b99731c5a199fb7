//! The rule engine: one-attribute rules (a threshold on a number, a set of values of a
//! category) over an approval step's decisions, kept only above their Wilson bound.
use super::*;

/// One approval decision, with the case's input and the step's duration.
pub(super) struct Decision<'a> {
    pub(super) case: &'a CaseRec,
    pub(super) approved: bool,
    pub(super) duration_ms: i64,
}

/// A candidate rule and how history judged it.
#[derive(Clone, Debug)]
pub(super) struct Rule {
    pub(super) condition: Value,
    pub(super) text: String,
    pub(super) support: usize,
    pub(super) hits: usize,
    pub(super) fields: usize,
}

impl Rule {
    pub(super) fn wilson(&self) -> f64 {
        wilson_lower(self.hits, self.support)
    }
}

/// Keeps the best qualifying rule seen so far: the surest (for a pure region the Wilson
/// bound grows with its support), then the broadest, then the simplest.
pub(super) struct Best {
    pub(super) min: usize,
    pub(super) total: usize,
    /// The least Wilson bound a rule needs to be kept: [`RULE_CONFIDENCE`] for suggestions,
    /// none when looking for the strongest rule that falls short.
    pub(super) floor: f64,
    pub(super) rule: Option<Rule>,
}

impl Best {
    pub(super) fn consider(
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

pub(super) fn numeric_attrs(ds: &[Decision<'_>]) -> Vec<String> {
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

pub(super) fn categorical_attrs(ds: &[Decision<'_>]) -> Vec<String> {
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
pub(super) fn threshold_rules(
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
pub(super) fn value_groups<'a, 'b>(
    ds: &'b [Decision<'a>],
    attr: &str,
) -> Vec<Vec<&'b Decision<'a>>> {
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
pub(super) fn consider_value(
    members: &[&Decision<'_>],
    attr: &str,
    want_approved: bool,
    best: &mut Best,
) {
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
pub(super) fn best_rule(ds: &[Decision<'_>], want_approved: bool, min: usize) -> Option<Rule> {
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
pub(super) fn decisions_by_step(w: &WorkflowHistory) -> BTreeMap<&str, Vec<Decision<'_>>> {
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

//! Decision mining (pure): for each branch of a choice, the single-attribute rule over the
//! cases' input that best predicts the branch, kept only under the suggestions' Wilson
//! discipline (the lower bound of its precision at least `RULE_CONFIDENCE`, with enough
//! cases). A branch without such a rule keeps only its observed probability.
use crate::stats::{RULE_CONFIDENCE, wilson_lower};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// A rule needs at least this many matching cases.
pub const MIN_RULE_CASES: usize = 20;

/// A rule's condition and how well it held: `hits` of the `matched` cases took the branch.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub condition: Value,
    pub matched: usize,
    pub hits: usize,
}

/// The best rule per branch. `branch_cases[k]` are the cases that took branch k (each case
/// at most once over all branches: a choice inside a loop gets no rules).
pub fn mine(inputs: &[Map<String, Value>], branch_cases: &[&[u32]]) -> Vec<Option<Rule>> {
    let mut taken: HashMap<u32, usize> = HashMap::new();
    for (k, cases) in branch_cases.iter().enumerate() {
        for c in cases.iter() {
            if taken.insert(*c, k).is_some() {
                return vec![None; branch_cases.len()];
            }
        }
    }
    let mut fields: Vec<&String> = taken
        .keys()
        .filter_map(|c| inputs.get(*c as usize))
        .flat_map(|m| m.keys())
        .collect();
    fields.sort();
    fields.dedup();
    (0..branch_cases.len())
        .map(|k| {
            fields
                .iter()
                .flat_map(|f| candidates(inputs, &taken, f, k))
                .filter(|r| passes(r.matched, r.hits))
                .max_by(|a, b| {
                    (a.hits, wilson_lower(a.hits, a.matched))
                        .partial_cmp(&(b.hits, wilson_lower(b.hits, b.matched)))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
        })
        .collect()
}

/// Every rule on one field for branch `k`: equality for strings and booleans, both sides of
/// every threshold for numbers.
fn candidates(
    inputs: &[Map<String, Value>],
    taken: &HashMap<u32, usize>,
    field: &str,
    k: usize,
) -> Vec<Rule> {
    let mut numbers: Vec<(f64, bool)> = Vec::new();
    let mut values: HashMap<String, (Value, usize, usize)> = HashMap::new();
    for (c, b) in taken {
        let Some(v) = inputs.get(*c as usize).and_then(|m| m.get(field)) else {
            continue;
        };
        let hit = *b == k;
        match v {
            Value::Number(n) => {
                numbers.extend(n.as_f64().filter(|x| x.is_finite()).map(|x| (x, hit)))
            }
            Value::String(_) | Value::Bool(_) => {
                let e = values.entry(v.to_string()).or_insert((v.clone(), 0, 0));
                e.1 += 1;
                e.2 += hit as usize;
            }
            _ => {}
        }
    }
    let mut rules: Vec<Rule> = values
        .into_values()
        .map(|(v, matched, hits)| Rule {
            condition: json!({ field: v }),
            matched,
            hits,
        })
        .collect();
    rules.extend(thresholds(field, numbers));
    rules
}

/// Whether a rule that matched `matched` cases, `hits` of them on the branch, is good enough.
fn passes(matched: usize, hits: usize) -> bool {
    matched >= MIN_RULE_CASES && wilson_lower(hits, matched) >= RULE_CONFIDENCE
}

/// A threshold, the cases on its side and the hits among them.
type Cut = (f64, usize, usize);

/// The best `field < t` and the best `field >= t` over every change of value (only the
/// winners are built, so a field with many values costs one sort and one pass).
fn thresholds(field: &str, mut xs: Vec<(f64, bool)>) -> Vec<Rule> {
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total_hits = xs.iter().filter(|x| x.1).count();
    let better = |best: &Option<Cut>, matched: usize, hits: usize| {
        passes(matched, hits)
            && best.is_none_or(|(_, m, h)| {
                (hits, wilson_lower(hits, matched)) > (h, wilson_lower(h, m))
            })
    };
    let (mut below, mut above): (Option<Cut>, Option<Cut>) = (None, None);
    let mut below_hits = 0;
    for i in 1..xs.len() {
        below_hits += xs[i - 1].1 as usize;
        if xs[i].0 == xs[i - 1].0 {
            continue;
        }
        let t = xs[i].0;
        if better(&below, i, below_hits) {
            below = Some((t, i, below_hits));
        }
        let (m, h) = (xs.len() - i, total_hits - below_hits);
        if better(&above, m, h) {
            above = Some((t, m, h));
        }
    }
    let rule = |op: &str, (t, matched, hits): Cut| Rule {
        condition: json!({ field: { op: t } }),
        matched,
        hits,
    };
    below
        .map(|b| rule("$lt", b))
        .into_iter()
        .chain(above.map(|a| rule("$gte", a)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(score: i64) -> Map<String, Value> {
        json!({"score": score})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn finds_a_threshold_and_refuses_a_weak_rule() {
        let inputs: Vec<Map<String, Value>> = (0..400).map(input).collect();
        let low: Vec<u32> = (0..100).collect();
        let high: Vec<u32> = (100..400).collect();
        let rules = mine(&inputs, &[&low, &high]);
        let r = rules[0].as_ref().expect("a rule for the low branch");
        assert_eq!(r.condition, json!({"score": {"$lt": 100.0}}));
        assert_eq!((r.matched, r.hits), (100, 100));
        // 50 of 50 is not enough: its Wilson lower bound is 0.93.
        let few: Vec<u32> = (0..50).collect();
        let rest: Vec<u32> = (50..400).collect();
        assert!(mine(&inputs, &[&few, &rest])[0].is_none());
        // Alternating branches: no rule is good enough.
        let even: Vec<u32> = (0..400).filter(|c| c % 2 == 0).collect();
        let odd: Vec<u32> = (0..400).filter(|c| c % 2 == 1).collect();
        assert_eq!(mine(&inputs, &[&even, &odd]), vec![None, None]);
    }
}

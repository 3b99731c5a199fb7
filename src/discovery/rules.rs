//! Decision mining (pure): for each branch of a choice, the single-attribute rule over the
//! cases' input that best predicts the branch, kept only under the suggestions' Wilson
//! discipline (the lower bound of its precision at least `RULE_CONFIDENCE`, with enough
//! cases). A branch without such a rule keeps only its observed probability. An attribute
//! that does not vary over a choice's cases never gives a rule.
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
pub fn mine(inputs: &[&Map<String, Value>], branch_cases: &[&[u32]]) -> Vec<Option<Rule>> {
    let n = branch_cases.len();
    let mut taken: HashMap<u32, usize> = HashMap::new();
    for (k, cases) in branch_cases.iter().enumerate() {
        for c in cases.iter() {
            if taken.insert(*c, k).is_some() {
                return vec![None; n];
            }
        }
    }
    let mut fields: Vec<&str> = Vec::new();
    for c in taken.keys() {
        for f in inputs.get(*c as usize).into_iter().flat_map(|m| m.keys()) {
            if !fields.contains(&f.as_str()) {
                fields.push(f);
            }
        }
    }
    fields.sort_unstable();
    let mut best: Vec<Option<Rule>> = vec![None; n];
    for f in fields {
        let per_branch = candidates(inputs, &taken, f, n);
        for (slot, rules) in best.iter_mut().zip(per_branch) {
            for r in rules.into_iter().filter(|r| passes(r.matched, r.hits)) {
                let key = |r: &Rule| (r.hits, wilson_lower(r.hits, r.matched));
                if slot.as_ref().is_none_or(|b| key(&r) > key(b)) {
                    *slot = Some(r);
                }
            }
        }
    }
    best
}

/// Every rule on one field, per branch: equality for strings and booleans, both sides of
/// every threshold for numbers. The field's values are read and sorted once for all branches.
fn candidates(
    inputs: &[&Map<String, Value>],
    taken: &HashMap<u32, usize>,
    field: &str,
    branches: usize,
) -> Vec<Vec<Rule>> {
    let mut numbers: Vec<(f64, usize)> = Vec::new();
    let mut values: HashMap<String, (Value, Vec<usize>)> = HashMap::new();
    for (c, b) in taken {
        let Some(v) = inputs.get(*c as usize).and_then(|m| m.get(field)) else {
            continue;
        };
        match v {
            Value::Number(x) => {
                numbers.extend(x.as_f64().filter(|x| x.is_finite()).map(|x| (x, *b)))
            }
            Value::String(_) | Value::Bool(_) => {
                let e = values
                    .entry(v.to_string())
                    .or_insert_with(|| (v.clone(), vec![0; branches]));
                e.1[*b] += 1;
            }
            _ => {}
        }
    }
    numbers.sort_by(|a, b| a.0.total_cmp(&b.0));
    // An attribute that does not vary over the choice's cases tells the branches apart no
    // better than the branches' own frequencies: it gives no rule.
    let distinct_numbers =
        numbers.windows(2).filter(|w| w[0].0 != w[1].0).count() + usize::from(!numbers.is_empty());
    if distinct_numbers + values.len() <= 1 {
        return vec![Vec::new(); branches];
    }
    // In a fixed order, so that ties always go the same way.
    let mut values: Vec<(String, (Value, Vec<usize>))> = values.into_iter().collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    (0..branches)
        .map(|k| {
            let mut rules: Vec<Rule> = values
                .iter()
                .map(|(_, (v, counts))| Rule {
                    condition: json!({ field: v }),
                    matched: counts.iter().sum(),
                    hits: counts[k],
                })
                .collect();
            let xs: Vec<(f64, bool)> = numbers.iter().map(|(x, b)| (*x, *b == k)).collect();
            rules.extend(thresholds(field, xs));
            rules
        })
        .collect()
}

/// Whether a rule that matched `matched` cases, `hits` of them on the branch, is good enough.
fn passes(matched: usize, hits: usize) -> bool {
    matched >= MIN_RULE_CASES && wilson_lower(hits, matched) >= RULE_CONFIDENCE
}

/// A threshold, the cases on its side and the hits among them.
type Cut = (f64, usize, usize);

/// The best `field < t` and the best `field >= t` over every change of value in sorted `xs`
/// (only the winners are built, so a field with many values costs one pass).
fn thresholds(field: &str, xs: Vec<(f64, bool)>) -> Vec<Rule> {
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
        let owned: Vec<Map<String, Value>> = (0..400).map(input).collect();
        let inputs: Vec<&Map<String, Value>> = owned.iter().collect();
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
        // A field every case shares is no rule, however well it "predicts" the majority.
        let one = json!({"seriousness": "Value 1"});
        let same: Vec<Map<String, Value>> = (0..400)
            .map(|_| one.as_object().cloned().unwrap_or_default())
            .collect();
        let same: Vec<&Map<String, Value>> = same.iter().collect();
        let most: Vec<u32> = (0..395).collect();
        let rare: Vec<u32> = (395..400).collect();
        assert_eq!(mine(&same, &[&most, &rare]), vec![None, None]);
        // Alternating branches: no rule is good enough.
        let even: Vec<u32> = (0..400).filter(|c| c % 2 == 0).collect();
        let odd: Vec<u32> = (0..400).filter(|c| c % 2 == 1).collect();
        assert_eq!(mine(&inputs, &[&even, &odd]), vec![None, None]);
    }
}

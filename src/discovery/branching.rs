//! How each discovered choice's branch depends on the case input (pure): a small CART-style
//! decision tree (Gini impurity, at least [`MIN_LEAF`] cases a side, at most [`MAX_DEPTH`]
//! tests deep) fitted on the cases that reached the choice. Unlike the rules of [`super::rules`],
//! which a user reads and which must clear the Wilson bar, the tree only shapes the forecast's
//! draw, so that a prediction follows the input the way the history did.
use crate::workflows::branch_model::{BranchModel, Split};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A split leaves at least this many cases on each side.
pub const MIN_LEAF: usize = 30;
/// At most this many tests from the root to a leaf.
pub const MAX_DEPTH: usize = 4;
/// A split must lower the Gini impurity by at least this much.
const MIN_GAIN: f64 = 0.005;

/// One case at a choice: its input and the branch it took.
type Sample<'a> = (&'a Map<String, Value>, usize);

/// The choice's model, when some field splits its cases; `None` when no split helps (the
/// branches' probabilities say it all) or when a case took the choice more than once (a
/// choice in a loop).
pub fn fit(inputs: &[&Map<String, Value>], branch_cases: &[&[u32]]) -> Option<BranchModel> {
    let mut seen = std::collections::HashSet::new();
    let mut samples: Vec<Sample<'_>> = Vec::new();
    for (b, cases) in branch_cases.iter().enumerate() {
        for c in cases.iter() {
            if !seen.insert(*c) {
                return None;
            }
            samples.push((inputs.get(*c as usize)?, b));
        }
    }
    let model = grow(&samples, branch_cases.len(), 0);
    model.split.is_some().then_some(model)
}

fn counts(samples: &[Sample<'_>], branches: usize) -> Vec<u32> {
    let mut c = vec![0u32; branches];
    for (_, b) in samples {
        c[*b] += 1;
    }
    c
}

fn gini(c: &[u32]) -> f64 {
    let n: u32 = c.iter().sum();
    if n == 0 {
        return 0.0;
    }
    1.0 - c
        .iter()
        .map(|x| (*x as f64 / n as f64).powi(2))
        .sum::<f64>()
}

fn grow(samples: &[Sample<'_>], branches: usize, depth: usize) -> BranchModel {
    let counts = counts(samples, branches);
    let mut node = BranchModel {
        counts,
        split: None,
    };
    if depth >= MAX_DEPTH || samples.len() < 2 * MIN_LEAF || gini(&node.counts) == 0.0 {
        return node;
    }
    let Some(best) = best_split(samples, branches) else {
        return node;
    };
    let (yes, no): (Vec<Sample<'_>>, Vec<Sample<'_>>) = samples
        .iter()
        .filter(|(m, _)| best.routes(m).is_some())
        .partition(|(m, _)| best.routes(m) == Some(true));
    node.split = Some(Box::new(Split {
        field: best.field.clone(),
        below: best.below,
        values: best.values.clone(),
        others: best.others.clone(),
        yes: grow(&yes, branches, depth + 1),
        no: grow(&no, branches, depth + 1),
    }));
    node
}

/// A candidate test and how good it is.
struct Test {
    field: String,
    below: Option<f64>,
    values: Vec<Value>,
    others: Vec<Value>,
    gain: f64,
}

impl Test {
    /// Which side a case goes to; `None` when the test cannot tell (field missing).
    fn routes(&self, m: &Map<String, Value>) -> Option<bool> {
        let v = m.get(&self.field)?;
        match self.below {
            Some(t) => v.as_f64().map(|x| x < t),
            None => Some(self.values.contains(v)),
        }
    }
}

fn best_split(samples: &[Sample<'_>], branches: usize) -> Option<Test> {
    let mut fields: Vec<&String> = samples.iter().flat_map(|(m, _)| m.keys()).collect();
    fields.sort_unstable();
    fields.dedup();
    let mut best: Option<Test> = None;
    for f in fields {
        let numbers: Vec<(f64, usize)> = samples
            .iter()
            .filter_map(|(m, b)| m.get(f).and_then(Value::as_f64).map(|x| (x, *b)))
            .filter(|(x, _)| x.is_finite())
            .collect();
        let test = if numbers.len() * 2 >= samples.len() {
            threshold(f, numbers, branches)
        } else {
            category(f, samples, branches)
        };
        if let Some(t) = test
            && t.gain >= MIN_GAIN
            && best.as_ref().is_none_or(|b| t.gain > b.gain)
        {
            best = Some(t);
        }
    }
    best
}

/// The impurity a split removes: the parent's Gini minus the children's, weighted.
fn gain(left: &[u32], right: &[u32]) -> f64 {
    let parent: Vec<u32> = left.iter().zip(right).map(|(a, b)| a + b).collect();
    let (l, r) = (
        left.iter().sum::<u32>() as f64,
        right.iter().sum::<u32>() as f64,
    );
    gini(&parent) - (l * gini(left) + r * gini(right)) / (l + r)
}

/// The best `field < t` over every change of value.
fn threshold(field: &str, mut xs: Vec<(f64, usize)>, branches: usize) -> Option<Test> {
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut right = vec![0u32; branches];
    for (_, b) in &xs {
        right[*b] += 1;
    }
    let mut left = vec![0u32; branches];
    let mut best: Option<(f64, f64)> = None;
    for i in 1..xs.len() {
        left[xs[i - 1].1] += 1;
        right[xs[i - 1].1] -= 1;
        if xs[i].0 == xs[i - 1].0 || i < MIN_LEAF || xs.len() - i < MIN_LEAF {
            continue;
        }
        let g = gain(&left, &right);
        if best.is_none_or(|(bg, _)| g > bg) {
            best = Some((g, (xs[i - 1].0 + xs[i].0) / 2.0));
        }
    }
    let (gain, t) = best?;
    Some(Test {
        field: field.into(),
        below: Some(t),
        values: Vec::new(),
        others: Vec::new(),
        gain,
    })
}

/// The best "one value against the others" for a field of strings or booleans.
fn category(field: &str, samples: &[Sample<'_>], branches: usize) -> Option<Test> {
    let mut by_value: HashMap<String, (Value, Vec<u32>)> = HashMap::new();
    for (m, b) in samples {
        if let Some(v @ (Value::String(_) | Value::Bool(_))) = m.get(field) {
            by_value
                .entry(v.to_string())
                .or_insert_with(|| (v.clone(), vec![0; branches]))
                .1[*b] += 1;
        }
    }
    let mut values: Vec<(String, (Value, Vec<u32>))> = by_value.into_iter().collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    let total: Vec<u32> = (0..branches)
        .map(|k| values.iter().map(|(_, (_, c))| c[k]).sum())
        .collect();
    let mut best: Option<(f64, usize)> = None;
    for (i, (_, (_, c))) in values.iter().enumerate() {
        let rest: Vec<u32> = total.iter().zip(c).map(|(t, x)| t - x).collect();
        let (n, m) = (
            c.iter().sum::<u32>() as usize,
            rest.iter().sum::<u32>() as usize,
        );
        if n < MIN_LEAF || m < MIN_LEAF {
            continue;
        }
        let g = gain(c, &rest);
        if best.is_none_or(|(bg, _)| g > bg) {
            best = Some((g, i));
        }
    }
    let (gain, i) = best?;
    Some(Test {
        field: field.into(),
        below: None,
        values: vec![values[i].1.0.clone()],
        others: values
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (_, (v, _)))| v.clone())
            .collect(),
        gain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_branch_follows_the_amount_and_a_constant_field_is_ignored() {
        // Below 5,000 mostly branch 0; above mostly branch 1; "kind" is the same for all.
        let owned: Vec<Map<String, Value>> = (0..600)
            .map(|i| {
                json!({"amount": i * 20, "kind": "loan"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let inputs: Vec<&Map<String, Value>> = owned.iter().collect();
        let first: Vec<u32> = (0..600).filter(|i| (*i < 250) != (i % 10 == 0)).collect();
        let second: Vec<u32> = (0..600).filter(|i| (*i < 250) == (i % 10 == 0)).collect();
        let m = fit(&inputs, &[&first, &second]).expect("a split on amount");
        let s = m.split.as_ref().unwrap();
        assert_eq!(s.field, "amount");
        // Case 250 (amount 5,000) is one of the flipped tenth, so the cut falls after it.
        assert_eq!(s.below, Some(5010.0));
        let low = m.node(&json!({"amount": 100})).counts.clone();
        let high = m.node(&json!({"amount": 9000})).counts.clone();
        assert!(
            low[0] > 5 * low[1] && high[1] > 5 * high[0],
            "{low:?} {high:?}"
        );
        // A choice in a loop (a case twice) gets no model.
        assert!(fit(&inputs, &[&[1, 2], &[2]]).is_none());
    }
}

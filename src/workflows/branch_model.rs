//! How a discovered choice's branch depends on the case input (pure): a small decision tree
//! over the input's fields whose every node counts the cases that took each branch. A forecast
//! draws the branch from the counts of the deepest node the input reaches, so the route
//! follows the input as the history did; a field the input lacks, or a value the history never
//! had there, stops the descent at the node above.
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchModel {
    /// Cases at this node that took each branch, in the order of the step's `branches`.
    pub counts: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Box<Split>>,
}

/// A test on one field: a number below `below`, or a value among `values`, goes to `yes`;
/// a number at or above it, or a value among `others`, goes to `no`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<Value>,
    pub yes: BranchModel,
    pub no: BranchModel,
}

impl BranchModel {
    /// The deepest node `input` reaches.
    pub fn node(&self, input: &Value) -> &BranchModel {
        let mut at = self;
        while let Some(s) = &at.split {
            let Some(v) = input.get(&s.field) else {
                break;
            };
            let yes = match (s.below, v.as_f64()) {
                (Some(t), Some(x)) => x < t,
                (Some(_), None) => break,
                (None, _) if s.values.contains(v) => true,
                (None, _) if s.others.contains(v) => false,
                (None, _) => break,
            };
            at = if yes { &s.yes } else { &s.no };
        }
        at
    }

    /// Cases at this node.
    pub fn cases(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// Whether every node counts `branches` branches and every split tests one kind of value.
    pub fn check(&self, branches: usize) -> Result<(), String> {
        if self.counts.len() != branches {
            return Err(format!(
                "counts has {} entries for {branches} branches",
                self.counts.len()
            ));
        }
        let Some(s) = &self.split else {
            return Ok(());
        };
        if s.below.is_some() != (s.values.is_empty() && s.others.is_empty()) {
            return Err(format!(
                "the split on {:?} needs either below (a number) or values and others",
                s.field
            ));
        }
        s.yes.check(branches)?;
        s.no.check(branches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_input_descends_as_far_as_its_fields_allow() {
        let m: BranchModel = serde_json::from_value(json!({
            "counts": [50, 50],
            "split": {"field": "amount", "below": 1000.0,
                "yes": {"counts": [40, 5]},
                "no": {"counts": [10, 45], "split": {"field": "region", "values": ["EU"], "others": ["US"],
                    "yes": {"counts": [10, 0]}, "no": {"counts": [0, 45]}}}}
        }))
        .unwrap();
        assert_eq!(m.node(&json!({"amount": 10})).counts, vec![40, 5]);
        assert_eq!(
            m.node(&json!({"amount": 5000, "region": "US"})).counts,
            vec![0, 45]
        );
        // An unseen region, a missing field, a string where a number was: stop above.
        assert_eq!(
            m.node(&json!({"amount": 5000, "region": "APAC"})).counts,
            vec![10, 45]
        );
        assert_eq!(m.node(&json!({})).counts, vec![50, 50]);
        assert_eq!(m.node(&json!({"amount": "x"})).counts, vec![50, 50]);
    }
}

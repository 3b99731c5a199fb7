//! The workflow step model and its structural validation (pure).
use crate::conditions::{self, Cond};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// One routing rule: the first branch whose condition holds decides the next step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub condition: Value,
    pub next_step: String,
    /// How often the branch was taken in the history it was discovered from (0 to 1); a
    /// forecast draws by it when the input cannot decide the condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// The routing target that ends the workflow (a `next_step` or `default_next`).
pub const END: &str = "$end";

/// The action of a routing step (a BPMN exclusive gateway): it takes no time, needs no
/// catalog entry, and only chooses the next step through its branches.
pub const GATEWAY: &str = "gateway";

/// Where a step sits in a parallel group: steps of different lanes of one group run at the
/// same time, so the group takes as long as its slowest lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    pub group: String,
    pub lane: u32,
}

/// A step as stored in `workflows.steps`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// The `action_type` of a catalog action.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who approves, for approval steps (a role such as `manager`, or a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Who does the step: a role, team or person (a BPMN lane or pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The step runs only when these hold, and is skipped otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Branch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_next: Option<String>,
    /// Allows a loop back to this step, at most this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Static input handed to the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The parallel group and lane this step belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Lane>,
    /// For a discovered choice: how its branch depended on the input in the history (a
    /// forecast draws the branch from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_model: Option<super::branch_model::BranchModel>,
}

/// What was added, removed and changed between two keyed lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, async_graphql::SimpleObject)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// The keys added, removed and changed from `a` to `b` (each in its list's order).
pub fn diff_keyed(a: &[(String, Value)], b: &[(String, Value)]) -> Changes {
    let am: std::collections::HashMap<&String, &Value> = a.iter().map(|(k, v)| (k, v)).collect();
    let bm: std::collections::HashMap<&String, &Value> = b.iter().map(|(k, v)| (k, v)).collect();
    Changes {
        added: b
            .iter()
            .filter(|(k, _)| !am.contains_key(k))
            .map(|(k, _)| k.clone())
            .collect(),
        removed: a
            .iter()
            .filter(|(k, _)| !bm.contains_key(k))
            .map(|(k, _)| k.clone())
            .collect(),
        changed: b
            .iter()
            .filter(|(k, v)| am.get(k).is_some_and(|old| *old != v))
            .map(|(k, _)| k.clone())
            .collect(),
    }
}

/// Steps keyed by name.
fn steps_keyed(steps: &Value) -> Vec<(String, Value)> {
    let named = |s: &Value| {
        s.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    steps
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (named(s), s.clone()))
        .collect()
}

/// The steps added, removed and changed from `a` to `b` (by name), and what about it breaks
/// existing callers: a removed step, or a step whose conditions or branches changed.
pub fn diff_steps(a: &Value, b: &Value) -> (Changes, Vec<String>) {
    let (sa, sb) = (steps_keyed(a), steps_keyed(b));
    let changes = diff_keyed(&sa, &sb);
    let mut reasons: Vec<String> = changes
        .removed
        .iter()
        .map(|s| format!("step {s:?} was removed"))
        .collect();
    let old: std::collections::HashMap<&String, &Value> = sa.iter().map(|(k, v)| (k, v)).collect();
    for (name, new) in &sb {
        if let Some(o) = old.get(name) {
            for key in ["conditions", "branches"] {
                if o.get(key) != new.get(key) {
                    reasons.push(format!("step {name:?} changed its {key}"));
                }
            }
        }
    }
    (changes, reasons)
}

/// Parses and checks the steps document. Errors name the step index, as `steps[2]`.
pub fn parse_steps(doc: &Value) -> Result<Vec<Step>, String> {
    let arr = doc
        .as_array()
        .ok_or_else(|| "steps must be a list of step objects".to_string())?;
    let mut steps = Vec::with_capacity(arr.len());
    for (i, raw) in arr.iter().enumerate() {
        if !raw.is_object() {
            return Err(format!("steps[{i}]: a step must be an object"));
        }
        let step: Step =
            serde_json::from_value(raw.clone()).map_err(|e| format!("steps[{i}]: {e}"))?;
        if step.name.trim().is_empty() {
            return Err(format!("steps[{i}]: name must not be empty"));
        }
        if step.action.trim().is_empty() {
            return Err(format!(
                "steps[{i}] ({}): action must not be empty",
                step.name
            ));
        }
        if let Some(c) = &step.conditions
            && !c.is_object()
        {
            return Err(format!(
                "steps[{i}] ({}): conditions must be an object such as {{\"amount\": {{\"$gt\": 100}}}}",
                step.name
            ));
        }
        if let Some(bs) = &step.branches {
            for (j, b) in bs.iter().enumerate() {
                if !b.condition.is_object() {
                    return Err(format!(
                        "steps[{i}] ({}): branches[{j}].condition must be an object",
                        step.name
                    ));
                }
                if b.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                    return Err(format!(
                        "steps[{i}] ({}): branches[{j}].probability must be between 0 and 1",
                        step.name
                    ));
                }
            }
        }
        if let Some(m) = &step.branch_model {
            let n = step.branches.as_ref().map_or(0, Vec::len);
            m.check(n)
                .map_err(|e| format!("steps[{i}] ({}): branch_model: {e}", step.name))?;
        }
        steps.push(step);
    }
    let mut names = HashSet::new();
    for (i, s) in steps.iter().enumerate() {
        if !names.insert(s.name.as_str()) {
            return Err(format!("steps[{i}]: duplicate step name {:?}", s.name));
        }
    }
    for (i, s) in steps.iter().enumerate() {
        let targets = s
            .branches
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, b)| (format!("branches[{j}].next_step"), &b.next_step))
            .chain(
                s.default_next
                    .iter()
                    .map(|d| ("default_next".to_string(), d)),
            );
        for (field, target) in targets {
            if target != END && !names.contains(target.as_str()) {
                return Err(format!(
                    "steps[{i}] ({}): {field} refers to {target:?}, which is not a step of this workflow",
                    s.name
                ));
            }
        }
    }
    Ok(steps)
}

/// A step list with its conditions parsed and its routing resolved to indexes.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub steps: Vec<Step>,
    /// Each step's `conditions`, parsed.
    pub conditions: Vec<Option<Cond>>,
    /// Each step's branches: condition and target index.
    pub branches: Vec<Vec<(Cond, usize)>>,
    pub default_next: Vec<Option<usize>>,
}

/// Parses the steps, their conditions and their routing, and rejects cycles that no step
/// bounds with `max_iterations`. Errors name the step index and, for conditions, the JSON path
/// inside the condition.
pub fn compile(doc: &Value) -> Result<Compiled, String> {
    let steps = parse_steps(doc)?;
    let index = |name: &str| match name {
        END => Some(steps.len()),
        _ => steps.iter().position(|s| s.name == name),
    };
    let mut conditions = Vec::with_capacity(steps.len());
    let mut branches = Vec::with_capacity(steps.len());
    let mut default_next = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let cond = match &s.conditions {
            Some(c) => Some(
                conditions::parse(c)
                    .map_err(|e| format!("steps[{i}] ({}): invalid condition: {e}", s.name))?,
            ),
            None => None,
        };
        conditions.push(cond);
        let mut bs = Vec::new();
        for (j, b) in s.branches.iter().flatten().enumerate() {
            let c = conditions::parse(&b.condition).map_err(|e| {
                format!(
                    "steps[{i}] ({}): branches[{j}].condition is invalid: {e}",
                    s.name
                )
            })?;
            let t = index(&b.next_step).unwrap_or(usize::MAX);
            bs.push((c, t));
        }
        branches.push(bs);
        default_next.push(s.default_next.as_deref().and_then(index));
    }
    // Every cycle needs a backward edge; each backward edge must be bounded by a step of the
    // loop it closes.
    for (i, s) in steps.iter().enumerate() {
        let targets = branches[i]
            .iter()
            .enumerate()
            .map(|(j, (_, t))| (format!("branches[{j}].next_step"), *t))
            .chain(default_next[i].map(|t| ("default_next".to_string(), t)));
        for (field, t) in targets {
            if t <= i && !steps[t..=i].iter().any(|x| x.max_iterations.is_some()) {
                return Err(format!(
                    "steps[{i}] ({}): {field} goes back to steps[{t}] ({}), forming a cycle; set max_iterations on a step of the loop to allow it",
                    s.name, steps[t].name
                ));
            }
        }
    }
    Ok(Compiled {
        steps,
        conditions,
        branches,
        default_next,
    })
}

/// The names of the steps, in order (entries without a name are left out).
pub fn step_names(doc: &Value) -> Vec<String> {
    doc.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The distinct action types the steps use, in first-use order.
pub fn action_types(doc: &Value) -> Vec<String> {
    let mut seen = HashSet::new();
    doc.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("action").and_then(Value::as_str))
        .filter(|a| *a != GATEWAY && seen.insert(a.to_string()))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_discount_workflow() {
        let s = parse_steps(&json!([
            {"name": "Validate", "action": "validation"},
            {"name": "Manager Approval", "action": "approval", "approver": "manager"},
            {"name": "Director Approval", "action": "approval", "approver": "director",
             "conditions": {"amount": {"$gt": 10000}}}
        ]))
        .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].approver.as_deref(), Some("director"));
    }

    #[test]
    fn errors_name_the_step_index() {
        let cases = [
            (json!({"name": "x"}), "steps must be a list"),
            (json!([{"name": "a", "action": "x"}, 3]), "steps[1]"),
            (json!([{"name": "a"}]), "steps[0]: missing field `action`"),
            (
                json!([{"name": "a", "action": "x", "conditon": {}}]),
                "steps[0]: unknown field `conditon`",
            ),
            (
                json!([{"name": "a", "action": "x"}, {"name": "a", "action": "y"}]),
                "steps[1]: duplicate",
            ),
            (
                json!([{"name": "a", "action": "x", "default_next": "zzz"}]),
                "steps[0] (a): default_next refers to \"zzz\"",
            ),
            (
                json!([{"name": "a", "action": ""}]),
                "steps[0] (a): action must not be empty",
            ),
            (
                json!([{"name": "a", "action": "x", "conditions": [1]}]),
                "steps[0] (a): conditions must be an object",
            ),
        ];
        for (doc, want) in cases {
            let err = parse_steps(&doc).unwrap_err();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn compile_checks_conditions_and_cycles() {
        let err = compile(
            &json!([{"name": "a", "action": "x", "conditions": {"amount": {"$bogus": 1}}}]),
        )
        .unwrap_err();
        assert!(
            err.contains(
                "steps[0] (a): invalid condition: unknown operator $bogus (at $.amount.$bogus)"
            ),
            "{err}"
        );
        let looping = json!([
            {"name": "a", "action": "x"},
            {"name": "b", "action": "x", "branches": [{"condition": {"retry": true}, "next_step": "a"}]}
        ]);
        let err = compile(&looping).unwrap_err();
        assert!(
            err.contains(
                "steps[1] (b): branches[0].next_step goes back to steps[0] (a), forming a cycle"
            ),
            "{err}"
        );
        let mut bounded = looping.clone();
        bounded[0]["max_iterations"] = json!(3);
        let c = compile(&bounded).unwrap();
        assert_eq!(c.branches[1][0].1, 0);
        let self_loop = json!([{"name": "a", "action": "x", "default_next": "a"}]);
        assert!(compile(&self_loop).unwrap_err().contains("cycle"));
    }

    #[test]
    fn action_types_are_distinct() {
        let doc = json!([{"action": "a"}, {"action": "b"}, {"action": "a"}]);
        assert_eq!(action_types(&doc), vec!["a", "b"]);
    }
}

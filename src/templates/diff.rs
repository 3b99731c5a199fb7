//! Template diffs (pure): what changed between two versions, and whether it breaks.
use super::body::*;
use crate::workflows::steps::{Changes, diff_keyed, diff_steps};
use async_graphql::SimpleObject;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Clone, Debug, Default, PartialEq, Serialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct TemplateDiff {
    pub steps: Changes,
    pub variables: Changes,
    pub nodes: Changes,
    /// Edges as `from->to`.
    pub edges: Changes,
    pub breaking: bool,
    pub breaking_reasons: Vec<String>,
}

/// What changed from `a` to `b`, and whether the change is breaking: a removed step or
/// variable, a changed condition, or a new required variable.
pub fn diff(a: &TemplateBody, b: &TemplateBody) -> TemplateDiff {
    let (steps, mut reasons) = diff_steps(&a.process_steps, &b.process_steps);
    let va: Vec<(String, Value)> = a
        .variables
        .iter()
        .map(|v| (v.name.clone(), json!(v)))
        .collect();
    let vb: Vec<(String, Value)> = b
        .variables
        .iter()
        .map(|v| (v.name.clone(), json!(v)))
        .collect();
    let variables = diff_keyed(&va, &vb);
    let na: Vec<(String, Value)> = a
        .graph_spec
        .nodes
        .iter()
        .map(|n| (n.id.clone(), json!(n)))
        .collect();
    let nb: Vec<(String, Value)> = b
        .graph_spec
        .nodes
        .iter()
        .map(|n| (n.id.clone(), json!(n)))
        .collect();
    let ea: Vec<(String, Value)> = a
        .graph_spec
        .edges
        .iter()
        .map(|e| (format!("{}->{}", e.from, e.to), json!(e)))
        .collect();
    let eb: Vec<(String, Value)> = b
        .graph_spec
        .edges
        .iter()
        .map(|e| (format!("{}->{}", e.from, e.to), json!(e)))
        .collect();
    for v in &variables.removed {
        reasons.push(format!("variable {v:?} was removed"));
    }
    for v in b
        .variables
        .iter()
        .filter(|v| variables.added.contains(&v.name) && v.required && v.default.is_none())
    {
        reasons.push(format!("new required variable {:?}", v.name));
    }
    for v in b
        .variables
        .iter()
        .filter(|v| variables.changed.contains(&v.name))
    {
        let was = a.variables.iter().find(|o| o.name == v.name);
        if was.is_some_and(|o| {
            o.var_type != v.var_type || (!o.required && v.required && v.default.is_none())
        }) {
            reasons.push(format!(
                "variable {:?} changed its type or became required",
                v.name
            ));
        }
    }
    TemplateDiff {
        steps,
        variables,
        nodes: diff_keyed(&na, &nb),
        edges: diff_keyed(&ea, &eb),
        breaking: !reasons.is_empty(),
        breaking_reasons: reasons,
    }
}

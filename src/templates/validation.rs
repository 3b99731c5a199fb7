//! Validating a template body (pure): every problem with the path where it is.
use super::body::*;
use super::semver::parse_semver;
use crate::placeholders::placeholders;
use crate::workflows::steps::compile;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};

pub(super) fn type_matches(t: VariableType, v: &Value) -> bool {
    match t {
        VariableType::String => v.is_string(),
        VariableType::Number => v.is_number(),
        VariableType::Boolean => v.is_boolean(),
        VariableType::Object => v.is_object(),
    }
}

/// Validates a template body, returning the first problem with its path.
pub fn validate(t: &TemplateBody) -> Result<(), Invalid> {
    if t.name.trim().is_empty() || t.name.len() > 200 {
        return Err(invalid("name", "must be 1 to 200 characters"));
    }
    if parse_semver(&t.version).is_none() {
        return Err(invalid(
            "version",
            format!(
                "{:?} is not a semantic version (MAJOR.MINOR.PATCH, optionally with a pre-release and build metadata, such as 1.2.0 or 2.1.0-beta.1+build.5)",
                t.version
            ),
        ));
    }
    if !t.settings.is_object() {
        return Err(invalid("settings", "must be an object"));
    }
    validate_actions(&t.actions)?;
    let mut names = HashSet::new();
    for (i, v) in t.variables.iter().enumerate() {
        let valid_name = !v.name.is_empty()
            && v.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(invalid(
                format!("variables[{i}].name"),
                "use letters, digits and underscores",
            ));
        }
        if !names.insert(v.name.as_str()) {
            return Err(invalid(
                format!("variables[{i}].name"),
                format!("duplicate variable {:?}", v.name),
            ));
        }
        if let Some(d) = &v.default
            && !type_matches(v.var_type, d)
        {
            return Err(invalid(
                format!("variables[{i}].default"),
                format!("{d} is not of type {}", v.var_type.as_str().to_uppercase()),
            ));
        }
    }
    compile(&t.process_steps).map_err(|e| {
        // compile's messages start with steps[i]; present them under processSteps.
        let path = e
            .split(':')
            .next()
            .unwrap_or("")
            .replace("steps[", "processSteps[");
        let path = path.split(' ').next().unwrap_or("processSteps").to_string();
        invalid(
            if path.starts_with("processSteps") {
                path
            } else {
                "processSteps".into()
            },
            e,
        )
    })?;
    let mut refs = Vec::new();
    placeholders(&t.process_steps, "processSteps", &mut refs);
    for (name, path) in refs {
        if !names.contains(name.as_str()) {
            return Err(invalid(
                path,
                format!("refers to undefined variable {{{{{name}}}}}"),
            ));
        }
    }
    validate_graph(&t.graph_spec)
}

fn validate_graph(g: &GraphSpec) -> Result<(), Invalid> {
    if g.nodes.is_empty() && g.edges.is_empty() {
        return Ok(());
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if n.id.is_empty() {
            return Err(invalid(
                format!("graphSpec.nodes[{i}].id"),
                "must not be empty",
            ));
        }
        if ids.insert(n.id.as_str(), i).is_some() {
            return Err(invalid(
                format!("graphSpec.nodes[{i}].id"),
                format!("duplicate node id {:?}", n.id),
            ));
        }
        if !n.x.is_finite() || !n.y.is_finite() {
            return Err(invalid(
                format!("graphSpec.nodes[{i}]"),
                "x and y must be finite numbers",
            ));
        }
    }
    for (i, e) in g.edges.iter().enumerate() {
        for (field, id) in [("from", &e.from), ("to", &e.to)] {
            if !ids.contains_key(id.as_str()) {
                return Err(invalid(
                    format!("graphSpec.edges[{i}].{field}"),
                    format!("no node with id {id:?}"),
                ));
            }
        }
        if let Some(c) = &e.condition {
            crate::conditions::parse(c).map_err(|err| {
                invalid(format!("graphSpec.edges[{i}].condition"), err.to_string())
            })?;
        }
    }
    let triggers: Vec<usize> = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.node_type == NodeType::Trigger)
        .map(|(i, _)| i)
        .collect();
    if triggers.is_empty() {
        return Err(invalid("graphSpec.nodes", "needs a trigger node"));
    }
    let mut seen = vec![false; g.nodes.len()];
    let mut queue: VecDeque<usize> = triggers.into_iter().collect();
    while let Some(i) = queue.pop_front() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        for e in g.edges.iter().filter(|e| e.from == g.nodes[i].id) {
            queue.push_back(ids[e.to.as_str()]);
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(invalid(
            format!("graphSpec.nodes[{i}]"),
            format!(
                "node {:?} cannot be reached from the trigger",
                g.nodes[i].id
            ),
        ));
    }
    Ok(())
}

/// Each declared action: a valid, unique `actionType` and a name.
fn validate_actions(actions: &[ActionDeclaration]) -> Result<(), Invalid> {
    let mut seen = HashSet::new();
    for (i, a) in actions.iter().enumerate() {
        crate::catalog::service::validate_action_type(&a.action_type)
            .map_err(|e| invalid(format!("actions[{i}].actionType"), e.to_string()))?;
        if !seen.insert(a.action_type.as_str()) {
            return Err(invalid(
                format!("actions[{i}].actionType"),
                format!("{:?} is declared twice", a.action_type),
            ));
        }
        if a.name.trim().is_empty() || a.name.len() > 200 {
            return Err(invalid(
                format!("actions[{i}].name"),
                "must be 1 to 200 characters",
            ));
        }
    }
    Ok(())
}

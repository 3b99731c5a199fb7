//! Instantiation's variables (pure): the values given, checked against the template's
//! variables, with defaults applied.
use super::body::*;
use super::validation::type_matches;
use serde_json::Value;
use std::collections::HashMap;

/// Resolves the variables for instantiation: required ones present, types right, defaults
/// applied, unknown ones refused.
pub fn resolve_variables(
    vars: &[Variable],
    given: &Value,
) -> Result<HashMap<String, Value>, Invalid> {
    let given = given
        .as_object()
        .ok_or_else(|| invalid("variables", "must be an object"))?;
    if let Some(k) = given.keys().find(|k| !vars.iter().any(|v| &v.name == *k)) {
        return Err(invalid(
            format!("variables.{k}"),
            "is not a variable of this template",
        ));
    }
    let mut out = HashMap::new();
    for v in vars {
        match given.get(&v.name).or(v.default.as_ref()) {
            Some(val) if !val.is_null() => {
                if !type_matches(v.var_type, val) {
                    return Err(invalid(
                        format!("variables.{}", v.name),
                        format!("must be a {}", v.var_type.as_str().to_uppercase()),
                    ));
                }
                out.insert(v.name.clone(), val.clone());
            }
            _ if v.required => return Err(invalid(format!("variables.{}", v.name), "is required")),
            _ => {}
        }
    }
    Ok(out)
}

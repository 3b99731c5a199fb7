//! The blueprint document (pure): the canonical JSON form of a template, written and read,
//! and the seed's legacy shape converted on reading.
use super::body::*;
use super::semver::parse_semver;
use super::validation::validate;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Sorts every object's keys, so the same document always serialises the same way.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, Value> =
                m.iter().map(|(k, v)| (k, canonical(v))).collect();
            let mut out = Map::new();
            for (k, v) in sorted {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The blueprint document for a template: format identifier and version, then every template
/// field, keys sorted, pretty-printed with a final newline.
pub fn export(t: &TemplateBody) -> String {
    let doc = json!({
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "template": serde_json::to_value(t).unwrap_or(Value::Null),
    });
    let mut s = serde_json::to_string_pretty(&canonical(&doc)).unwrap_or_default();
    s.push('\n');
    s
}

/// The seed's blueprint shape: a bare template with snake_case keys and no `format`. The
/// current name of each key it may carry (None: dropped, with a warning).
const LEGACY_KEYS: &[(&str, Option<&str>)] = &[
    ("name", Some("name")),
    ("version", Some("version")),
    ("template_type", Some("templateType")),
    ("description", Some("description")),
    ("process_steps", Some("processSteps")),
    ("variables", Some("variables")),
    ("settings", Some("settings")),
    ("graph_spec", Some("graphSpec")),
    ("is_public", Some("isPublic")),
    ("id", None),
    ("company_id", None),
    ("usage_count", None),
    ("created_by", None),
    ("created_at", None),
    ("updated_at", None),
];

/// Whether a document is the seed's legacy shape rather than a blueprint document.
fn is_legacy(obj: &Map<String, Value>) -> bool {
    !obj.contains_key("format") && obj.contains_key("template_type")
}

/// Converts the seed's legacy shape into a blueprint document, saying what it converted.
fn convert_legacy(obj: &Map<String, Value>) -> Result<(Value, Vec<String>), Invalid> {
    let mut warnings = vec![
        "legacy blueprint (the seed's shape, without \"format\") converted to the current \
         format; export the template to get the current document"
            .to_string(),
    ];
    let mut t = Map::new();
    for (k, v) in obj {
        match LEGACY_KEYS.iter().find(|(old, _)| old == k) {
            Some((_, Some(new))) => {
                if k != new {
                    warnings.push(format!("{k} became {new}"));
                }
                t.insert(new.to_string(), v.clone());
            }
            Some((_, None)) => warnings.push(format!("{k} is not part of a blueprint: dropped")),
            None => return Err(invalid(k.as_str(), "unknown field in a legacy blueprint")),
        }
    }
    if let Some(Value::Object(vars)) = t.get("variables").cloned() {
        t.insert("variables".into(), legacy_variables(&vars)?);
        warnings.push("variables, an object by name, became a list".into());
    }
    if let Some(Value::String(v)) = t.get("version").cloned()
        && parse_semver(&v).is_none()
    {
        let parts: Vec<&str> = v.trim_start_matches('v').split('.').collect();
        let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u64>().ok());
        if let (Some(a), Some(b), Some(c), true) = (n(0), n(1), n(2), parts.len() <= 3) {
            let semver = format!("{a}.{b}.{c}");
            warnings.push(format!("version {v:?} became {semver:?}"));
            t.insert("version".into(), Value::String(semver));
        }
    }
    let doc = json!({"format": FORMAT, "formatVersion": FORMAT_VERSION, "template": t});
    Ok((doc, warnings))
}

/// `{"amount": {"type": "number", ...}}` as `[{"name": "amount", "type": "number", ...}]`.
fn legacy_variables(vars: &Map<String, Value>) -> Result<Value, Invalid> {
    let mut out = Vec::new();
    for (name, spec) in vars {
        let mut v = match spec {
            Value::Object(o) => o.clone(),
            Value::String(t) => Map::from_iter([("type".to_string(), json!(t))]),
            _ => return Err(invalid(format!("variables.{name}"), "expected an object")),
        };
        v.insert("name".into(), json!(name));
        out.push(Value::Object(v));
    }
    Ok(Value::Array(out))
}

/// Reads a blueprint document (checking its format and version), or the seed's legacy shape,
/// into a template body; the warnings say what a legacy document's conversion changed.
pub fn read_any_blueprint(doc: &Value) -> Result<(TemplateBody, Vec<String>), Invalid> {
    match doc.as_object() {
        Some(obj) if is_legacy(obj) => {
            let (converted, warnings) = convert_legacy(obj)?;
            let body = read_blueprint(&converted).map_err(|e| Invalid {
                path: e.path.trim_start_matches("template.").to_string(),
                message: e.message,
            })?;
            Ok((body, warnings))
        }
        _ => Ok((read_blueprint(doc)?, Vec::new())),
    }
}

/// Reads a blueprint document (checking its format and version) into a template body.
pub fn read_blueprint(doc: &Value) -> Result<TemplateBody, Invalid> {
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("", "a blueprint is a JSON object"))?;
    match obj.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(invalid(
                "format",
                format!("unknown format {other:?}; expected {FORMAT:?}"),
            ));
        }
        None => return Err(invalid("format", format!("missing; expected {FORMAT:?}"))),
    }
    match obj.get("formatVersion").and_then(Value::as_u64) {
        Some(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(invalid(
                "formatVersion",
                format!(
                    "format version {v} is not supported; this server reads version {FORMAT_VERSION}"
                ),
            ));
        }
        None => return Err(invalid("formatVersion", "missing")),
    }
    if let Some(k) = obj
        .keys()
        .find(|k| !["format", "formatVersion", "template"].contains(&k.as_str()))
    {
        return Err(invalid(k.as_str(), "unknown field"));
    }
    let t = obj
        .get("template")
        .ok_or_else(|| invalid("template", "missing"))?;
    let body: TemplateBody =
        serde_json::from_value(t.clone()).map_err(|e| invalid("template", e.to_string()))?;
    validate(&body).map_err(|e| invalid(format!("template.{}", e.path), e.message))?;
    Ok(body)
}

//! The template model and everything pure about it: validation with paths, semver, the
//! canonical blueprint document, variable substitution and diffs.
use crate::str_enum;
use crate::workflows::steps::{Changes, compile, diff_keyed, diff_steps};
use async_graphql::SimpleObject;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// The blueprint document's format identifier and the versions this build reads.
pub const FORMAT: &str = "workflow-intel/blueprint";
pub const FORMAT_VERSION: u64 = 1;

str_enum!(
    TemplateType {
        Onboarding => "onboarding",
        Offboarding => "offboarding",
        Approval => "approval",
        Notification => "notification",
        Escalation => "escalation",
        Custom => "custom",
    }
);

str_enum!(
    VariableType {
        String => "string",
        Number => "number",
        Boolean => "boolean",
        Object => "object",
    }
);

str_enum!(
    NodeType {
        Trigger => "trigger",
        Action => "action",
        Approval => "approval",
        Decision => "decision",
        Parallel => "parallel",
        End => "end",
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    #[serde(rename = "type")]
    #[graphql(name = "type")]
    pub var_type: VariableType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(deny_unknown_fields)]
pub struct GraphNode {
    pub id: String,
    #[serde(rename = "type")]
    #[graphql(name = "type")]
    pub node_type: NodeType,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub x: f64,
    #[serde(default)]
    pub y: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(deny_unknown_fields)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    /// How often the flow was taken, for flows out of a choice that was discovered from a
    /// log (0 to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    #[serde(default)]
    pub nodes: Vec<GraphNode>,
    #[serde(default)]
    pub edges: Vec<GraphEdge>,
}

/// Everything a template is, without ids or tenant data: what a blueprint carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateBody {
    pub name: String,
    pub version: String,
    pub template_type: TemplateType,
    #[serde(default)]
    pub description: String,
    pub process_steps: Value,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default = "empty_object")]
    pub settings: Value,
    #[serde(default)]
    pub graph_spec: GraphSpec,
    #[serde(default)]
    pub is_public: bool,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A validation failure: where, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// Parses strict semver MAJOR.MINOR.PATCH (no leading zeros, no pre-release or build).
pub fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let mut out = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        out[i] = p.parse().ok()?;
    }
    Some((out[0], out[1], out[2]))
}

fn type_matches(t: VariableType, v: &Value) -> bool {
    match t {
        VariableType::String => v.is_string(),
        VariableType::Number => v.is_number(),
        VariableType::Boolean => v.is_boolean(),
        VariableType::Object => v.is_object(),
    }
}

/// Every `{{name}}` placeholder in a JSON document, with the path where it appears.
pub fn placeholders(doc: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match doc {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start + 2..].find("}}") else {
                    break;
                };
                let name = rest[start + 2..start + 2 + end].trim().to_string();
                out.push((name, path.to_string()));
                rest = &rest[start + 2 + end + 2..];
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| placeholders(v, &format!("{path}[{i}]"), out)),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| placeholders(v, &format!("{path}.{k}"), out)),
        _ => {}
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
                "{:?} is not a semantic version MAJOR.MINOR.PATCH such as 1.2.0",
                t.version
            ),
        ));
    }
    if !t.settings.is_object() {
        return Err(invalid("settings", "must be an object"));
    }
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

/// Substitutes `{{name}}` placeholders: a string that is exactly one placeholder takes the
/// value itself (keeping its type); placeholders inside longer strings are interpolated.
pub fn substitute(doc: &Value, vars: &HashMap<String, Value>) -> Value {
    match doc {
        Value::String(s) => {
            let t = s.trim();
            if let Some(name) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
                && !name.contains("{{")
                && let Some(v) = vars.get(name.trim())
            {
                return v.clone();
            }
            let mut out = s.clone();
            for (k, v) in vars {
                let text = match v {
                    Value::String(x) => x.clone(),
                    other => other.to_string(),
                };
                out = out
                    .replace(&format!("{{{{{k}}}}}"), &text)
                    .replace(&format!("{{{{ {k} }}}}"), &text);
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    pub fn standard() -> TemplateBody {
        TemplateBody {
            name: "Standard Approval Process".into(),
            version: "1.2.0".into(),
            template_type: TemplateType::Approval,
            description: "Manager approval above a threshold.".into(),
            process_steps: json!([
                {"name": "Validate", "action": "validation"},
                {"name": "Manager Approval", "action": "approval", "approver": "{{approver}}",
                 "conditions": {"amount": {"$gt": "{{threshold}}"}}}
            ]),
            variables: vec![
                Variable {
                    name: "approver".into(),
                    var_type: VariableType::String,
                    required: true,
                    default: None,
                    description: None,
                },
                Variable {
                    name: "threshold".into(),
                    var_type: VariableType::Number,
                    required: false,
                    default: Some(json!(1000)),
                    description: None,
                },
            ],
            settings: json!({"notify": true}),
            graph_spec: GraphSpec {
                nodes: vec![
                    GraphNode {
                        id: "start".into(),
                        node_type: NodeType::Trigger,
                        label: "Start".into(),
                        x: 100.0,
                        y: 100.0,
                    },
                    GraphNode {
                        id: "step1".into(),
                        node_type: NodeType::Action,
                        label: "Validate".into(),
                        x: 200.0,
                        y: 100.0,
                    },
                ],
                edges: vec![GraphEdge {
                    from: "start".into(),
                    to: "step1".into(),
                    condition: None,
                    probability: None,
                }],
            },
            is_public: false,
        }
    }

    #[test]
    fn semver_is_strict() {
        assert_eq!(parse_semver("1.2.0"), Some((1, 2, 0)));
        for bad in [
            "1.2",
            "1.2.0.0",
            "01.2.0",
            "1.2.x",
            "1.2.0-beta",
            "",
            "v1.2.0",
        ] {
            assert_eq!(parse_semver(bad), None, "{bad}");
        }
    }

    #[test]
    fn validation_paths() {
        assert!(validate(&standard()).is_ok());
        let mut t = standard();
        t.version = "1.2".into();
        assert_eq!(validate(&t).unwrap_err().path, "version");
        let mut t = standard();
        t.graph_spec.edges.push(GraphEdge {
            from: "step1".into(),
            to: "ghost".into(),
            condition: None,
            probability: None,
        });
        assert_eq!(validate(&t).unwrap_err().path, "graphSpec.edges[1].to");
        let mut t = standard();
        t.graph_spec.nodes[1].id = "start".into();
        assert_eq!(validate(&t).unwrap_err().path, "graphSpec.nodes[1].id");
        let mut t = standard();
        t.graph_spec.nodes[0].node_type = NodeType::Action;
        assert_eq!(validate(&t).unwrap_err().path, "graphSpec.nodes");
        let mut t = standard();
        t.graph_spec.edges.clear();
        assert_eq!(validate(&t).unwrap_err().path, "graphSpec.nodes[1]");
        let mut t = standard();
        t.process_steps[0]["input"] = json!({"to": "{{nobody}}"});
        assert_eq!(validate(&t).unwrap_err().path, "processSteps[0].input.to");
        let mut t = standard();
        t.variables[1].default = Some(json!("ten"));
        assert_eq!(validate(&t).unwrap_err().path, "variables[1].default");
        let mut t = standard();
        t.process_steps[1]["conditions"] = json!({"amount": {"$gtx": 1}});
        let e = validate(&t).unwrap_err();
        assert_eq!(e.path, "processSteps[1]");
        assert!(e.message.contains("$gtx"), "{e}");
    }

    #[test]
    fn export_is_canonical_and_reads_back() {
        let t = standard();
        let doc = export(&t);
        let back = read_blueprint(&serde_json::from_str(&doc).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(export(&back), doc);
        let mut v: Value = serde_json::from_str(&doc).unwrap();
        v["formatVersion"] = json!(2);
        assert!(
            read_blueprint(&v)
                .unwrap_err()
                .message
                .contains("format version 2 is not supported")
        );
    }

    #[test]
    fn substitution_and_variables() {
        let t = standard();
        let vars = resolve_variables(&t.variables, &json!({"approver": "cfo"})).unwrap();
        let steps = substitute(&t.process_steps, &vars);
        assert_eq!(steps[1]["approver"], "cfo");
        assert_eq!(steps[1]["conditions"]["amount"]["$gt"], 1000);
        assert_eq!(
            resolve_variables(&t.variables, &json!({}))
                .unwrap_err()
                .path,
            "variables.approver"
        );
        assert!(resolve_variables(&t.variables, &json!({"approver": 5})).is_err());
    }

    #[test]
    fn diff_flags_breaking_changes() {
        let a = standard();
        let mut b = standard();
        b.version = "1.3.0".into();
        b.process_steps = json!([{"name": "Validate", "action": "validation"}]);
        let d = diff(&a, &b);
        assert_eq!(d.steps.removed, vec!["Manager Approval"]);
        assert!(d.breaking);
        let mut c = standard();
        c.description = "only words".into();
        assert!(!diff(&a, &c).breaking);
        let mut e = standard();
        e.variables.push(Variable {
            name: "region".into(),
            var_type: VariableType::String,
            required: true,
            default: None,
            description: None,
        });
        let d = diff(&a, &e);
        assert_eq!(d.variables.added, vec!["region"]);
        assert!(d.breaking);
    }
}

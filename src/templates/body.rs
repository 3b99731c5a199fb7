//! What a template is (pure): its body, variables and graph, the blueprint format's name,
//! and validation failures with their paths.
use crate::model::LatencyClass;
use crate::str_enum;
use async_graphql::{InputObject, SimpleObject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    /// The catalog action a task node runs (`actionType`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
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
    /// The gateway's default flow: taken when no other flow's condition holds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_default: bool,
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
    /// The catalog actions the steps need: instantiating the template creates those the
    /// company's catalog lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionDeclaration>,
}

/// A catalog action a template's steps need, declared with the template so that a company
/// without it gets it when it instantiates the template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, SimpleObject, InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[graphql(input_name = "ActionDeclarationInput")]
pub struct ActionDeclaration {
    pub action_type: String,
    pub name: String,
    #[serde(default)]
    #[graphql(default)]
    pub description: String,
    #[serde(default = "medium")]
    #[graphql(default_with = "medium()")]
    pub latency_class: LatencyClass,
    #[serde(default)]
    #[graphql(default)]
    pub is_idempotent: bool,
}

fn medium() -> LatencyClass {
    LatencyClass::Medium
}

pub(super) fn empty_object() -> Value {
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

pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        message: message.into(),
    }
}

//! The import mapping: a TOML file saying how a log becomes executions.
//!
//! ```toml
//! workflow = "Loan applications"      # the workflow to create or fill
//! workflow_type = "approval"          # approval|notification|automation|escalation|custom
//! failure_activities = ["Application Rejected"]   # optional: executions that end as failed
//!
//! [case]
//! id = "concept:name"                 # trace attribute (XES) or column (CSV) holding the case id
//!
//! [event]
//! activity = "concept:name"
//! timestamp = "time:timestamp"
//! resource = "org:resource"           # optional
//! lifecycle = "lifecycle:transition"  # optional: only events whose lifecycle is "complete" count
//!
//! [[approvals]]                       # activities that are approval decisions
//! activity = "Loan Denied"
//! step = "Loan decision"              # optional: several outcome activities as one step
//! decision = "rejected"               # approved|rejected
//! approver = "underwriter"            # optional; defaults to the event's resource
//!
//! [[input]]                           # attributes that become the execution's input data
//! attribute = "CreditScore"
//! from = "trace"                      # trace|event (the first event that has it)
//! type = "number"                     # string|number|boolean
//! name = "credit_score"               # optional; defaults to the attribute
//! ```
use super::reader::{Case, Event};
use crate::model::{ApprovalDecision, WorkflowType};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub workflow: String,
    #[serde(default = "default_type")]
    pub workflow_type: WorkflowType,
    #[serde(default)]
    pub case: CaseMapping,
    #[serde(default)]
    pub event: EventMapping,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default)]
    pub input: Vec<InputField>,
    #[serde(default)]
    pub failure_activities: Vec<String>,
    /// CSV only: the timestamp format (chrono strftime); RFC 3339 when absent.
    #[serde(default)]
    pub timestamp_format: Option<String>,
}

fn default_type() -> WorkflowType {
    WorkflowType::Custom
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseMapping {
    #[serde(default = "concept_name")]
    pub id: String,
}

impl Default for CaseMapping {
    fn default() -> Self {
        CaseMapping { id: concept_name() }
    }
}

fn concept_name() -> String {
    "concept:name".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMapping {
    #[serde(default = "concept_name")]
    pub activity: String,
    #[serde(default = "timestamp")]
    pub timestamp: String,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub lifecycle: Option<String>,
}

impl Default for EventMapping {
    fn default() -> Self {
        EventMapping {
            activity: concept_name(),
            timestamp: timestamp(),
            resource: None,
            lifecycle: None,
        }
    }
}

fn timestamp() -> String {
    "time:timestamp".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub activity: String,
    #[serde(default)]
    pub step: Option<String>,
    pub decision: ApprovalDecision,
    #[serde(default)]
    pub approver: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Trace,
    Event,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Number,
    Boolean,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputField {
    pub attribute: String,
    #[serde(default = "trace_source")]
    pub from: Source,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub name: Option<String>,
}

fn trace_source() -> Source {
    Source::Trace
}

impl InputField {
    pub fn target_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.attribute)
    }
}

impl Mapping {
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let m: Mapping = toml::from_str(text).map_err(|e| format!("mapping: {e}"))?;
        if m.workflow.trim().is_empty() {
            return Err("mapping: workflow must not be empty".into());
        }
        Ok(m)
    }

    /// Whether an event counts (lifecycle "complete", or any when no lifecycle is mapped).
    pub fn keeps(&self, e: &Event) -> bool {
        e.lifecycle
            .as_deref()
            .is_none_or(|l| l.eq_ignore_ascii_case("complete"))
    }

    /// An input field's value for a case as the log holds it.
    pub fn raw_value<'c>(&self, f: &InputField, c: &'c Case) -> Option<&'c Value> {
        match f.from {
            Source::Trace => c.attrs.get(&f.attribute),
            Source::Event => c.events.iter().find_map(|e| e.attrs.get(&f.attribute)),
        }
    }

    /// An input field's value for a case, converted to its type.
    pub fn input_value(&self, f: &InputField, c: &Case) -> Option<Value> {
        convert(self.raw_value(f, c)?, f.field_type)
    }
}

fn convert(v: &Value, t: FieldType) -> Option<Value> {
    match (t, v) {
        (FieldType::Number, Value::Number(_)) => Some(v.clone()),
        (FieldType::Number, Value::String(s)) => {
            s.trim().parse::<f64>().ok().map(|x| serde_json::json!(x))
        }
        (FieldType::Boolean, Value::Bool(_)) => Some(v.clone()),
        (FieldType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(Value::Bool(true)),
            "false" | "0" | "no" => Some(Value::Bool(false)),
            _ => None,
        },
        (FieldType::String, Value::String(_)) => Some(v.clone()),
        (FieldType::String, other) => Some(Value::String(other.to_string())),
        _ => None,
    }
}

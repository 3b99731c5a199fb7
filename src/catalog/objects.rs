//! The catalog actions the API returns (`Action`): an object type that workflows reference.
use crate::entity::action;
use crate::model::{LatencyClass, stored};
use async_graphql::{ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct Action(pub action::Model);

#[Object]
impl Action {
    pub async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The key workflow steps use to refer to this action.
    async fn action_type(&self) -> &str {
        &self.0.action_type
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Whether running it twice has the same effect as running it once.
    async fn is_idempotent(&self) -> bool {
        self.0.is_idempotent
    }
    async fn latency_class(&self) -> Result<LatencyClass> {
        Ok(stored(LatencyClass::parse, &self.0.latency_class)?)
    }
    /// What it changes outside the workflow (emails sent, records written…).
    async fn side_effects(&self) -> Vec<String> {
        serde_json::from_value(self.0.side_effects.clone()).unwrap_or_default()
    }
    async fn input_schema(&self) -> Option<Json<Value>> {
        self.0.input_schema.clone().map(Json)
    }
    async fn output_schema(&self) -> Option<Json<Value>> {
        self.0.output_schema.clone().map(Json)
    }
    /// Runtime statistics, maintained from reported step executions (read-only).
    async fn execution_count(&self) -> i64 {
        self.0.execution_count
    }
    async fn avg_execution_time_ms(&self) -> f64 {
        self.0.avg_execution_time_ms
    }
    /// Share of executions that succeeded, 0 to 1.
    async fn success_rate(&self) -> f64 {
        self.0.success_rate
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

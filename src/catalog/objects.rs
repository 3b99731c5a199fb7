//! The catalog actions the API returns (`Action`): an object type that workflows reference.
use crate::entity::action;
use crate::model::{LatencyClass, stored};
use async_graphql::{ComplexObject, Result};
use chrono::{DateTime, Utc};

pub type Action = action::Model;

#[ComplexObject]
impl Action {
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    async fn latency_class(&self) -> Result<LatencyClass> {
        Ok(stored(LatencyClass::parse, &self.latency_class)?)
    }
    /// What it changes outside the workflow (emails sent, records written…).
    async fn side_effects(&self) -> Vec<String> {
        serde_json::from_value(self.side_effects.clone()).unwrap_or_default()
    }
}

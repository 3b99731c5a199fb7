//! The catalog actions the API returns (`Action`): an object type that workflows reference.
use crate::entity::action;
use crate::model::{LatencyClass, stored};
use async_graphql::{ComplexObject, Result};

pub type Action = action::Model;

#[ComplexObject]
impl Action {
    async fn latency_class(&self) -> Result<LatencyClass> {
        Ok(stored(LatencyClass::parse, &self.latency_class)?)
    }
    /// What it changes outside the workflow (emails sent, records written…).
    async fn side_effects(&self) -> Vec<String> {
        serde_json::from_value(self.side_effects.clone()).unwrap_or_default()
    }
}

//! Schema assembly: every room's Query, Mutation and Subscription merged into one schema,
//! with the limits, metrics and error-code extensions.
use crate::AppState;
use async_graphql::{MergedObject, Schema, SchemaBuilder};
use std::sync::Arc;

#[derive(MergedObject, Default)]
pub struct Query(
    crate::catalog::graphql::CatalogQuery,
    crate::workflows::graphql::WorkflowQuery,
    crate::simulation::graphql::SimulationQuery,
    crate::executions::graphql::ExecutionQuery,
    crate::sla::graphql::SlaQuery,
    crate::live::graphql::LiveQuery,
    crate::sla::channel_graphql::ChannelQuery,
    crate::sla::calendar_graphql::CalendarQuery,
    crate::templates::graphql::TemplateQuery,
    crate::suggestions::graphql::SuggestionQuery,
    crate::graphql_base::tokens::TokenQuery,
    super::node::NodeQuery,
    crate::graphql_base::types::MetaQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    crate::catalog::graphql::CatalogMutation,
    crate::workflows::graphql::WorkflowMutation,
    crate::simulation::graphql::SimulationMutation,
    crate::executions::graphql::ExecutionMutation,
    crate::sla::graphql::SlaMutation,
    crate::sla::channel_graphql::ChannelMutation,
    crate::sla::calendar_graphql::CalendarMutation,
    crate::sla::pauses::PauseMutation,
    crate::templates::graphql::TemplateMutation,
    crate::suggestions::graphql::SuggestionMutation,
    crate::graphql_base::tokens::TokenMutation,
);

#[derive(async_graphql::MergedSubscription, Default)]
pub struct Subscription(crate::live::graphql::LiveSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_recursive_depth(32)
    .limit_directives(16)
}

pub fn build_schema(state: Arc<AppState>) -> AppSchema {
    let mut b = builder()
        .extension(super::operations::OperationsExtension::new(
            state.config.limits(),
            state.metrics.clone(),
        ))
        .extension(super::error_codes::ErrorCodesExtension);
    // Spans per request and per resolver, only while traces are exported (`telemetry`).
    if crate::telemetry::enabled() {
        b = b.extension(async_graphql::extensions::Tracing);
    }
    b.data(state).finish()
}

/// The SDL, without needing a database.
pub fn sdl() -> String {
    builder().finish().sdl()
}

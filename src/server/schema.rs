//! Schema assembly: every room's Query, Mutation and Subscription merged into one schema, and
//! [`AppSchema`], which runs it with what every operation passes through (`operations.rs`: the
//! limits, the text check and the metrics) and gives every error an `extensions.code`.
use super::operations::Checks;
use crate::AppState;
use async_graphql::{
    Data, Executor, MergedObject, Request, Response, Schema, SchemaBuilder, ServerError,
};
use futures_util::stream::{self, BoxStream, StreamExt};
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

/// The schema, run with the checks, metrics and error codes of every operation. It has no
/// async-graphql extension unless traces are exported (see `operations.rs` for why).
#[derive(Clone)]
pub struct AppSchema {
    schema: Schema<Query, Mutation, Subscription>,
    checks: Arc<Checks>,
}

/// A response of one error, with its code.
fn refusal(e: ServerError) -> Response {
    let mut resp = Response::from_errors(vec![e]);
    crate::error::ensure_codes(&mut resp);
    resp
}

impl Executor for AppSchema {
    async fn execute(&self, mut request: Request) -> Response {
        let (prepared, verdict) = self.checks.prepare(&mut request);
        let mut resp = match verdict {
            Ok(()) => self.schema.execute(request).await,
            Err(e) => Response::from_errors(vec![e]),
        };
        crate::error::ensure_codes(&mut resp);
        self.checks.count(&prepared, &resp);
        resp
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        if let (_, Err(e)) = self.checks.prepare(&mut request) {
            return stream::once(async move { refusal(e) }).boxed();
        }
        Executor::execute_stream(&self.schema, request, session_data)
            .map(|mut r| {
                crate::error::ensure_codes(&mut r);
                r
            })
            .boxed()
    }
}

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
    let checks = Arc::new(Checks::new(state.config.limits(), state.metrics.clone()));
    let mut b = builder();
    // Spans per request and per resolver, only while traces are exported (`telemetry`).
    if crate::telemetry::enabled() {
        b = b.extension(async_graphql::extensions::Tracing);
    }
    AppSchema {
        schema: b.data(state).finish(),
        checks,
    }
}

/// The SDL, without needing a database.
pub fn sdl() -> String {
    builder().finish().sdl()
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextValidation,
    };
    use async_graphql::{ServerError, ValidationResult};
    use std::sync::Mutex;

    /// Keeps the complexity async-graphql's validation computes.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Option<usize>>>);

    impl ExtensionFactory for Seen {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(self.clone())
        }
    }

    #[async_trait::async_trait]
    impl Extension for Seen {
        async fn validation(
            &self,
            ctx: &ExtensionContext<'_>,
            next: NextValidation<'_>,
        ) -> Result<ValidationResult, Vec<ServerError>> {
            let r = next.run(ctx).await?;
            *self.0.lock().unwrap() = Some(r.complexity);
            Ok(r)
        }
    }

    /// The limit on complexity is checked on the document, before validation, so it must
    /// count what async-graphql's validation counts, on this schema.
    #[tokio::test]
    async fn complexity_on_the_document_is_what_validation_counts() {
        let seen = Seen::default();
        let schema = builder().extension(seen.clone()).finish();
        let docs = [
            "{ __typename }",
            "{ slaBreaches(first: 20) { totalCount edges { node { id severity actualDurationSeconds sla { name targetDurationSeconds } execution { id status workflow { name } } } } } }",
            "{ workflows { edges { node { ...W } } } w: workflows { totalCount } } fragment W on Workflow { id name steps owner { email } }",
            "{ viewer { email ... on Viewer { role } } }",
            "query Q($id: ID!) { node(id: $id) { __typename id ... on Workflow { name versions { version } } } }",
            "{ __schema { types { name fields { name type { name ofType { name } } } } } }",
        ];
        for q in docs {
            *seen.0.lock().unwrap() = None;
            let _ = schema.execute(Request::new(q)).await;
            let counted = seen.0.lock().unwrap().expect(q);
            let doc = async_graphql::parser::parse_query(q).unwrap();
            assert_eq!(
                super::super::limits::complexity(&doc),
                counted as u64,
                "{q}"
            );
        }
    }
}

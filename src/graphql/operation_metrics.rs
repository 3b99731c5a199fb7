//! Counts and times GraphQL operations by type (subscriptions are counted where they are
//! opened, in the WebSocket layer).
use crate::metrics::Metrics;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct MetricsExtension(pub Arc<Metrics>);

impl ExtensionFactory for MetricsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            metrics: self.0.clone(),
            op_type: Mutex::new(None),
        })
    }
}

struct PerRequest {
    metrics: Arc<Metrics>,
    op_type: Mutex<Option<&'static str>>,
}

fn type_name(t: OperationType) -> &'static str {
    match t {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[async_trait::async_trait]
impl Extension for PerRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let start = Instant::now();
        let resp = next.run(ctx).await;
        let op = self
            .op_type
            .lock()
            .ok()
            .and_then(|g| *g)
            .unwrap_or("unknown");
        let outcome = if resp.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        self.metrics
            .graphql_requests_total
            .with_label_values(&[op, outcome])
            .inc();
        self.metrics
            .graphql_request_duration_seconds
            .with_label_values(&[op])
            .observe(start.elapsed().as_secs_f64());
        resp
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let t = match &doc.operations {
            DocumentOperations::Single(op) => Some(op.node.ty),
            DocumentOperations::Multiple(map) if map.len() == 1 => {
                map.values().next().map(|op| op.node.ty)
            }
            DocumentOperations::Multiple(_) => None,
        };
        if let (Some(t), Ok(mut slot)) = (t, self.op_type.lock()) {
            *slot = Some(type_name(t));
        }
        Ok(doc)
    }
}

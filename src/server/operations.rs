//! What every query and mutation passes through, over HTTP and WebSocket alike:
//! - the limits ([`Limits`], measured in `limits.rs`), checked on the parsed document and on
//!   validation's complexity;
//! - text the stores cannot hold alike (NUL, `text.rs`), refused before anything runs;
//! - the request metrics, counted and timed by operation type and outcome (subscriptions are
//!   counted where they are opened, in the WebSocket layer).
//!
//! Both need the parsed document, and a document is parsed once, so one extension holds both.
//! It also keeps the documents it parsed, by their text: a client sends the same few queries
//! over and over, and a document is parsed once, not on every request (async-graphql's own
//! checks of depth and directives passed on its first parse; the limits and the text are
//! checked on every request, since the text check reads the variables).
use super::limits;
use crate::config::Limits;
use crate::metrics::Metrics;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct OperationsExtension {
    limits: Limits,
    metrics: Arc<Metrics>,
    documents: Documents,
}

/// Parsed documents by their text, weighed by the text's length.
type Documents = moka::sync::Cache<Arc<str>, ExecutableDocument>;

/// How much query text the parsed documents may stand for, in bytes.
const DOCUMENTS_BYTES: u64 = 4 << 20;

impl OperationsExtension {
    pub fn new(limits: Limits, metrics: Arc<Metrics>) -> Self {
        let documents = moka::sync::Cache::builder()
            .weigher(|q: &Arc<str>, _: &ExecutableDocument| q.len().try_into().unwrap_or(u32::MAX))
            .max_capacity(DOCUMENTS_BYTES)
            .build();
        OperationsExtension {
            limits,
            metrics,
            documents,
        }
    }
}

impl ExtensionFactory for OperationsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            limits: self.limits.clone(),
            metrics: self.metrics.clone(),
            documents: self.documents.clone(),
            op_type: Mutex::new(None),
        })
    }
}

struct PerRequest {
    limits: Limits,
    metrics: Arc<Metrics>,
    documents: Documents,
    /// Set once the document parsed and passed the limits.
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
        let doc = match self.documents.get(query) {
            Some(doc) => doc,
            None => {
                let doc = next.run(ctx, query, variables).await?;
                self.documents.insert(query.into(), doc.clone());
                doc
            }
        };
        limits::check(&doc, &self.limits)?;
        super::text::check(&doc, variables)?;
        // A document of several operations is labelled only when it has one.
        let types = document_operation_types(&doc, None);
        if let ([t], Ok(mut slot)) = (types.as_slice(), self.op_type.lock()) {
            *slot = Some(type_name(*t));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let r = next.run(ctx).await?;
        limits::check_complexity(&r, &self.limits).map_err(|e| vec![e])?;
        Ok(r)
    }
}

/// The types of the operations a request may run: the named one, or every operation of the
/// document when none is named. Empty when the document does not parse.
pub fn operation_types(query: &str, operation_name: Option<&str>) -> Vec<OperationType> {
    match async_graphql::parser::parse_query(query) {
        Ok(doc) => document_operation_types(&doc, operation_name),
        Err(_) => Vec::new(),
    }
}

/// [`operation_types`] of a parsed document.
pub fn document_operation_types(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Vec<OperationType> {
    match &doc.operations {
        DocumentOperations::Single(op) => vec![op.node.ty],
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| operation_name.is_none_or(|n| n == name.as_str()))
            .map(|(_, op)| op.node.ty)
            .collect(),
    }
}

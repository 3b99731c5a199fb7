//! What every query, mutation and subscription passes through, over HTTP and WebSocket alike,
//! before the schema runs it:
//! - the limits ([`Limits`], measured in `limits.rs`), complexity included;
//! - text the stores cannot hold alike (NUL, `text.rs`), refused before anything runs;
//! - the request metrics, counted and timed by operation type and outcome (subscriptions are
//!   counted where they are opened, in the WebSocket layer).
//!
//! These run outside the schema, not as async-graphql extensions: a schema with any extension
//! runs every field of every answer through the extensions' resolve chain (boxed futures and a
//! type lookup per field), which a dashboard's list of 20 rows pays some 200 times. With none,
//! async-graphql resolves fields directly. [`super::schema::AppSchema`] calls [`Checks`] around
//! the schema.
//!
//! A document is parsed once and kept by its text, with the verdict of the checks that depend
//! on the document alone (limits, complexity, NUL in its text): a client sends the same few
//! queries over and over. The variables are checked on every request.
use super::limits;
use crate::config::Limits;
use crate::metrics::Metrics;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError};
use std::sync::Arc;
use std::time::Instant;

/// A parsed document and the verdict of the checks on the document alone.
#[derive(Clone)]
struct Kept {
    doc: ExecutableDocument,
    /// The limits' verdict (complexity included).
    limits: Result<(), ServerError>,
    /// Whether its text holds NUL.
    text: Result<(), ServerError>,
    /// The label of its operation's type, when it has exactly one operation.
    label: Option<&'static str>,
}

/// Parsed documents by their text, weighed by the text's length.
type Documents = moka::sync::Cache<Arc<str>, Kept>;

/// How much query text the parsed documents may stand for, in bytes.
const DOCUMENTS_BYTES: u64 = 4 << 20;

pub struct Checks {
    limits: Limits,
    metrics: Arc<Metrics>,
    documents: Documents,
}

/// What [`Checks::prepare`] found: the operation's label for the metrics ("unknown" when the
/// document did not pass or has several operations), and the start of the request.
pub struct Prepared {
    label: &'static str,
    start: Instant,
}

impl Checks {
    pub fn new(limits: Limits, metrics: Arc<Metrics>) -> Self {
        let documents = moka::sync::Cache::builder()
            .weigher(|q: &Arc<str>, _: &Kept| q.len().try_into().unwrap_or(u32::MAX))
            .max_capacity(DOCUMENTS_BYTES)
            .build();
        Checks {
            limits,
            metrics,
            documents,
        }
    }

    /// The request's document, parsed (or found kept) and checked, set on the request so the
    /// schema does not parse it again; the refusal when it does not pass.
    pub fn prepare(&self, req: &mut Request) -> (Prepared, Result<(), ServerError>) {
        let mut prepared = Prepared {
            label: "unknown",
            start: Instant::now(),
        };
        let kept = match self.documents.get(req.query.as_str()) {
            Some(k) => k,
            None => match async_graphql::parser::parse_query(&req.query) {
                Ok(doc) => {
                    let kept = self.judge(doc);
                    self.documents
                        .insert(req.query.as_str().into(), kept.clone());
                    kept
                }
                Err(e) => return (prepared, Err(e.into())),
            },
        };
        // The order of the checks is the limits, then the variables, then the document's text.
        let verdict = kept
            .limits
            .and_then(|()| super::text::check_variables(&req.variables))
            .and(kept.text);
        if verdict.is_ok() {
            prepared.label = kept.label.unwrap_or("unknown");
            req.set_parsed_query(kept.doc);
        }
        (prepared, verdict)
    }

    fn judge(&self, doc: ExecutableDocument) -> Kept {
        let limits = limits::check(&doc, &self.limits)
            .and_then(|()| limits::check_complexity(&doc, &self.limits));
        let text = super::text::check_document(&doc);
        // A document of several operations is labelled only when it has one.
        let label = match document_operation_types(&doc, None).as_slice() {
            [t] => Some(type_name(*t)),
            _ => None,
        };
        Kept {
            doc,
            limits,
            text,
            label,
        }
    }

    /// Counts and times a query or mutation that [`Checks::prepare`] began.
    pub fn count(&self, prepared: &Prepared, resp: &Response) {
        let outcome = if resp.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        self.metrics
            .graphql_requests_total
            .with_label_values(&[prepared.label, outcome])
            .inc();
        self.metrics
            .graphql_request_duration_seconds
            .with_label_values(&[prepared.label])
            .observe(prepared.start.elapsed().as_secs_f64());
    }
}

fn type_name(t: OperationType) -> &'static str {
    match t {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
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

//! The dashboard's selection answered by async-graphql alone: a schema of the same shape as
//! ours (a Relay connection of 20 breaches, each with its SLA, its execution and the
//! execution's workflow, and `totalCount`) whose objects are plain structs already in memory.
//! No store, loader or check of ours runs, so what it costs is async-graphql's floor for this
//! answer. `benches/graphql_floor.rs` times its execution; `benches/load.rs` serves it over
//! HTTP beside the server, in the same run.
use async_graphql::connection::{Connection, Edge};
use async_graphql::{EmptyMutation, EmptySubscription, Enum, Object, Schema, SimpleObject};
use std::sync::Arc;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
enum Severity {
    Warning,
    Critical,
}

#[derive(SimpleObject)]
struct Sla {
    name: String,
    target_duration_seconds: i64,
}

#[derive(SimpleObject)]
struct Workflow {
    name: String,
}

#[derive(SimpleObject)]
struct Execution {
    id: async_graphql::ID,
    status: String,
    workflow: Arc<Workflow>,
}

#[derive(SimpleObject)]
struct Breach {
    id: async_graphql::ID,
    severity: Severity,
    actual_duration_seconds: f64,
    sla: Arc<Sla>,
    execution: Arc<Execution>,
}

#[derive(SimpleObject)]
struct Total {
    total_count: u64,
}

pub struct Query {
    breaches: Vec<Arc<Breach>>,
}

#[Object]
impl Query {
    async fn sla_breaches(&self, first: Option<i32>) -> Connection<String, Arc<Breach>, Total> {
        let n = first.unwrap_or(20) as usize;
        let mut c = Connection::with_additional_fields(false, true, Total { total_count: 200 });
        for (i, b) in self.breaches.iter().take(n).enumerate() {
            c.edges.push(Edge::new(format!("c{i}"), b.clone()));
        }
        c
    }
}

pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    let sla = Arc::new(Sla {
        name: "Resolution".into(),
        target_duration_seconds: 3600,
    });
    let workflow = Arc::new(Workflow {
        name: "Onboarding".into(),
    });
    let breaches = (0..20)
        .map(|i| {
            let execution = Arc::new(Execution {
                id: format!("0193a1c2-7b4e-7000-8000-{i:012}").into(),
                status: "COMPLETED".into(),
                workflow: workflow.clone(),
            });
            Arc::new(Breach {
                id: format!("0193a1c2-7b4e-7000-9000-{i:012}").into(),
                severity: if i % 2 == 0 {
                    Severity::Warning
                } else {
                    Severity::Critical
                },
                actual_duration_seconds: 5400.5,
                sla: sla.clone(),
                execution,
            })
        })
        .collect();
    Schema::new(Query { breaches }, EmptyMutation, EmptySubscription)
}

/// The dashboard's document: what `benches/load.rs` sends to the server and to this schema.
pub const DASHBOARD: &str = "{ slaBreaches(first: 20) { totalCount edges { node { id severity actualDurationSeconds sla { name targetDurationSeconds } execution { id status workflow { name } } } } } }";

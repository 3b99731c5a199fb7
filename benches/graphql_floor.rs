//! What async-graphql itself costs to answer the dashboard's selection (run with
//! `cargo bench --bench graphql_floor`): the schema of `support/floor.rs`, the dashboard's
//! shape with its objects in memory, beside `{ __typename }` on the same schema. The two times
//! bound what any resolvers of ours could reach under async-graphql: the dashboard can run no
//! faster, next to the trivial query, than these two do next to each other. Results:
//! docs/benchmarks.md.
#[path = "support/floor.rs"]
mod floor_schema;
use criterion::{Criterion, criterion_group, criterion_main};
use floor_schema::{DASHBOARD, schema};

/// The server's allocator (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn floor(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let schema = schema();
    let answer = rt.block_on(schema.execute(DASHBOARD));
    assert!(answer.errors.is_empty(), "{:?}", answer.errors);
    let body = serde_json::to_string(&answer).unwrap();
    assert_eq!(body.matches("\"node\"").count(), 20);
    let mut g = c.benchmark_group("graphql_floor");
    // Parsed once, as the server keeps a document it has seen (`server/operations.rs`).
    for (name, text) in [("typename", "{ __typename }"), ("dashboard", DASHBOARD)] {
        let doc = async_graphql::parser::parse_query(text).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut req = async_graphql::Request::new(text);
                req.set_parsed_query(doc.clone());
                let r = rt.block_on(schema.execute(req));
                serde_json::to_vec(&r).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, floor);
criterion_main!(benches);

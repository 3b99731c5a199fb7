//! `schema.graphql` is generated from the code; this fails when the checked-in file is stale.
#[test]
fn schema_file_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let want = workflow_intel::server::sdl();
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have != want {
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &want).expect("write schema.graphql");
            return;
        }
        panic!(
            "schema.graphql is stale: run `cargo run -- export-schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test schema_file)"
        );
    }
}

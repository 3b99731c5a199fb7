//! The shared event logs the benches read, with their example mappings.
use std::path::PathBuf;

/// Each shared log and the mapping in `examples/` that reads it.
pub const LOGS: [(&str, &str); 4] = [
    ("running-example.xes", "running-example.toml"),
    ("roadtraffic100traces.xes", "roadtraffic.toml"),
    ("helpdesk.xes.gz", "helpdesk.toml"),
    ("lending_log_high.xes.gz", "lending.toml"),
];

/// Where the logs are (`WI_EVENT_LOGS`, else `../shared/data/event-logs`), when they are.
pub fn logs_dir() -> Option<PathBuf> {
    let dir = std::env::var("WI_EVENT_LOGS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/data/event-logs"
            ))
        });
    dir.is_dir().then_some(dir)
}

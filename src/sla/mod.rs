//! SLAs: definitions, the deadline watcher over running executions, breaches, SLO maths,
//! calendars and pauses, the alert outbox with its mailer and channels, and the runtime that
//! holds them. The live breach stream that reads the event log is `live/`.
//!
//! # Lock order
//! On PostgreSQL, every write transaction takes the rows that several transactions share in
//! one order: breach rows (their unique keys, a live breach's final figures, an
//! acknowledgement, an alert marked sent) and the breach count rows (`sla_breach_counts`),
//! then the workflow's rollup rows (`rollups`), then its running counts (`running`). The
//! counters are spread over shards (`shards`), so that concurrent writers mostly take different
//! rows; taken last, they stay locked only from their update to the commit. No writer takes
//! the event log's lock: writers queue their events, and only the mover, which takes nothing
//! else, holds it (`event_log`). Before, every writer held that lock through its commit, so
//! writers of events committed one at a time; and a breach's key and count row taken before
//! the lock and a second breach's after it deadlocked
//! (`rollups::concurrent_completions_and_imports_of_one_workflow_all_succeed` in the tests).
pub mod buckets;
pub mod calendar;
pub mod calendar_graphql;
pub mod channel_graphql;
pub mod channels;
pub mod effects;
pub mod escalation;
pub mod event_log;
pub mod export;
pub mod figures;
pub mod graphql;
pub mod joined;
pub mod mailer;
pub mod notifier;
pub mod outbox;
pub mod overdue;
pub mod pauses;
pub mod replicas;
pub mod rollups;
pub mod running;
pub mod runtime;
pub mod service;
pub mod shards;
pub mod sla_time;
pub mod slo;
pub mod watcher;

use crate::str_enum;

str_enum!(
    Severity { Warning => "warning", Critical => "critical" }
);

str_enum!(
    /// What happened to a breach. FINALIZED: the execution of a breach detected while it ran
    /// has completed, and the breach now carries its final duration and margins.
    BreachEventKind {
        Detected => "detected",
        Acknowledged => "acknowledged",
        AlertSent => "alert_sent",
        Finalized => "finalized",
    }
);

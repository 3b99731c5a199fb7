//! SLAs: definitions, the deadline watcher over running executions, breaches, SLO maths,
//! calendars and pauses, the alert outbox with its mailer and channels, and the runtime that
//! holds them. The live breach stream that reads the event log is `live/`.
//!
//! # Lock order
//! On PostgreSQL, every write transaction takes the rows that several transactions share in
//! one order: the event log's advisory lock (`service::lock_event_log`, held to the commit),
//! then breach rows (their unique keys, a live breach's final figures, an acknowledgement, an
//! alert marked sent) and the breach count rows (`sla_breach_counts`), then the workflow's
//! rollup rows (`rollups`), then its running counts (`running`). Before, a breach's key and
//! count row came before the lock, and a second breach's after it: a completion and the
//! deadline watcher recording breaches of one execution, or an import beside completions,
//! deadlocked (`rollups::concurrent_completions_and_imports_of_one_workflow_all_succeed` in
//! the tests). The rollups and running counts are shared by every completion of a workflow:
//! taken last, they stay locked only from their update to the commit.
pub mod buckets;
pub mod calendar;
pub mod calendar_graphql;
pub mod channel_graphql;
pub mod channels;
pub mod effects;
pub mod escalation;
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

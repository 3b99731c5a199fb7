//! The deadline watcher: watches every running execution that has an active SLA and records a breach
//! the moment its elapsed time passes the warning or the critical threshold.
//!
//! Deadlines live in a min-heap. They are armed when an execution starts, re-armed from the
//! database at start-up (deadlines that passed while the server was down fire at once) and
//! every `rearm_every` as a backstop. Firing is idempotent: the breach's unique key makes a
//! duplicate deadline a no-op.
use super::Severity;
use super::service::{Fired, fire_live, threshold};
use crate::AppState;
use crate::entity::{breach, execution, sla};
use crate::model::ExecutionStatus;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use uuid::Uuid;

/// The running executions of the SLA's workflow with no breach of it at `sev`.
async fn unbreached(
    db: &sea_orm::DatabaseConnection,
    s: &sla::Model,
    sev: Severity,
) -> Result<Vec<execution::Model>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let recorded = Query::select()
        .expr(Expr::val(1))
        .from(breach::Entity)
        .and_where(Expr::col((breach::Entity, breach::Column::SlaId)).eq(s.id))
        .and_where(
            Expr::col((breach::Entity, breach::Column::ExecutionId))
                .equals((execution::Entity, execution::Column::Id)),
        )
        .and_where(Expr::col((breach::Entity, breach::Column::Severity)).eq(sev.as_str()))
        .to_owned();
    execution::Entity::find()
        .filter(execution::Column::WorkflowId.eq(s.workflow_id))
        .filter(execution::Column::CompanyId.eq(s.company_id))
        .filter(execution::Column::CompletedAt.is_null())
        .filter(execution::Column::Status.eq(ExecutionStatus::Running.as_str()))
        .filter(Expr::exists(recorded).not())
        .all(db)
        .await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Deadline {
    at: DateTime<Utc>,
    execution_id: Uuid,
    sla_id: Uuid,
    critical: bool,
}

#[derive(Default)]
struct Timers {
    heap: BinaryHeap<Reverse<Deadline>>,
    armed: HashSet<Deadline>,
}

#[derive(Default)]
pub struct Watcher {
    timers: Mutex<Timers>,
    wake: Notify,
    /// Whether this process owns the watcher (always on SQLite; the advisory-lock holder on
    /// PostgreSQL). Only the owner keeps deadlines.
    owner: AtomicBool,
    rearm_requested: AtomicBool,
}

impl Watcher {
    fn lock(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.timers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the watcher without a lock (a single-process database).
    pub fn own(&self) {
        self.owner.store(true, Ordering::SeqCst);
    }

    pub fn is_owner(&self) -> bool {
        self.owner.load(Ordering::SeqCst)
    }

    /// Asks the watcher to re-arm from the database at its next turn.
    pub fn rearm_soon(&self) {
        self.rearm_requested.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Arms an execution another replica started (when this one owns the watcher).
    pub async fn arm_by_id(&self, state: &AppState, id: Uuid) {
        if !self.is_owner() {
            return;
        }
        let Ok(Some(e)) = execution::Entity::find_by_id(id).one(&state.db).await else {
            return;
        };
        if let Ok(slas) =
            super::service::active_for_workflow(&state.db, e.company_id, e.workflow_id).await
        {
            self.arm(&e, &slas);
        }
    }

    /// Arms the deadlines of one running execution.
    pub fn arm(&self, exec: &execution::Model, slas: &[sla::Model]) {
        let each = slas
            .iter()
            .flat_map(|s| [(s, Severity::Warning), (s, Severity::Critical)]);
        self.arm_each(exec, each);
    }

    /// Arms one running execution's deadlines of `(SLA, severity)`, those that apply to it.
    fn arm_each<'a>(
        &self,
        exec: &execution::Model,
        each: impl IntoIterator<Item = (&'a sla::Model, Severity)>,
    ) {
        if !self.is_owner() {
            return;
        }
        let mut t = self.lock();
        let mut earliest_changed = false;
        for (s, sev) in each {
            if !s.is_active
                || s.workflow_id != exec.workflow_id
                || !super::service::applies(s, &exec.input_data)
            {
                continue;
            }
            let d = Deadline {
                at: exec.started_at + Duration::seconds(threshold(s, sev)),
                execution_id: exec.id,
                sla_id: s.id,
                critical: sev == Severity::Critical,
            };
            if t.armed.insert(d) {
                earliest_changed |= t.heap.peek().is_none_or(|Reverse(top)| d.at < top.at);
                t.heap.push(Reverse(d));
            }
        }
        drop(t);
        if earliest_changed {
            self.wake.notify_one();
        }
    }

    /// How many deadlines are armed.
    pub fn armed(&self) -> usize {
        self.lock().armed.len()
    }

    /// Re-arms, for every active SLA and severity, the running executions of its workflow
    /// that have no breach of it yet. Those that have one have nothing left to record: reading
    /// (and firing) them again every turn grew with every execution left running past its
    /// target, and each firing took the writer. Returns how many deadlines it read.
    pub async fn rearm_all(&self, state: &AppState) -> Result<usize, sea_orm::DbErr> {
        let slas = sla::Entity::find()
            .filter(sla::Column::IsActive.eq(true))
            .all(&state.db)
            .await?;
        let mut read = 0;
        for s in &slas {
            for sev in [Severity::Warning, Severity::Critical] {
                let pending = unbreached(&state.db, s, sev).await?;
                read += pending.len();
                for e in &pending {
                    self.arm_each(e, [(s, sev)]);
                }
            }
        }
        Ok(read)
    }

    /// Puts a deadline back on the watcher.
    fn rearm(&self, d: Deadline) {
        let mut t = self.lock();
        if t.armed.insert(d) {
            t.heap.push(Reverse(d));
        }
    }

    /// Takes the deadlines that have passed: strictly before `now`, as `fire_live` compares.
    /// A deadline leaves the watcher only here, and comes back unless its breach is recorded or
    /// there is nothing left to record.
    fn due(&self, now: DateTime<Utc>) -> Vec<Deadline> {
        let mut t = self.lock();
        let mut out = Vec::new();
        while let Some(Reverse(d)) = t.heap.peek().copied() {
            if d.at >= now {
                break;
            }
            t.heap.pop();
            t.armed.remove(&d);
            out.push(d);
        }
        out
    }

    fn next(&self) -> Option<DateTime<Utc>> {
        self.lock().heap.peek().map(|Reverse(d)| d.at)
    }

    /// Fires every deadline that has passed. Returns the number of breaches recorded.
    pub async fn fire_due(&self, state: &AppState) -> usize {
        if !self.is_owner() {
            return 0;
        }
        let now = state.clock.now();
        let mut recorded = 0;
        for d in self.due(now) {
            let sev = if d.critical {
                Severity::Critical
            } else {
                Severity::Warning
            };
            match fire_live(
                &state.writer,
                d.execution_id,
                d.sla_id,
                sev,
                now,
                state.alerting(),
            )
            .await
            {
                Ok(Fired::Recorded(recorded_breach)) => {
                    recorded += 1;
                    let (b, s) = *recorded_breach;
                    super::effects::after_breach(state, &b, &s).await;
                }
                Ok(Fired::Done) => {}
                // The stored start is later than the copy this deadline was armed from.
                Ok(Fired::NotYet(at)) => self.rearm(Deadline { at, ..d }),
                Err(e) => {
                    tracing::warn!(error = %e, execution = %d.execution_id, "recording a live breach failed; retrying in 1 s");
                    self.rearm(Deadline {
                        at: now + Duration::seconds(1),
                        ..d
                    });
                }
            }
        }
        if recorded > 0 {
            state.sla.events_committed(&state.writer).await;
        }
        recorded
    }

    /// Runs the watcher until the task is dropped. On PostgreSQL only the holder of the watcher's
    /// advisory lock runs it; the others wait to take over.
    pub async fn run(self: Arc<Self>, state: Arc<AppState>, rearm_every: std::time::Duration) {
        if state.db.get_database_backend() != DatabaseBackend::Postgres {
            self.owner.store(true, Ordering::SeqCst);
            state.metrics.deadline_watcher_owner.set(1);
            self.run_owned(&state, rearm_every, None).await;
            return;
        }
        let pool = state.db.get_postgres_connection_pool().clone();
        // A dedicated session, out of the pool, tries the lock and holds it once taken: it
        // ends, and frees the lock, with the process. A standby keeps its session between
        // tries (taking a fresh one from the pool every try closed one of the pool's idle
        // connections twice a second, so the event dispatcher beside it had to open new
        // ones, which cost the replica's subscribers 100 to 300 ms an event).
        let mut session: Option<sea_orm::sqlx::PgConnection> = None;
        loop {
            let conn = match session.as_mut() {
                Some(c) => c,
                None => match pool.acquire().await {
                    Ok(c) => session.insert(c.detach()),
                    Err(e) => {
                        tracing::warn!(error = %e, "deadline watcher: no database connection; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            match self.try_own(conn).await {
                Ok(true) => {
                    tracing::info!(instance = %state.instance_id, "this replica now owns the deadline watcher");
                    self.owner.store(true, Ordering::SeqCst);
                    state.metrics.deadline_watcher_owner.set(1);
                    self.run_owned(&state, rearm_every, Some(conn)).await;
                    self.owner.store(false, Ordering::SeqCst);
                    state.metrics.deadline_watcher_owner.set(0);
                    let mut t = self.lock();
                    t.heap.clear();
                    t.armed.clear();
                    session = None;
                    tracing::warn!(
                        "lost the deadline watcher's lock session; trying to take it again"
                    );
                }
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "deadline watcher: taking the lock failed");
                    session = None;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Tries the watcher's advisory lock on `conn`'s session (keyed by schema too, so
    /// databases that hold several schemas keep one watcher each).
    async fn try_own(
        &self,
        conn: &mut sea_orm::sqlx::PgConnection,
    ) -> Result<bool, sea_orm::sqlx::Error> {
        sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
            .bind(super::replicas::WATCHER_LOCK)
            .fetch_one(conn)
            .await
    }

    /// The watcher loop, while this process owns it. With a lock session, returns when that
    /// session stops answering.
    async fn run_owned(
        &self,
        state: &Arc<AppState>,
        rearm_every: std::time::Duration,
        mut lock: Option<&mut sea_orm::sqlx::PgConnection>,
    ) {
        if let Err(e) = self.rearm_all(state).await {
            tracing::warn!(error = %e, "re-arming SLA deadlines at start-up failed");
        }
        let mut last_rearm = tokio::time::Instant::now();
        let mut last_check = tokio::time::Instant::now();
        loop {
            self.fire_due(state).await;
            if let Some(conn) = lock.as_deref_mut()
                && last_check.elapsed() >= std::time::Duration::from_secs(1)
            {
                last_check = tokio::time::Instant::now();
                let alive: Result<i32, _> = sea_orm::sqlx::query_scalar("SELECT 1")
                    .fetch_one(&mut *conn)
                    .await;
                if alive.is_err() {
                    return;
                }
            }
            if self.rearm_requested.swap(false, Ordering::SeqCst)
                || last_rearm.elapsed() >= rearm_every
            {
                if let Err(e) = self.rearm_all(state).await {
                    tracing::warn!(error = %e, "re-arming SLA deadlines failed");
                }
                last_rearm = tokio::time::Instant::now();
            }
            let next = self
                .next()
                .map(|at| at + Duration::milliseconds(1))
                .unwrap_or_else(|| state.clock.now() + Duration::seconds(3600));
            let cap = if lock.is_some() {
                rearm_every.min(std::time::Duration::from_secs(1))
            } else {
                rearm_every
            };
            tokio::select! {
                _ = crate::clock::sleep_until(state.clock.as_ref(), next, cap) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

//! `completeExecution`: an execution finishes, its pauses close, and its SLAs are evaluated.
//!
//! What only the writer can see consistently runs through the group writer; the rest is read
//! beforehand on a reader, beside other requests. On SQLite the writer's part is one command to
//! the writer's thread ([`crate::db::Batch`]): the job's savepoint, the update, the pauses'
//! close and the breaches with what goes with them, all sent at once and checked against what
//! was read first. The batch, the breaches and the additions to the shared rows are built
//! before the completion queues: the writer runs one job at a time, so whatever a job computes
//! there, every completion behind it waits for. When the check fails (a pause or a breach was
//! recorded after the read), the batch is rolled back and the completion is written step by
//! step, as on PostgreSQL.
use super::service::{Completion, duration_ms, not_future};
use crate::AppState;
use crate::auth::AuthContext;
use crate::db::{Batch, Savepoint};
use crate::entity::{breach, execution, sla};
use crate::error::{AppError, AppResult};
use crate::model::ExecutionStatus;
use crate::sla::escalation::Alerting;
use crate::sla::pauses::Held;
use crate::sla::rollups::SharedRows;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryTrait, Statement,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Finishes a running (or paused) execution and evaluates its SLAs. Completing an execution
/// that already finished is a CONFLICT.
pub async fn complete(
    state: &AppState,
    auth: &AuthContext,
    execution_id: Uuid,
    a: Completion,
) -> AppResult<execution::Model> {
    if let Some(c) = a.completed_at {
        not_future(state, "completedAt", c)?;
    }
    let now = state.clock.now();
    let mut read = read_for_completion(&state.db, auth, execution_id).await?;
    let labels = read.workflow.take();
    // Its live breaches get their final figures, each with an event.
    let finalized = !read.existing.is_empty();
    let at = (now, state.alerting());
    let (updated, was_running) = finished(&read.exec, &a, now)?;
    // Built here, beside other requests: the writer runs one job at a time.
    let backend = state.writer.get_database_backend();
    let prepared = prepare(backend, &read, &updated, was_running, at);
    let (updated, slas, new) = state
        .writes
        .write_batched(move |txn, sp| {
            Box::pin(async move {
                let done = match prepared {
                    Some(p) => run_prepared(txn, sp, p).await?,
                    None => None,
                };
                let (done, shared) = match done {
                    Some(done) => done,
                    None => step_by_step(txn, sp, read, updated, was_running, at).await?,
                };
                Ok((done, Some(Box::new(shared) as Box<dyn crate::db::Deferred>)))
            })
        })
        .await?;
    state
        .sla
        .execution_completed(state, &updated, &slas, &new, finalized, labels.as_ref())
        .await;
    Ok(updated)
}

/// What a completion wrote: the execution, its workflow's SLAs and the breaches it recorded.
type Completed = (execution::Model, Vec<sla::Model>, Vec<breach::Model>);

/// What a completion reads before it queues for the writer. None of it can change under it
/// unseen:
/// - the execution's row changes only by its completion, which the update's guard on the
///   status read here refuses to repeat;
/// - an SLA edited meanwhile counts as edited after this completion;
/// - a breach the deadline watcher records meanwhile is met by the completion's own insert
///   (`record_completion`, and the batch's check);
/// - a pause recorded meanwhile (pausing leaves the execution's row as it is) is met by the
///   batch's check: the pauses that its close returns must be these.
struct ReadFirst {
    exec: execution::Model,
    /// All of the workflow's SLAs, active or not (the rollups count every one).
    slas: Vec<sla::Model>,
    times: HashMap<Uuid, crate::sla::sla_time::SlaTime>,
    existing: Vec<breach::Model>,
    /// The execution's pauses, read only where the completion is one batch (SQLite).
    pauses: Option<Vec<Held>>,
    /// Its workflow's labels, for the metrics after the commit.
    workflow: Option<crate::sla::effects::WorkflowLabels>,
}

async fn read_for_completion(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    execution_id: Uuid,
) -> AppResult<ReadFirst> {
    let backend = db.get_database_backend();
    let mut b = Batch::new();
    let joined = b.push(crate::sla::joined::execution_with_slas_statement(
        backend,
        auth,
        execution_id,
    ));
    let pauses = (backend == DatabaseBackend::Sqlite).then(|| {
        b.push(crate::sla::pauses::of_execution_statement(
            backend,
            execution_id,
        ))
    });
    let out = b.run(db).await?;
    let Some(read) = crate::sla::joined::execution_with_slas(&out[joined].rows)? else {
        return Err(AppError::not_found(format!("execution {execution_id}")));
    };
    let crate::sla::joined::ExecutionWithSlas {
        exec,
        slas,
        breaches,
        workflow,
    } = read;
    if !open().contains(&exec.status.as_str()) {
        return Err(AppError::conflict(format!(
            "execution {} is already {}; only a running or paused execution can be completed",
            exec.id,
            exec.status.to_uppercase()
        )));
    }
    let times = crate::sla::sla_time::of_each(db, &slas.iter().collect::<Vec<_>>()).await?;
    let existing = breaches
        .into_iter()
        .filter(|b| slas.iter().any(|s| s.id == b.sla_id && s.is_active))
        .collect();
    Ok(ReadFirst {
        exec,
        slas,
        times,
        existing,
        pauses: pauses
            .map(|i| crate::sla::pauses::held_of(&out[i].rows))
            .transpose()?,
        workflow,
    })
}

/// The statuses a completion finishes.
fn open() -> [&'static str; 2] {
    [
        ExecutionStatus::Running.as_str(),
        ExecutionStatus::Paused.as_str(),
    ]
}

/// The execution as the completion leaves it, and whether it was running (not paused).
fn finished(
    exec: &execution::Model,
    a: &Completion,
    now: DateTime<Utc>,
) -> AppResult<(execution::Model, bool)> {
    let completed_at = a.completed_at.unwrap_or(now);
    let d = duration_ms(exec.started_at, completed_at)?;
    let status: ExecutionStatus = a.status.into();
    let was_running =
        exec.status == ExecutionStatus::Running.as_str() && exec.completed_at.is_none();
    let updated = execution::Model {
        status: status.as_str().into(),
        completed_at: Some(completed_at),
        duration_ms: Some(d),
        error: a.error.clone(),
        updated_at: now,
        ..exec.clone()
    };
    Ok((updated, was_running))
}

/// The update that finishes the execution, guarded by the status `was` that the completion
/// read: it changes no row when the execution was completed meanwhile.
fn update_statement(backend: DatabaseBackend, was: &str, to: &execution::Model) -> Statement {
    execution::Entity::update_many()
        .col_expr(execution::Column::Status, Expr::value(to.status.clone()))
        .col_expr(execution::Column::CompletedAt, Expr::value(to.completed_at))
        .col_expr(execution::Column::DurationMs, Expr::value(to.duration_ms))
        .col_expr(execution::Column::Error, Expr::value(to.error.clone()))
        .col_expr(execution::Column::UpdatedAt, Expr::value(to.updated_at))
        .filter(execution::Column::Id.eq(to.id))
        .filter(execution::Column::Status.eq(was))
        .build(backend)
}

fn completed_concurrently(id: Uuid) -> AppError {
    AppError::conflict(format!("execution {id} was completed concurrently"))
}

/// The completion written step by step, in the writer's transaction.
async fn step_by_step(
    txn: &DatabaseTransaction,
    sp: &Savepoint,
    read: ReadFirst,
    updated: execution::Model,
    was_running: bool,
    at: (DateTime<Utc>, Alerting),
) -> AppResult<(Completed, SharedRows)> {
    sp.open(txn).await?;
    let backend = txn.get_database_backend();
    let res = txn
        .execute_raw(update_statement(backend, &read.exec.status, &updated))
        .await?;
    if res.rows_affected() == 0 {
        return Err(completed_concurrently(updated.id));
    }
    let done_at = updated.completed_at.unwrap_or(at.0);
    let pauses = crate::sla::pauses::close_open(txn, updated.id, done_at).await?;
    let slas = active(&read.slas);
    let facts = crate::sla::service::CompletionFacts {
        times: read.times.clone(),
        pauses: pauses.clone(),
        existing: read.existing.clone(),
    };
    let secs = seconds(&updated);
    let new = crate::sla::service::record_completion(txn, &slas, &updated, secs, at, facts).await?;
    let shared = shared_rows(&read, &updated, &pauses, was_running);
    Ok(((updated, slas, new), shared))
}

fn active(all: &[sla::Model]) -> Vec<sla::Model> {
    all.iter().filter(|s| s.is_active).cloned().collect()
}

fn seconds(updated: &execution::Model) -> f64 {
    updated.duration_ms.unwrap_or(0) as f64 / 1000.0
}

/// The pauses as the completion's close leaves them: the open ones end at `at`.
fn closed_at(pauses: &[Held], at: DateTime<Utc>) -> Vec<Held> {
    pauses
        .iter()
        .map(|(sla, (from, to))| (*sla, (*from, Some(to.unwrap_or(at)))))
        .collect()
}

/// A completion as one batch, built before it queues (SQLite, with the pauses read first):
/// the update, the pauses' close and the breaches with their counts, outbox rows and events;
/// what the close must return, and what the completion then wrote.
struct Prepared {
    batch: Batch,
    update: usize,
    close: usize,
    offset: usize,
    breaches: crate::sla::service::BatchedBreaches,
    expected: Vec<Held>,
    updated: execution::Model,
    slas: Vec<sla::Model>,
    shared: SharedRows,
}

/// The completion's [`Prepared`] batch; None when it must be written step by step: it has
/// breaches to bring up to date, or its pauses were not read.
fn prepare(
    backend: DatabaseBackend,
    read: &ReadFirst,
    updated: &execution::Model,
    was_running: bool,
    at: (DateTime<Utc>, Alerting),
) -> Option<Prepared> {
    let (pauses, done_at) = (read.pauses.as_ref()?, updated.completed_at?);
    let expected = closed_at(pauses, done_at);
    let slas = active(&read.slas);
    let facts = crate::sla::service::CompletionFacts {
        times: read.times.clone(),
        pauses: expected.clone(),
        existing: read.existing.clone(),
    };
    let mut tail = Batch::new();
    let secs = seconds(updated);
    let breaches =
        crate::sla::service::batch_completion(&mut tail, backend, &slas, updated, secs, at, facts)?;
    let mut batch = Batch::new();
    let update = batch.push(update_statement(backend, &read.exec.status, updated));
    let close = batch.push(crate::sla::pauses::close_open_statement(
        backend, updated.id, done_at,
    ));
    let offset = batch.append(tail);
    Some(Prepared {
        batch,
        update,
        close,
        offset,
        breaches,
        shared: shared_rows(read, updated, &expected, was_running),
        expected,
        updated: updated.clone(),
        slas,
    })
}

/// Sends a [`Prepared`] batch after the job's savepoint, in one command, and checks it against
/// what was read. None when it met something the read did not see (a pause, or a breach
/// recorded meanwhile, which fails its events' reference): the batch is undone, to be written
/// step by step.
async fn run_prepared(
    txn: &DatabaseTransaction,
    sp: &Savepoint,
    p: Prepared,
) -> AppResult<Option<(Completed, SharedRows)>> {
    let new = match p.batch.run_after(sp.take_opening(), txn).await {
        Ok(out) if out[p.update].changed == 0 => {
            return Err(completed_concurrently(p.updated.id));
        }
        Ok(out) => match crate::sla::pauses::held_of(&out[p.close].rows)? == p.expected {
            true => p.breaches.recorded(&out[p.offset..])?,
            false => None,
        },
        Err(e) => {
            tracing::debug!(error = %e, "a completion's batch failed; writing it step by step");
            None
        }
    };
    let Some(new) = new else {
        txn.execute_unprepared(&crate::db::batch::undo_sql())
            .await?;
        return Ok(None);
    };
    Ok(Some(((p.updated, p.slas, new), p.shared)))
}

/// A completion's additions to the rows that every completion of the workflow shares (its
/// rollups and running counts). These are written last, at the end of the transaction (on
/// SQLite, once for the whole write group): on PostgreSQL they stay locked only until the
/// commit, taken in the order every writer takes them (the lock order in `sla`'s module doc).
fn shared_rows(
    read: &ReadFirst,
    updated: &execution::Model,
    pauses: &[Held],
    was_running: bool,
) -> SharedRows {
    let every: Vec<_> = read.slas.iter().collect();
    let (completed_at, d) = (
        updated.completed_at.unwrap_or(updated.updated_at),
        updated.duration_ms.unwrap_or(0),
    );
    let done = std::iter::once((updated.id, updated.started_at, completed_at, d));
    let facts = crate::sla::rollups::Facts {
        times: read.times.clone(),
        pauses: HashMap::from([(updated.id, pauses.to_vec())]),
        inputs: HashMap::from([(updated.id, updated.input_data.clone())]),
    };
    let key = (updated.workflow_id, updated.company_id, updated.started_at);
    SharedRows {
        rollups: crate::sla::rollups::rows(&every, done, &facts),
        running: crate::sla::running::rows(was_running.then_some(key), -1),
    }
}

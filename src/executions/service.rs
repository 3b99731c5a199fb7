//! The reporting API: host engines report executions starting, their steps, and finishing.
//! Completion evaluates SLAs; completed steps update the catalog's runtime statistics.
use crate::AppState;
use crate::auth::AuthContext;
use crate::entity::{action, execution, step_execution, workflow};
use crate::error::{AppError, AppResult};
use crate::model::{ApprovalDecision, ExecutionStatus, FinalStatus, StepRunStatus};
use crate::sla::escalation::Alerting;
use crate::sla::service::{active_for_workflow, evaluate_completion, for_workflow};
use crate::tenancy;
use crate::workflows::steps::parse_steps;
use async_graphql::InputObject;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub use super::completion::complete;

/// Most executions one `importExecutions` call takes.
pub const MAX_IMPORT: usize = 10_000;

fn check_external_id(x: &str) -> AppResult<()> {
    if x.trim().is_empty() || x.len() > 255 {
        return Err(AppError::bad("externalId must be 1 to 255 characters"));
    }
    Ok(())
}

/// Refuses a reported time later than now plus CLOCK_SKEW_SECONDS: a completion cannot lie in
/// the future, and a start in the future would make every duration and deadline wrong.
pub(super) fn not_future(state: &AppState, field: &str, t: DateTime<Utc>) -> AppResult<()> {
    let now = state.clock.now();
    let skew = chrono::Duration::seconds(state.config.clock_skew_seconds as i64);
    if t > now + skew {
        return Err(AppError::bad(format!(
            "{field} {} is in the future (the server's time is {}; at most {} s ahead is \
             accepted, setting CLOCK_SKEW_SECONDS)",
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            skew.num_seconds()
        )));
    }
    Ok(())
}

/// An execution starting (`startExecution`, without its workflow).
#[derive(InputObject)]
#[graphql(name = "ExecutionStartInput")]
pub struct Start {
    #[graphql(default_with = "serde_json::json!({})")]
    pub input_data: Value,
    /// Defaults to now.
    pub started_at: Option<DateTime<Utc>>,
    /// The host engine's id; starting again with a known one returns the existing execution.
    pub external_id: Option<String>,
}

/// Starts an execution (idempotent by `externalId`: a known one returns the existing row).
pub async fn start(
    state: &AppState,
    auth: &AuthContext,
    workflow_id: Uuid,
    a: Start,
) -> AppResult<execution::Model> {
    let db = &state.db;
    if let Some(t) = a.started_at {
        not_future(state, "startedAt", t)?;
    }
    let wf = tenancy::get::<workflow::Entity>(db, auth, workflow_id).await?;
    if let Some(x) = &a.external_id {
        check_external_id(x)?;
        if let Some(existing) = tenancy::scoped::<execution::Entity>(auth)
            .filter(execution::Column::ExternalId.eq(x.as_str()))
            .one(db)
            .await?
        {
            if existing.workflow_id != wf.id {
                return Err(AppError::conflict(format!(
                    "externalId {x:?} belongs to an execution of another workflow"
                )));
            }
            return Ok(existing);
        }
    }
    let now = state.clock.now();
    let m = execution::Model {
        id: Uuid::now_v7(),
        company_id: auth.company_id,
        workflow_id: wf.id,
        workflow_version: Some(wf.version),
        external_id: a.external_id,
        status: ExecutionStatus::Running.as_str().into(),
        input_data: a.input_data,
        started_at: a.started_at.unwrap_or(now),
        completed_at: None,
        duration_ms: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    let am: execution::ActiveModel = m.clone().into();
    let key = (m.workflow_id, m.company_id, m.started_at);
    // The running count is a row that every start and completion of the workflow shares:
    // added to at the end of the write (on SQLite once for the whole write group).
    let running = crate::sla::rollups::SharedRows {
        running: crate::sla::running::rows([key], 1),
        ..Default::default()
    };
    state
        .writes
        .write_deferring(move |txn| {
            Box::pin(async move {
                execution::Entity::insert(am)
                    .exec_without_returning(txn)
                    .await?;
                Ok(((), Some(Box::new(running) as Box<dyn crate::db::Deferred>)))
            })
        })
        .await?;
    let slas = active_for_workflow(db, auth.company_id, wf.id).await?;
    state.sla.execution_started(db, &m, &slas).await?;
    Ok(m)
}

/// One step run as a host engine reports it: live through `recordStep`, or as history in
/// `importExecutions` and `import-log`.
#[derive(InputObject)]
#[graphql(name = "ImportStepInput")]
pub struct StepRun {
    pub step_name: String,
    pub status: StepRunStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub approver: Option<String>,
    pub decision: Option<ApprovalDecision>,
    pub error: Option<String>,
    /// Set by a log import when the log recorded only the completion (the start is the case's
    /// previous event); clients always report the start they saw.
    #[graphql(skip)]
    pub start_inferred: bool,
}

/// Adds `n` runs (`ok` of them successful, `sum_ms` in total) to an action's statistics in one
/// atomic update.
pub async fn bump_action_stats(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    action_type: &str,
    n: i64,
    ok: i64,
    sum_ms: f64,
) -> AppResult<()> {
    use action::Column as C;
    let count = Expr::col(C::ExecutionCount);
    action::Entity::update_many()
        .col_expr(C::ExecutionCount, count.clone().add(n))
        .col_expr(C::SuccessCount, Expr::col(C::SuccessCount).add(ok))
        .col_expr(
            C::AvgExecutionTimeMs,
            Expr::col(C::AvgExecutionTimeMs)
                .mul(count.clone())
                .add(sum_ms)
                .div(count.clone().add(n)),
        )
        .col_expr(
            C::SuccessRate,
            Expr::col(C::SuccessCount)
                .add(ok)
                .mul(1.0f64)
                .div(count.add(n)),
        )
        .filter(C::CompanyId.eq(company_id))
        .filter(C::ActionType.eq(action_type))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) fn duration_ms(start: DateTime<Utc>, end: DateTime<Utc>) -> AppResult<i64> {
    let d = (end - start).num_milliseconds();
    if d < 0 {
        return Err(AppError::bad("completedAt must not be before startedAt"));
    }
    Ok(d)
}

/// Where a step of the workflow sits, and its action.
fn step_info(wf: &workflow::Model, name: &str) -> (Option<i32>, Option<String>) {
    parse_steps(&wf.steps)
        .ok()
        .and_then(|steps| {
            steps
                .iter()
                .position(|s| s.name == name)
                .map(|i| (Some(i as i32), Some(steps[i].action.clone())))
        })
        .unwrap_or((None, None))
}

pub async fn record_step(
    state: &AppState,
    auth: &AuthContext,
    execution_id: Uuid,
    a: StepRun,
) -> AppResult<step_execution::Model> {
    let db = &state.db;
    let exec = tenancy::get::<execution::Entity>(db, auth, execution_id).await?;
    if a.step_name.trim().is_empty() {
        return Err(AppError::bad("stepName must not be empty"));
    }
    if a.decision.is_some() && a.approver.is_none() {
        return Err(AppError::bad("a decision needs the approver who made it"));
    }
    not_future(state, "startedAt", a.started_at)?;
    let duration = match a.completed_at {
        Some(c) => {
            not_future(state, "completedAt", c)?;
            Some(duration_ms(a.started_at, c)?)
        }
        None => None,
    };
    let wf = tenancy::get::<workflow::Entity>(db, auth, exec.workflow_id).await?;
    let m = step_row(
        &wf,
        auth.company_id,
        exec.id,
        &a,
        duration,
        state.clock.now(),
    );
    let action_type = m.action_type.clone();
    let txn = crate::db::begin_write(&state.writer).await?;
    let am: step_execution::ActiveModel = m.clone().into();
    step_execution::Entity::insert(am)
        .exec_without_returning(&txn)
        .await?;
    let finished = matches!(a.status, StepRunStatus::Completed | StepRunStatus::Failed);
    if let (true, Some(t), Some(d)) = (finished, &action_type, duration) {
        let ok = (a.status == StepRunStatus::Completed) as i64;
        bump_action_stats(&txn, auth.company_id, t, 1, ok, d as f64).await?;
    }
    // The SLAs' pause conditions see the step; a pause that ends moves the deadlines.
    let slas = match exec.status == ExecutionStatus::Running.as_str() {
        true => active_for_workflow(&txn, exec.company_id, exec.workflow_id).await?,
        false => Vec::new(),
    };
    let moved = crate::sla::pauses::on_step(&txn, &exec, &slas, &m, state.clock.now()).await?;
    txn.commit().await?;
    if moved {
        state.sla.execution_started(&state.db, &exec, &slas).await?;
    }
    if let (true, Some(t), Some(d)) = (finished, &action_type, duration) {
        crate::catalog::metrics::record_run(state, auth.company_id, t, d).await;
    }
    Ok(m)
}

/// How an execution ended (`completeExecution`, without the execution).
#[derive(InputObject)]
#[graphql(name = "CompletionInput")]
pub struct Completion {
    pub status: FinalStatus,
    /// Defaults to now.
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// The stored row of one reported step run, `duration_ms` already checked.
fn step_row(
    wf: &workflow::Model,
    company_id: Uuid,
    execution_id: Uuid,
    s: &StepRun,
    duration_ms: Option<i64>,
    now: DateTime<Utc>,
) -> step_execution::Model {
    let (step_index, action_type) = step_info(wf, &s.step_name);
    step_execution::Model {
        id: Uuid::now_v7(),
        company_id,
        execution_id,
        step_index,
        step_name: s.step_name.clone(),
        action_type,
        status: s.status.as_str().into(),
        started_at: s.started_at,
        completed_at: s.completed_at,
        duration_ms,
        start_inferred: s.start_inferred,
        approver: s.approver.clone(),
        decision: s.decision.map(|d| d.as_str().to_string()),
        error: s.error.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// One execution of history to import, into the workflow `workflow_id`.
pub struct ImportExecution {
    pub workflow_id: Uuid,
    pub record: ExecutionRecord,
}

/// An execution as history recorded it, with its steps.
#[derive(InputObject)]
#[graphql(name = "ExecutionRecordInput")]
pub struct ExecutionRecord {
    pub external_id: String,
    #[graphql(default_with = "serde_json::json!({})")]
    pub input_data: Value,
    pub status: ExecutionStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    #[graphql(default)]
    pub steps: Vec<StepRun>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: usize,
    pub breaches: usize,
}

/// Imports history in one transaction, idempotent by `externalId`. Finished executions are
/// evaluated against SLAs (breaches are recorded, but history pages nobody: no alert email);
/// running ones are armed on the deadline watcher.
pub async fn import(
    state: &AppState,
    auth: &AuthContext,
    items: Vec<ImportExecution>,
) -> AppResult<ImportReport> {
    import_into(&state.writer, state, auth.company_id, items).await
}

/// Checks a batch before anything is written: sizes, ids, statuses, and times (in order, and
/// not in the future).
fn check_import(state: &AppState, items: &[ImportExecution]) -> AppResult<()> {
    if items.len() > MAX_IMPORT {
        return Err(AppError::bad(format!(
            "at most {MAX_IMPORT} executions per call, got {}",
            items.len()
        )));
    }
    let mut seen = HashSet::new();
    for (i, it) in items.iter().map(|x| &x.record).enumerate() {
        let at = |e: AppError| AppError::bad(format!("executions[{i}]: {e}"));
        check_external_id(&it.external_id).map_err(at)?;
        if !seen.insert(it.external_id.as_str()) {
            return Err(at(AppError::bad(format!(
                "externalId {:?} appears twice",
                it.external_id
            ))));
        }
        let finished =
            it.status != ExecutionStatus::Running && it.status != ExecutionStatus::Paused;
        match (finished, it.completed_at) {
            (true, None) => {
                let m = format!("a {} execution needs completedAt", it.status);
                return Err(at(AppError::bad(m)));
            }
            (false, Some(_)) => {
                let m = format!("a {} execution has no completedAt", it.status);
                return Err(at(AppError::bad(m)));
            }
            (_, Some(c)) => check_span(state, it.started_at, c).map_err(at)?,
            (_, None) => not_future(state, "startedAt", it.started_at).map_err(at)?,
        }
        for (j, s) in it.steps.iter().enumerate() {
            let at = |e: AppError| AppError::bad(format!("executions[{i}].steps[{j}]: {e}"));
            match s.completed_at {
                Some(c) => check_span(state, s.started_at, c).map_err(at)?,
                None => not_future(state, "startedAt", s.started_at).map_err(at)?,
            }
        }
    }
    Ok(())
}

/// A start and a completion: in order, and neither in the future.
fn check_span(state: &AppState, start: DateTime<Utc>, end: DateTime<Utc>) -> AppResult<()> {
    if end < start {
        return Err(AppError::bad("completedAt is before startedAt"));
    }
    not_future(state, "startedAt", start)?;
    not_future(state, "completedAt", end)
}

/// The company's workflows that the batch names; NOT_FOUND for any other.
async fn import_workflows(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    items: &[ImportExecution],
) -> AppResult<HashMap<Uuid, workflow::Model>> {
    let wf_ids: HashSet<Uuid> = items.iter().map(|i| i.workflow_id).collect();
    let wfs: HashMap<Uuid, workflow::Model> = workflow::Entity::find()
        .filter(workflow::Column::CompanyId.eq(company_id))
        .filter(workflow::Column::Id.is_in(wf_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    if let Some(missing) = wf_ids.iter().find(|w| !wfs.contains_key(w)) {
        return Err(AppError::not_found(format!("workflow {missing}")));
    }
    Ok(wfs)
}

/// The batch's external ids that the company already has.
async fn known_external_ids(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    items: &[ImportExecution],
) -> AppResult<HashSet<String>> {
    let mut existing = HashSet::new();
    for chunk in items.chunks(500) {
        let found: Vec<Option<String>> = execution::Entity::find()
            .select_only()
            .column(execution::Column::ExternalId)
            .filter(execution::Column::CompanyId.eq(company_id))
            .filter(
                execution::Column::ExternalId
                    .is_in(chunk.iter().map(|i| i.record.external_id.clone())),
            )
            .into_tuple()
            .all(db)
            .await?;
        existing.extend(found.into_iter().flatten());
    }
    Ok(existing)
}

/// The rows an import writes, and the action statistics it adds: runs, successes, total ms.
#[derive(Default)]
struct Staged {
    executions: Vec<execution::ActiveModel>,
    steps: Vec<step_execution::ActiveModel>,
    stats: HashMap<String, (i64, i64, f64)>,
    running: Vec<execution::Model>,
    finished: Vec<execution::Model>,
}

impl Staged {
    /// Adds one execution and its steps.
    fn add(
        &mut self,
        wf: &workflow::Model,
        company_id: Uuid,
        it: ImportExecution,
        now: DateTime<Utc>,
    ) {
        let (workflow_id, it) = (it.workflow_id, it.record);
        let id = Uuid::now_v7();
        for s in &it.steps {
            self.add_step(wf, company_id, id, s, now);
        }
        let d = it
            .completed_at
            .map(|c| (c - it.started_at).num_milliseconds());
        let m = execution::Model {
            id,
            company_id,
            workflow_id,
            workflow_version: Some(wf.version),
            external_id: Some(it.external_id),
            status: it.status.as_str().into(),
            input_data: it.input_data,
            started_at: it.started_at,
            completed_at: it.completed_at,
            duration_ms: d,
            error: it.error,
            created_at: now,
            updated_at: now,
        };
        self.executions
            .push(execution::ActiveModel::from(m.clone()));
        match d {
            Some(_) => self.finished.push(m),
            None => self.running.push(m),
        }
    }

    fn add_step(
        &mut self,
        wf: &workflow::Model,
        company_id: Uuid,
        execution_id: Uuid,
        s: &StepRun,
        now: DateTime<Utc>,
    ) {
        let sd = s
            .completed_at
            .map(|c| (c - s.started_at).num_milliseconds());
        let m = step_row(wf, company_id, execution_id, s, sd, now);
        let counted = matches!(s.status, StepRunStatus::Completed | StepRunStatus::Failed);
        if let (Some(t), Some(sd), true) = (&m.action_type, sd, counted) {
            let e = self.stats.entry(t.clone()).or_default();
            e.0 += 1;
            e.1 += (s.status == StepRunStatus::Completed) as i64;
            e.2 += sd as f64;
        }
        self.steps.push(m.into());
    }
}

/// The import itself, for the GraphQL mutation and the `import-log` command alike: one
/// transaction (a savepoint when `db` is already one).
pub async fn import_into(
    db: &(impl ConnectionTrait + TransactionTrait),
    state: &AppState,
    company_id: Uuid,
    items: Vec<ImportExecution>,
) -> AppResult<ImportReport> {
    // On the imports' own shard of the counters, one import at a time (`sla::shards`).
    crate::sla::shards::for_imports(import_sharded(db, state, company_id, items)).await
}

async fn import_sharded(
    db: &(impl ConnectionTrait + TransactionTrait),
    state: &AppState,
    company_id: Uuid,
    items: Vec<ImportExecution>,
) -> AppResult<ImportReport> {
    check_import(state, &items)?;
    let wfs = import_workflows(db, company_id, &items).await?;
    let now = state.clock.now();
    let txn = crate::db::begin_write(db).await?;
    crate::sla::shards::lock_imports(&txn).await?;
    let existing = known_external_ids(&txn, company_id, &items).await?;
    let mut all_by_wf = HashMap::new();
    for w in wfs.keys() {
        all_by_wf.insert(*w, for_workflow(&txn, company_id, *w).await?);
    }
    let slas_by_wf: HashMap<Uuid, Vec<_>> = all_by_wf
        .iter()
        .map(|(w, all)| (*w, all.iter().filter(|s| s.is_active).cloned().collect()))
        .collect();
    let mut report = ImportReport::default();
    let mut staged = Staged::default();
    for it in items {
        if existing.contains(&it.record.external_id) {
            report.skipped += 1;
            continue;
        }
        staged.add(&wfs[&it.workflow_id], company_id, it, now);
        report.imported += 1;
    }
    for chunk in chunked(std::mem::take(&mut staged.executions), 400) {
        execution::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in chunked(std::mem::take(&mut staged.steps), 400) {
        step_execution::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    for (t, (n, ok, sum)) in &staged.stats {
        bump_action_stats(&txn, company_id, t, *n, *ok, *sum).await?;
    }
    for e in &staged.finished {
        let slas = &slas_by_wf[&e.workflow_id];
        let d = e.duration_ms.unwrap_or_default() as f64 / 1000.0;
        report.breaches += evaluate_completion(&txn, slas, e, d, now, Alerting::NONE, false)
            .await?
            .len();
    }
    // Rollups, then running counts, as a completion takes them (the lock order in `sla`'s
    // module doc).
    for (w, all) in &all_by_wf {
        let done = staged.finished.iter().filter(|e| e.workflow_id == *w);
        let done = done.filter_map(|e| Some((e.id, e.started_at, e.completed_at?, e.duration_ms?)));
        crate::sla::rollups::add(&txn, &all.iter().collect::<Vec<_>>(), done).await?;
    }
    let running = staged.running.iter();
    let running = running.filter(|e| e.status == ExecutionStatus::Running.as_str());
    crate::sla::running::add(
        &txn,
        running.map(|e| (e.workflow_id, e.company_id, e.started_at)),
        1,
    )
    .await?;
    txn.commit().await?;
    let running = staged.running.iter();
    state
        .sla
        .executions_finished(
            &state.writer,
            running.map(|e| (e, slas_by_wf[&e.workflow_id].as_slice())),
            report.breaches,
        )
        .await;
    Ok(report)
}

fn chunked<T>(v: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut it = v.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(n).collect());
    }
    out
}

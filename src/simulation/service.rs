//! Loads what a simulation reads (read only), runs the pure engine off the async reactor, and
//! stores the one Simulation row.
use super::engine::{self, CatalogEntry, Limits, Outcome, SlaTarget, StepHistory};
use super::forecast::{Model, Replay};
use super::holdout;
use crate::AppState;
use crate::auth::AuthContext;
use crate::entity::{action, execution, simulation, sla, step_execution};
use crate::error::{AppError, AppResult};
use crate::model::{ApprovalDecision, LatencyClass, StepRunStatus};
use crate::tenancy;
use crate::workflows::conformance;
use crate::workflows::steps::{GATEWAY, action_types};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use uuid::Uuid;

pub struct SimulateArgs {
    pub workflow_id: Uuid,
    /// A version of the workflow's definition; the current one when None.
    pub version: Option<i32>,
    pub input_data: Value,
    pub decisions: HashMap<String, ApprovalDecision>,
    pub fail_steps: HashSet<String>,
    /// Runs and seed of a Monte Carlo forecast.
    pub forecast: Option<(u32, u64)>,
}

/// How many recent step durations feed the history percentiles.
const HISTORY_SAMPLES: u64 = 20_000;

/// Each step's recorded durations (p50, p95 and all of them) for one workflow, and how often
/// its runs ended the case: a rejection or a failure.
pub async fn step_history(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Uuid,
) -> AppResult<HashMap<String, StepHistory>> {
    let exec_ids = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .filter(execution::Column::CompanyId.eq(company_id))
        .filter(execution::Column::WorkflowId.eq(workflow_id))
        .into_query();
    type Row = (String, Option<i64>, String, Option<String>);
    let rows: Vec<Row> = step_execution::Entity::find()
        .select_only()
        .column(step_execution::Column::StepName)
        .column(step_execution::Column::DurationMs)
        .column(step_execution::Column::Status)
        .column(step_execution::Column::Decision)
        .filter(step_execution::Column::CompanyId.eq(company_id))
        .filter(step_execution::Column::ExecutionId.in_subquery(exec_ids))
        .filter(step_execution::Column::DurationMs.is_not_null())
        .order_by_desc(step_execution::Column::StartedAt)
        .limit(HISTORY_SAMPLES)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_step: HashMap<String, (Vec<i64>, usize)> = HashMap::new();
    for (name, d, status, decision) in rows {
        if let Some(d) = d {
            let e = by_step.entry(name).or_default();
            e.0.push(d);
            e.1 += (status == StepRunStatus::Failed.as_str()
                || decision.as_deref() == Some(ApprovalDecision::Rejected.as_str()))
                as usize;
        }
    }
    Ok(by_step
        .into_iter()
        .map(|(name, (v, ended))| (name, StepHistory::of(v, ended)))
        .collect())
}

/// The catalog entries of the actions the steps name.
async fn load_catalog(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    steps: &Value,
) -> AppResult<HashMap<String, CatalogEntry>> {
    let types = action_types(steps);
    let actions = action::Entity::find()
        .filter(action::Column::CompanyId.eq(auth.company_id))
        .filter(action::Column::ActionType.is_in(types))
        .all(db)
        .await?;
    Ok(actions
        .into_iter()
        .map(|a| {
            let entry = CatalogEntry {
                latency_class: LatencyClass::parse(&a.latency_class)
                    .unwrap_or(LatencyClass::Medium),
                avg_execution_time_ms: a.avg_execution_time_ms,
                execution_count: a.execution_count,
                is_idempotent: a.is_idempotent,
                side_effects: serde_json::from_value(a.side_effects).unwrap_or_default(),
                input_schema: a.input_schema,
            };
            (a.action_type, entry)
        })
        .collect())
}

/// How many runs per case a replay makes unless asked otherwise, and how many cases at most.
pub const REPLAY_RUNS: u32 = 32;
pub const REPLAY_MAX_CASES: u64 = 100_000;

/// Replays the workflow's completed executions (the most recent `limit`) through its current
/// definition: predicted against actual durations.
pub async fn replay(
    state: &AppState,
    auth: &AuthContext,
    workflow_id: Uuid,
    runs: u32,
    seed: u64,
    limit: u64,
) -> AppResult<Replay> {
    let db = &state.db;
    let wf = tenancy::get::<crate::entity::workflow::Entity>(db, auth, workflow_id).await?;
    let compiled = crate::workflows::steps::compile(&wf.steps)
        .map_err(|e| AppError::bad(format!("the workflow's steps are invalid: {e}")))?;
    let catalog = load_catalog(db, auth, &wf.steps).await?;
    let history = step_history(db, auth.company_id, wf.id).await?;
    type Row = (Uuid, Value, DateTime<Utc>, Option<DateTime<Utc>>);
    let rows: Vec<Row> = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .column(execution::Column::InputData)
        .column(execution::Column::StartedAt)
        .column(execution::Column::CompletedAt)
        .filter(execution::Column::CompanyId.eq(auth.company_id))
        .filter(execution::Column::WorkflowId.eq(wf.id))
        .filter(execution::Column::CompletedAt.is_not_null())
        .order_by_desc(execution::Column::StartedAt)
        .limit(limit.min(REPLAY_MAX_CASES))
        .into_tuple()
        .all(db)
        .await?;
    let mut steps = case_steps(db, auth.company_id, rows.iter().map(|r| r.0)).await?;
    // Oldest first, for the out-of-sample split.
    let held: Vec<holdout::Case> = rows
        .into_iter()
        .rev()
        .filter_map(|(id, input, start, end)| {
            Some(holdout::Case {
                input,
                duration_ms: (end? - start).num_milliseconds(),
                steps: steps.remove(&id).unwrap_or_default(),
            })
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let fallback = |i: usize| {
            let s = &compiled.steps[i];
            engine::fallback_ms(&s.name, &s.action, &catalog, &history)
        };
        let model = Model {
            compiled: &compiled,
            history: &history,
            fallback: &fallback,
        };
        let cases: Vec<(Value, i64)> = held
            .iter()
            .map(|c| (c.input.clone(), c.duration_ms))
            .collect();
        let mut r = model.replay(&cases, runs, seed);
        r.out_of_sample = Some(holdout::holdout(&compiled, &held, &fallback, runs, seed));
        r
    })
    .await
    .map_err(|e| AppError::Internal(format!("replay task: {e}")))
}

/// Each execution's step runs in start order: name, duration, and whether the run ended the
/// case (a failure or a rejection).
async fn case_steps(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, Vec<(String, Option<i64>, bool)>>> {
    type Row = (Uuid, String, Option<i64>, String, Option<String>);
    let ids: Vec<Uuid> = ids.collect();
    let mut out: HashMap<Uuid, Vec<(String, Option<i64>, bool)>> = HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows: Vec<Row> = step_execution::Entity::find()
            .select_only()
            .column(step_execution::Column::ExecutionId)
            .column(step_execution::Column::StepName)
            .column(step_execution::Column::DurationMs)
            .column(step_execution::Column::Status)
            .column(step_execution::Column::Decision)
            .filter(step_execution::Column::CompanyId.eq(company_id))
            .filter(step_execution::Column::ExecutionId.is_in(chunk.iter().copied()))
            .filter(step_execution::Column::Status.ne(StepRunStatus::Skipped.as_str()))
            .order_by_asc(step_execution::Column::StartedAt)
            .order_by_asc(step_execution::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        for (e, name, d, status, decision) in rows {
            let ended = status == StepRunStatus::Failed.as_str()
                || decision.as_deref() == Some(ApprovalDecision::Rejected.as_str());
            out.entry(e).or_default().push((name, d, ended));
        }
    }
    Ok(out)
}

/// Runs the engine on the workflow (or the version asked for) and the company's catalog,
/// history and SLAs; stores nothing.
async fn run(
    state: &AppState,
    auth: &AuthContext,
    args: &SimulateArgs,
) -> AppResult<(crate::entity::workflow::Model, Outcome)> {
    let db = &state.db;
    let mut wf =
        tenancy::get::<crate::entity::workflow::Entity>(db, auth, args.workflow_id).await?;
    if let Some(v) = args.version {
        let old = crate::workflows::versions::get(db, auth, wf.id, v).await?;
        (wf.steps, wf.input_schema, wf.version) = (old.steps, old.input_schema, old.version);
    }
    if !args.input_data.is_object() {
        return Err(AppError::bad("inputData must be a JSON object"));
    }
    let names: HashSet<String> = crate::workflows::steps::step_names(&wf.steps)
        .into_iter()
        .collect();
    for n in args.decisions.keys().chain(args.fail_steps.iter()) {
        if !names.contains(n) {
            return Err(AppError::bad(format!(
                "{n:?} is not a step of this workflow"
            )));
        }
    }
    let catalog = load_catalog(db, auth, &wf.steps).await?;
    let history = step_history(db, auth.company_id, wf.id).await?;
    let slas: Vec<SlaTarget> = sla::Entity::find()
        .filter(sla::Column::CompanyId.eq(auth.company_id))
        .filter(sla::Column::WorkflowId.eq(wf.id))
        .filter(sla::Column::IsActive.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter(|s| crate::sla::service::applies(s, &args.input_data))
        .map(|s| SlaTarget {
            name: s.name,
            target_seconds: s.target_duration_seconds,
        })
        .collect();

    let steps = wf.steps.clone();
    let input_schema = wf.input_schema.clone();
    let input = args.input_data.clone();
    let (decisions, fail_steps, forecast) = (
        args.decisions.clone(),
        args.fail_steps.clone(),
        args.forecast,
    );
    let known = !history.is_empty();
    let mut outcome: Outcome = tokio::task::spawn_blocking(move || {
        engine::simulate(&engine::Request {
            steps: &steps,
            input: &input,
            input_schema: input_schema.as_ref(),
            catalog: &catalog,
            history: &history,
            slas: &slas,
            decisions: &decisions,
            fail_steps: &fail_steps,
            limits: Limits::default(),
            forecast,
        })
    })
    .await
    .map_err(|e| AppError::Internal(format!("simulation task: {e}")))?;
    if known {
        let seen = conformance::sequences(db, auth.company_id, wf.id, PATH_CHECK_CASES).await?;
        if outcome.status == engine::SimulationStatus::Succeeded {
            outcome.warnings.extend(unseen_path(&outcome, &seen));
        }
        outcome.warnings.extend(loose_model(&wf.steps, seen).await?);
    }
    Ok((wf, outcome))
}

/// How many of the newest completed executions a simulation's path is looked for in, and its
/// model's precision measured on.
const PATH_CHECK_CASES: u64 = 5_000;

/// A warning when the steps allow far more than the history shows (escaping-edges precision
/// under `conformance::LOW_PRECISION` on the newest executions).
async fn loose_model(
    steps: &Value,
    seen: Vec<(Vec<String>, usize)>,
) -> AppResult<Option<engine::Issue>> {
    let Ok(c) = crate::workflows::steps::compile(steps) else {
        return Ok(None);
    };
    let r = tokio::task::spawn_blocking(move || {
        crate::conformance::check(&conformance::net(&c), &seen)
    })
    .await
    .map_err(|e| AppError::Internal(format!("conformance task: {e}")))?;
    Ok(
        crate::conformance::precision_warning(&r).map(|message| engine::Issue {
            code: "LOW_PRECISION".into(),
            message,
            step: None,
            path: None,
        }),
    )
}

/// A warning when no recorded case followed the simulated path (its steps that ran, in order).
fn unseen_path(outcome: &Outcome, seen: &[(Vec<String>, usize)]) -> Option<engine::Issue> {
    let ran: Vec<&str> = outcome
        .execution_path
        .iter()
        .filter(|s| s.status == engine::StepStatus::Run && s.action != GATEWAY)
        .map(|s| s.name.as_str())
        .collect();
    let cases: usize = seen.iter().map(|(_, n)| n).sum();
    let followed = seen
        .iter()
        .any(|(t, _)| t.iter().map(String::as_str).eq(ran.iter().copied()));
    (cases > 0 && !followed).then(|| engine::Issue {
        code: "PATH_NOT_IN_HISTORY".into(),
        message: format!(
            "none of the {cases} newest completed executions followed this path ({} steps); \
             the prediction rests on a route the history never took",
            ran.len()
        ),
        step: None,
        path: None,
    })
}

/// Every distinct path through the workflow's current definition (see
/// [`engine::explore_paths`]); stores nothing.
pub async fn paths(
    state: &AppState,
    auth: &AuthContext,
    workflow_id: Uuid,
) -> AppResult<engine::Exploration> {
    let db = &state.db;
    let wf = tenancy::get::<crate::entity::workflow::Entity>(db, auth, workflow_id).await?;
    let catalog = load_catalog(db, auth, &wf.steps).await?;
    let history = step_history(db, auth.company_id, wf.id).await?;
    tokio::task::spawn_blocking(move || {
        engine::explore_paths(&engine::Request {
            steps: &wf.steps,
            input: &Value::Object(Default::default()),
            input_schema: wf.input_schema.as_ref(),
            catalog: &catalog,
            history: &history,
            slas: &[],
            decisions: &HashMap::new(),
            fail_steps: &HashSet::new(),
            limits: Limits::default(),
            forecast: None,
        })
    })
    .await
    .map_err(|e| AppError::Internal(format!("exploration task: {e}")))?
    .map_err(AppError::Internal)
}

/// Runs a simulation and stores it.
pub async fn simulate(
    state: &AppState,
    auth: &AuthContext,
    args: SimulateArgs,
) -> AppResult<simulation::Model> {
    let started = Instant::now();
    let db = &state.db;
    let (wf, outcome) = run(state, auth, &args).await?;
    let now = state.clock.now();
    let row = simulation::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(auth.company_id),
        workflow_id: Set(wf.id),
        workflow_version: Set(Some(wf.version)),
        input_data: Set(args.input_data),
        status: Set(outcome.status.as_str().into()),
        execution_path: Set(to_json(&outcome.execution_path)?),
        branch_explorations: Set(to_json(&outcome.branch_explorations)?),
        approval_chain: Set(to_json(&outcome.approval_chain)?),
        predicted_duration_ms: Set(outcome.predicted_duration_ms),
        predicted_duration_p95_ms: Set(outcome.predicted_duration_p95_ms),
        validation_errors: Set(to_json(&outcome.validation_errors)?),
        warnings: Set(to_json(&outcome.warnings)?),
        forecast: Set(outcome.forecast.as_ref().map(to_json).transpose()?),
        created_by: Set(auth.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    state
        .metrics
        .workflow_simulation_total
        .with_label_values(&[outcome.status.as_str()])
        .inc();
    state
        .metrics
        .workflow_simulation_duration_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(row)
}

fn to_json<T: serde::Serialize>(v: &T) -> AppResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| AppError::Internal(format!("serialising a simulation: {e}")))
}

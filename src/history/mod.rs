//! Event-log import: XES (`.xes`, and `.xes.gz` streamed) and CSV, read through a documented
//! TOML mapping into a workflow and its executions. Cases are streamed, progress goes to
//! stderr, re-importing changes nothing (cases are keyed by their id), and a malformed file
//! stops the import with the element or line that broke it and leaves nothing behind (one
//! transaction for the whole file).
pub mod mapping;
pub mod reader;

use crate::AppState;
use crate::auth::AuthContext;
use crate::entity::workflow;
use crate::error::{AppError, AppResult};
use crate::model::{ExecutionStatus, StepRunStatus, WorkflowStatus};
use crate::workflows::executions::{ImportExecution, ImportReport, ImportStep, import_into};
use crate::workflows::service::{self as workflows, WorkflowFields};
use mapping::Mapping;
use reader::Case;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use std::path::Path;

/// How many cases go to the database at a time.
const BATCH: usize = 2_000;

/// Turns a case into an execution of the mapped workflow.
pub fn to_execution(m: &Mapping, workflow_id: uuid::Uuid, c: &Case) -> Option<ImportExecution> {
    let events: Vec<&reader::Event> = c.events.iter().filter(|e| m.keeps(e)).collect();
    let first = events.iter().filter_map(|e| e.timestamp).min()?;
    let last = events.iter().filter_map(|e| e.timestamp).max()?;
    let mut input = Map::new();
    for f in &m.input {
        if let Some(v) = m.input_value(f, c) {
            input.insert(f.target_name().to_string(), v);
        }
    }
    let mut steps = Vec::with_capacity(events.len());
    let mut prev = first;
    for e in &events {
        let Some(ts) = e.timestamp else { continue };
        let approval = m.approvals.iter().find(|a| a.activity == e.activity);
        steps.push(ImportStep {
            step_name: approval
                .and_then(|a| a.step.clone())
                .unwrap_or_else(|| e.activity.clone()),
            status: StepRunStatus::Completed,
            started_at: prev.min(ts),
            completed_at: Some(ts),
            approver: approval.map(|a| {
                a.approver
                    .clone()
                    .or_else(|| e.resource.clone())
                    .unwrap_or_else(|| "approver".into())
            }),
            decision: approval.map(|a| a.decision),
            error: None,
        });
        prev = ts;
    }
    let failed = m
        .failure_activities
        .iter()
        .any(|f| events.iter().any(|e| &e.activity == f));
    Some(ImportExecution {
        workflow_id,
        external_id: format!("{}:{}", m.workflow, c.id),
        input_data: Value::Object(input),
        status: if failed {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Completed
        },
        started_at: first,
        completed_at: Some(last),
        error: None,
        steps,
    })
}

/// The steps of the mapped workflow: every activity in order of first appearance (approval
/// activities merged into their step, with its approver).
fn workflow_steps(m: &Mapping, cases: &[Case]) -> Value {
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    for c in cases {
        for e in c.events.iter().filter(|e| m.keeps(e)) {
            let (name, approver) = match m.approvals.iter().find(|a| a.activity == e.activity) {
                Some(a) => (
                    a.step.clone().unwrap_or_else(|| e.activity.clone()),
                    Some(a.approver.clone().unwrap_or_else(|| "approver".into())),
                ),
                None => (e.activity.clone(), None),
            };
            if !names.iter().any(|(n, _)| n == &name) {
                names.push((name, approver));
            }
        }
    }
    Value::Array(
        names
            .into_iter()
            .map(|(n, a)| match a {
                Some(a) => json!({"name": n, "action": "approval", "approver": a}),
                None => json!({"name": n, "action": "task"}),
            })
            .collect(),
    )
}

/// Where an import goes: a company that exists (the caller), or one to create in the same
/// transaction, so that a failed import leaves no company behind.
pub enum Destination {
    Company(AuthContext),
    NewCompany(String),
}

/// The mapped workflow in the company: found by name, or created from the first batch's
/// activities.
async fn mapped_workflow(
    txn: &sea_orm::DatabaseTransaction,
    auth: &AuthContext,
    m: &Mapping,
    path: &Path,
    first: &[Case],
) -> AppResult<uuid::Uuid> {
    let existing = workflow::Entity::find()
        .filter(workflow::Column::CompanyId.eq(auth.company_id))
        .filter(workflow::Column::Name.eq(m.workflow.as_str()))
        .one(txn)
        .await?;
    if let Some(w) = existing {
        return Ok(w.id);
    }
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let fields = WorkflowFields {
        name: Some(m.workflow.clone()),
        description: Some(format!("Imported from {file}")),
        workflow_type: Some(m.workflow_type),
        status: Some(WorkflowStatus::Active),
        steps: Some(workflow_steps(m, first)),
        input_schema: None,
        owner_id: None,
    };
    Ok(workflows::create(txn, auth, fields).await?.id)
}

/// Imports a log file, all or nothing: the company (when new), the workflow and every case
/// are written in one transaction. Returns the workflow id and what was imported. Progress
/// lines say what was read and staged; nothing is imported until the commit.
pub async fn import_file(
    state: &AppState,
    into: &Destination,
    path: &Path,
    m: &Mapping,
    progress: bool,
) -> AppResult<(uuid::Uuid, ImportReport)> {
    let mut reader = reader::open(path, m).map_err(AppError::BadInput)?;
    let txn = crate::db::begin_write(&state.writer).await?;
    let auth = match into {
        Destination::Company(a) => a.clone(),
        Destination::NewCompany(name) => {
            AuthContext::command_line(crate::auth::create_company(&txn, name).await?.id)
        }
    };
    let mut total = ImportReport::default();
    let mut workflow_id: Option<uuid::Uuid> = None;
    let mut batch: Vec<Case> = Vec::with_capacity(BATCH);
    let mut read = 0usize;
    loop {
        let next = reader.next_case().map_err(AppError::BadInput)?;
        let done = next.is_none();
        if let Some(c) = next {
            batch.push(c);
            read += 1;
        }
        if batch.len() >= BATCH || (done && !batch.is_empty()) {
            let wid = match workflow_id {
                Some(w) => w,
                None => mapped_workflow(&txn, &auth, m, path, &batch).await?,
            };
            workflow_id = Some(wid);
            let items = batch.iter().filter_map(|c| to_execution(m, wid, c));
            let r = import_into(&txn, state, auth.company_id, items.collect()).await?;
            total.imported += r.imported;
            total.skipped += r.skipped;
            total.breaches += r.breaches;
            batch.clear();
            if progress {
                eprintln!(
                    "  {read} cases read, {} staged, {} already there",
                    total.imported, total.skipped
                );
            }
        }
        if done {
            break;
        }
    }
    let wid = workflow_id.ok_or_else(|| AppError::bad("the log holds no cases"))?;
    txn.commit().await?;
    Ok((wid, total))
}

//! Event-log import: XES (`.xes`, and `.xes.gz` streamed) and CSV, read through a documented
//! TOML mapping into a workflow and its executions. A workflow that does not exist yet is
//! discovered from the whole file first (see `crate::discovery`). Cases are streamed, progress goes to
//! stderr, re-importing changes nothing (cases are keyed by their id), and a malformed file
//! stops the import with the element or line that broke it and leaves nothing behind (one
//! transaction for the whole file).
pub mod mapping;
pub mod reader;

use crate::AppState;
use crate::auth::AuthContext;
use crate::catalog::service as catalog;
use crate::discovery;
use crate::entity::{action, workflow};
use crate::error::{AppError, AppResult};
use crate::executions::service::{
    ExecutionRecord, ImportExecution, ImportReport, StepRun, import_into,
};
use crate::model::{ExecutionStatus, StepRunStatus, WorkflowStatus};
use crate::workflows::service::{self as workflows, WorkflowFields};
use chrono::{DateTime, Utc};
use mapping::Mapping;
use reader::{Case, ReadLimits};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;

/// How many cases go to the database at a time.
const BATCH: usize = 2_000;
/// Most events staged in memory at once: a batch is written sooner when its cases are long.
const BATCH_EVENTS: usize = 50_000;

/// Which parallel lane (group, lane) each step of a workflow runs in.
pub type Lanes = HashMap<String, (String, u32)>;

/// The lanes of a workflow's steps.
pub fn lanes_of(steps: &Value) -> Lanes {
    steps
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let p = s.get("parallel")?;
            Some((
                s["name"].as_str()?.to_string(),
                (p["group"].as_str()?.to_string(), p["lane"].as_u64()? as u32),
            ))
        })
        .collect()
}

/// When each step of a case started: a log that records only completions starts a step at
/// the previous event, except in a parallel lane, where it starts at the lane's previous event
/// (or where the case entered the group), so that lanes overlap as they did.
struct Starts<'a> {
    lanes: &'a Lanes,
    /// The last event outside any lane.
    outside: DateTime<Utc>,
    /// The last event of each lane.
    last: HashMap<(&'a str, u32), DateTime<Utc>>,
}

impl<'a> Starts<'a> {
    fn start(&mut self, step: &str, at: DateTime<Utc>) -> DateTime<Utc> {
        let start = match self.lanes.get(step) {
            Some((g, l)) => {
                let key = (g.as_str(), *l);
                let lane = self.last.get(&key).copied().unwrap_or(self.outside);
                self.last.insert(key, at.max(self.outside));
                lane.max(self.outside)
            }
            None => {
                let latest = self
                    .last
                    .values()
                    .copied()
                    .fold(self.outside, DateTime::max);
                self.outside = at.max(latest);
                self.last.clear();
                latest
            }
        };
        start.min(at)
    }
}

/// For each event the mapping keeps (in order), the start the log recorded for it: the
/// earliest earlier `start` event of the same activity not yet paired with a completion (how
/// pm4py pairs lifecycle events into intervals). None where the log has no such event.
fn recorded_starts(m: &Mapping, c: &Case) -> Vec<Option<DateTime<Utc>>> {
    let mut open: HashMap<&str, std::collections::VecDeque<DateTime<Utc>>> = HashMap::new();
    let mut out = Vec::new();
    for e in &c.events {
        let start = e
            .lifecycle
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case("start"));
        if start && let Some(ts) = e.timestamp {
            open.entry(e.activity.as_str()).or_default().push_back(ts);
        } else if m.keeps(e) {
            let paired = e.lifecycle.is_some();
            out.push(
                open.get_mut(e.activity.as_str())
                    .filter(|_| paired)
                    .and_then(|q| q.pop_front()),
            );
        }
    }
    out
}

/// Turns a case into an execution of the mapped workflow (`lanes`: the workflow's parallel
/// lanes, for when each step started).
pub fn to_execution(
    m: &Mapping,
    workflow_id: uuid::Uuid,
    lanes: &Lanes,
    c: &Case,
) -> Option<ImportExecution> {
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
    let mut starts = Starts {
        lanes,
        outside: first,
        last: HashMap::new(),
    };
    let recorded = recorded_starts(m, c);
    for (e, recorded) in events.iter().zip(recorded) {
        let Some(ts) = e.timestamp else { continue };
        let approval = m.approvals.iter().find(|a| a.activity == e.activity);
        let step_name = approval
            .and_then(|a| a.step.clone())
            .unwrap_or_else(|| e.activity.clone());
        let inferred = starts.start(&step_name, ts);
        let (started_at, start_inferred) = match recorded {
            Some(st) if st <= ts => (st, false),
            _ => (inferred, true),
        };
        steps.push(StepRun {
            started_at,
            start_inferred,
            step_name,
            status: StepRunStatus::Completed,
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
    }
    let failed = m
        .failure_activities
        .iter()
        .any(|f| events.iter().any(|e| &e.activity == f));
    let record = ExecutionRecord {
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
    };
    Some(ImportExecution {
        workflow_id,
        record,
    })
}

/// What discovery found when the import created the workflow.
#[derive(Clone, Debug)]
pub struct DiscoverySummary {
    /// The process tree, e.g. `->('a', X('b', 'c'))`.
    pub tree: String,
    pub tree_nodes: usize,
    pub steps: usize,
    /// Branch conditions found by decision mining.
    pub rules: usize,
    /// The discovered model replayed on the cases it came from.
    pub conformance: crate::conformance::Conformance,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

/// Everything an import did.
#[derive(Clone, Debug)]
pub struct FileImport {
    pub workflow_id: uuid::Uuid,
    pub report: ImportReport,
    pub cases_read: usize,
    /// Per mapped input attribute: how many cases carried it (none: the mapping names an
    /// attribute the log does not have).
    pub presence: Vec<(String, usize)>,
    /// Set when the workflow was new and its structure was discovered.
    pub discovery: Option<DiscoverySummary>,
}

/// What a log import may hold in memory (settings; see [`Config`](crate::config::Config)).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub read: ReadLimits,
    /// Most cases read for discovery; more are sampled down to this many.
    pub discovery_cases: usize,
}

impl Limits {
    pub fn of(c: &crate::config::Config) -> Limits {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Limits {
            read: ReadLimits {
                events_per_case: n(c.import_max_events_per_case),
                attribute_bytes: n(c.import_max_attribute_bytes),
            },
            discovery_cases: n(c.discovery_max_cases),
        }
    }
}

/// Discovery's cases read from the file: each case's mapped steps and input, at most
/// `limits.discovery_cases` of them (a uniform sample, in file order, when the file holds
/// more), and how many the file holds.
pub fn read_cases(
    path: &Path,
    m: &Mapping,
    limits: Limits,
) -> Result<(Vec<discovery::Case>, usize), String> {
    use rand::{Rng, SeedableRng};
    let mut reader = reader::open(path, m, limits.read)?;
    let (keep, mut seen) = (limits.discovery_cases.max(1), 0usize);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut sample: Vec<(usize, discovery::Case)> = Vec::new();
    while let Some(c) = reader.next_case()? {
        let Some(x) = to_execution(m, uuid::Uuid::nil(), &Lanes::new(), &c) else {
            continue;
        };
        // Algorithm R: the i-th case replaces a random kept one with probability keep / i.
        let slot = match sample.len() < keep {
            true => None,
            false => Some(rng.random_range(0..=seen)).filter(|j| *j < keep),
        };
        seen += 1;
        if sample.len() == keep && slot.is_none() {
            continue;
        }
        let input = match x.record.input_data {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        let steps = x.record.steps.into_iter().map(|s| s.step_name).collect();
        let case = (seen, discovery::Case { steps, input });
        match slot {
            Some(j) => sample[j] = case,
            None => sample.push(case),
        }
    }
    if sample.is_empty() {
        return Err("the log holds no cases".into());
    }
    sample.sort_by_key(|c| c.0);
    Ok((sample.into_iter().map(|c| c.1).collect(), seen))
}

/// Whether the mapping makes a step an approval.
pub fn is_approval(m: &Mapping, step: &str) -> bool {
    m.approvals
        .iter()
        .any(|a| a.step.as_deref().unwrap_or(&a.activity) == step)
}

/// Reads the whole file and discovers its workflow (the Inductive Miner – infrequent over the
/// cases' mapped steps, with decision mining over their mapped input). Also returns how long
/// reading and discovering took.
pub fn discover_file(
    path: &Path,
    m: &Mapping,
    noise: f64,
    limits: Limits,
) -> Result<(discovery::Discovered, f64), String> {
    let started = std::time::Instant::now();
    let (cases, all) = read_cases(path, m, limits)?;
    let mut d = discovery::discover(&cases, &|s| is_approval(m, s), noise);
    if cases.len() < all {
        d.warnings.push(format!(
            "the workflow was discovered from a uniform sample of {} of the log's {all} cases \
             (DISCOVERY_MAX_CASES); every case was imported",
            cases.len()
        ));
    }
    Ok((d, started.elapsed().as_secs_f64()))
}

/// The approver the mapping names for an approval step.
fn approver_of(m: &Mapping, step: &str) -> Option<String> {
    m.approvals
        .iter()
        .find(|a| a.step.as_deref().unwrap_or(&a.activity) == step)
        .map(|a| a.approver.clone().unwrap_or_else(|| "approver".into()))
}

/// Where an import goes: a company that exists (the caller), or one to create in the same
/// transaction, so that a failed import leaves no company behind.
pub enum Destination {
    Company(AuthContext),
    NewCompany(String),
}

/// The mapped workflow in the company: found by name, or else discovered from the whole file
/// and created, with a catalog action for each of its steps.
async fn mapped_workflow(
    txn: &sea_orm::DatabaseTransaction,
    state: &AppState,
    auth: &AuthContext,
    m: &Mapping,
    path: &Path,
) -> AppResult<(uuid::Uuid, Value, Option<DiscoverySummary>)> {
    let existing = workflow::Entity::find()
        .filter(workflow::Column::CompanyId.eq(auth.company_id))
        .filter(workflow::Column::Name.eq(m.workflow.as_str()))
        .one(txn)
        .await?;
    if let Some(w) = existing {
        return Ok((w.id, w.steps, None));
    }
    let noise = state.config.discovery_noise_percent as f64 / 100.0;
    let limits = Limits::of(&state.config);
    let (found, seconds) = discover_file(path, m, noise, limits).map_err(AppError::BadInput)?;
    let mut steps = found.steps;
    for s in steps.as_array_mut().into_iter().flatten() {
        if let Some(a) = s["name"].as_str().and_then(|n| approver_of(m, n)) {
            s["approver"] = json!(a);
        }
    }
    ensure_actions(txn, auth, &steps, state.clock.now()).await?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let fields = WorkflowFields {
        name: Some(m.workflow.clone()),
        description: Some(format!(
            "Imported from {file}; structure discovered by the Inductive Miner - infrequent"
        )),
        workflow_type: Some(m.workflow_type),
        status: Some(WorkflowStatus::Active),
        steps: Some(steps.clone()),
        input_schema: None,
        owner_id: None,
    };
    let id = workflows::create(txn, auth, fields, state.clock.now())
        .await?
        .id;
    let summary = DiscoverySummary {
        tree: found.tree,
        tree_nodes: found.size,
        steps: steps.as_array().map_or(0, Vec::len),
        rules: found.rules,
        conformance: found.conformance,
        warnings: found.warnings,
        seconds,
    };
    Ok((id, steps, Some(summary)))
}

/// A catalog action for every action the steps name that the company's catalog lacks.
async fn ensure_actions(
    txn: &sea_orm::DatabaseTransaction,
    auth: &AuthContext,
    steps: &Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let wanted = discovery::actions(steps);
    let have: Vec<String> = action::Entity::find()
        .filter(action::Column::CompanyId.eq(auth.company_id))
        .filter(action::Column::ActionType.is_in(wanted.clone()))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| a.action_type)
        .collect();
    for t in wanted.into_iter().filter(|t| !have.contains(t)) {
        let step = steps
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["action"] == json!(t));
        let name = match step.and_then(|s| s["name"].as_str()) {
            Some(n) if t != "approval" => n.to_string(),
            _ => "Approval".to_string(),
        };
        let fields = catalog::ActionFields {
            name: Some(name),
            action_type: Some(t),
            description: Some("Created by a log import for a discovered step".into()),
            ..Default::default()
        };
        catalog::create(txn, auth, fields, now).await?;
    }
    Ok(())
}

/// Imports a log file, all or nothing: the company (when new), the workflow (discovered from
/// the file when new) and every case are written in one transaction. Progress lines say what
/// was read and staged; nothing is imported until the commit.
/// A case holding a NUL character (which PostgreSQL cannot store) stops the import, named.
fn refuse_nul(c: &Case, number: usize) -> AppResult<()> {
    match c.nul() {
        None => Ok(()),
        Some(what) => Err(AppError::bad(format!(
            "case {:?} (number {number} in the file): {what} holds a NUL character (U+0000), \
             which the database cannot store; nothing was imported",
            c.id.replace('\0', "\\0"),
        ))),
    }
}

pub async fn import_file(
    state: &AppState,
    into: &Destination,
    path: &Path,
    m: &Mapping,
    progress: bool,
) -> AppResult<FileImport> {
    let limits = Limits::of(&state.config);
    let mut reader = reader::open(path, m, limits.read).map_err(AppError::BadInput)?;
    let txn = crate::db::begin_write(&state.writer).await?;
    let auth = match into {
        Destination::Company(a) => a.clone(),
        Destination::NewCompany(name) => AuthContext::command_line(
            crate::auth::create_company(&txn, name, state.clock.now())
                .await?
                .id,
        ),
    };
    let (workflow_id, steps, discovery) = mapped_workflow(&txn, state, &auth, m, path).await?;
    let lanes = lanes_of(&steps);
    let mut total = ImportReport::default();
    let mut presence = vec![0usize; m.input.len()];
    let mut batch: Vec<Case> = Vec::with_capacity(BATCH);
    let (mut read, mut batch_events) = (0usize, 0usize);
    loop {
        let next = reader.next_case().map_err(AppError::BadInput)?;
        let done = next.is_none();
        if let Some(c) = next {
            refuse_nul(&c, read + 1)?;
            for (n, f) in presence.iter_mut().zip(&m.input) {
                *n += m.raw_value(f, &c).is_some() as usize;
            }
            batch_events += c.events.len();
            batch.push(c);
            read += 1;
        }
        let full = batch.len() >= BATCH || batch_events >= BATCH_EVENTS;
        if full || (done && !batch.is_empty()) {
            let items = batch
                .iter()
                .filter_map(|c| to_execution(m, workflow_id, &lanes, c));
            let r = import_into(&txn, state, auth.company_id, items.collect()).await?;
            total.imported += r.imported;
            total.skipped += r.skipped;
            total.breaches += r.breaches;
            batch.clear();
            batch_events = 0;
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
    if read == 0 {
        return Err(AppError::bad("the log holds no cases"));
    }
    txn.commit().await?;
    if total.breaches > 0 {
        // The imports published theirs before this commit, when nothing was committed yet.
        state.sla.events_committed(&state.writer).await;
    }
    Ok(FileImport {
        workflow_id,
        report: total,
        cases_read: read,
        presence: m
            .input
            .iter()
            .map(|f| f.attribute.clone())
            .zip(presence)
            .collect(),
        discovery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_step_starts_at_its_own_lanes_previous_event() {
        let t = |m: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(m);
        let lanes: Lanes = [("a", 1), ("b", 2)]
            .into_iter()
            .map(|(s, l)| (s.to_string(), ("g".to_string(), l)))
            .collect();
        let mut s = Starts {
            lanes: &lanes,
            outside: t(0),
            last: HashMap::new(),
        };
        assert_eq!(s.start("split", t(10)), t(0));
        // Lane 2 finishes first, then lane 1: each ran from the split, not from the other.
        assert_eq!(s.start("b", t(15)), t(10));
        assert_eq!(s.start("a", t(40)), t(10));
        assert_eq!(s.start("a", t(45)), t(40));
        // After the group, the next step waits for the slowest lane.
        assert_eq!(s.start("join", t(50)), t(45));
        assert_eq!(s.start("b", t(55)), t(50));
    }
}

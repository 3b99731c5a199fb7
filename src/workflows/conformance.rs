//! A workflow against its history: its steps as a workflow net ([`net`], pure) and the step
//! sequences of its completed executions replayed on it ([`load`]) with the conformance
//! engine's token-based replay.
use super::flows::{FlowKind, flows};
use super::steps::{Compiled, END, GATEWAY};
use crate::conformance::{self, Net};
use crate::entity::{execution, step_execution};
use crate::error::AppResult;
use crate::model::{ExecutionStatus, StepRunStatus};
use async_graphql::SimpleObject;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

/// The steps as a workflow net. Each step is a transition labelled with its name (a gateway
/// step is silent) between its own entry and exit places; every flow is a silent transition
/// from the step's exit (its entry, for a skip) to the target's entry; entering a parallel
/// group starts every lane at once, and the group's lanes join before the step after it.
pub fn net(c: &Compiled) -> Net {
    routed_net(c).0
}

/// The net, and for each silent transition that takes a branch out of a step, the step and
/// the branch's index (a history's route through the choices).
pub fn routed_net(c: &Compiled) -> (Net, HashMap<usize, (usize, usize)>) {
    let mut net = Net::new();
    let mut branch_of: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut seen_branches: HashMap<usize, usize> = HashMap::new();
    let n = c.steps.len();
    let entry: Vec<usize> = (0..n).map(|_| net.place()).collect();
    let exit: Vec<usize> = (0..n).map(|_| net.place()).collect();
    let index: HashMap<&str, usize> = c
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let group = |i: usize| c.steps.get(i).and_then(|s| s.parallel.as_ref());
    // Each group's lanes: the place a lane's exit puts its token in, and the step after it.
    let mut joins: HashMap<&str, (HashMap<u32, usize>, usize)> = HashMap::new();
    for (i, s) in c.steps.iter().enumerate() {
        let label = (s.action != GATEWAY).then(|| s.name.clone());
        net.transition(label, vec![entry[i]], vec![exit[i]]);
        if let Some(l) = &s.parallel {
            let j = joins.entry(l.group.as_str()).or_default();
            j.1 = i + 1;
            j.0.entry(l.lane).or_insert_with(|| net.place());
        }
    }
    let first = if n == 0 { net.sink } else { entry[0] };
    net.transition(None, vec![net.source], vec![first]);
    let sink = net.sink;
    let target = |to: &str| index.get(to).map_or(sink, |j| entry[*j]);
    let mut lanes: HashMap<usize, Vec<usize>> = HashMap::new();
    for f in flows(c) {
        let i = index[f.from.as_str()];
        let j = (f.to != END).then(|| index[f.to.as_str()]);
        let from = if f.kind == FlowKind::Skip {
            entry[i]
        } else {
            exit[i]
        };
        let (gi, gj) = (group(i), j.and_then(group));
        if let Some(l) = gi.filter(|l| gj.is_none_or(|m| m.group != l.group)) {
            // Out of a lane: towards the group's join.
            let to = joins[l.group.as_str()].0[&l.lane];
            net.transition(None, vec![from], vec![to]);
        } else if f.kind == FlowKind::Lane {
            lanes.entry(from).or_default().push(target(&f.to));
        } else {
            if f.kind == FlowKind::Branch {
                let j = seen_branches.entry(i).or_default();
                branch_of.insert(net.transitions.len(), (i, *j));
                *j += 1;
            }
            net.transition(None, vec![from], vec![target(&f.to)]);
        }
    }
    for (from, starts) in lanes {
        net.transition(None, vec![from], starts);
    }
    for (lanes, after) in joins.values() {
        let to = if *after < n { entry[*after] } else { net.sink };
        net.transition(None, lanes.values().copied().collect(), vec![to]);
    }
    (net, branch_of)
}

/// How many of the newest completed executions a conformance check reads at most.
pub const MAX_CASES: u64 = 50_000;

/// What replaying a workflow's history on its steps shows.
#[derive(Clone, Debug, SimpleObject)]
pub struct WorkflowConformance {
    /// Completed executions replayed (the newest, at most 50,000).
    pub cases: i64,
    /// Token-based replay fitness, 0 to 1 (pm4py's log fitness): 1 when every recorded step
    /// run was allowed by the steps where it happened; null without completed executions.
    pub fitness: Option<f64>,
    /// Escaping-edges precision, 0 to 1 (pm4py's token-based precision): 1 when the steps allow
    /// nothing next that the history never did; low for a model that allows almost anything;
    /// null without completed executions.
    pub precision: Option<f64>,
    /// Executions whose recorded steps replay without a missing or a remaining token.
    pub fitting_cases: i64,
    /// The steps whose recorded runs the definition most often did not allow, most first.
    pub deviations: Vec<StepDeviation>,
    /// Set when the model allows far more than the history shows.
    pub warning: Option<String>,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct StepDeviation {
    pub step: String,
    /// Recorded runs of the step that the definition did not allow at that point.
    pub runs: i64,
}

/// The step sequences (completed step runs in start order) of the workflow's newest `limit`
/// completed executions: each distinct sequence with how many executions followed it.
pub async fn sequences(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Uuid,
    limit: u64,
) -> AppResult<Vec<(Vec<String>, usize)>> {
    let execs = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .filter(execution::Column::CompanyId.eq(company_id))
        .filter(execution::Column::WorkflowId.eq(workflow_id))
        .filter(execution::Column::Status.eq(ExecutionStatus::Completed.as_str()))
        .order_by_desc(execution::Column::StartedAt)
        .limit(limit)
        .into_query();
    let rows: Vec<(Uuid, String)> = step_execution::Entity::find()
        .select_only()
        .column(step_execution::Column::ExecutionId)
        .column(step_execution::Column::StepName)
        .filter(step_execution::Column::CompanyId.eq(company_id))
        .filter(step_execution::Column::ExecutionId.in_subquery(execs))
        .filter(step_execution::Column::Status.ne(StepRunStatus::Skipped.as_str()))
        .order_by_asc(step_execution::Column::ExecutionId)
        .order_by_asc(step_execution::Column::StartedAt)
        .order_by_asc(step_execution::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut traces: Vec<(Uuid, Vec<String>)> = Vec::new();
    for (e, step) in rows {
        match traces.last_mut() {
            Some((last, t)) if *last == e => t.push(step),
            _ => traces.push((e, vec![step])),
        }
    }
    let mut variants: HashMap<Vec<String>, usize> = HashMap::new();
    for (_, t) in traces {
        *variants.entry(t).or_default() += 1;
    }
    Ok(variants.into_iter().collect())
}

/// Replays the workflow's newest completed executions on its steps.
pub async fn load(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Uuid,
    c: &Compiled,
) -> AppResult<WorkflowConformance> {
    let variants = sequences(db, company_id, workflow_id, MAX_CASES).await?;
    let net = net(c);
    let r = tokio::task::spawn_blocking(move || conformance::check(&net, &variants))
        .await
        .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    Ok(WorkflowConformance {
        cases: r.traces as i64,
        fitness: (r.traces > 0).then_some(r.fitness),
        precision: (r.traces > 0).then_some(r.precision),
        fitting_cases: r.fitting_traces as i64,
        warning: conformance::precision_warning(&r),
        deviations: r
            .deviations
            .iter()
            .take(10)
            .map(|(step, runs)| StepDeviation {
                step: step.clone(),
                runs: *runs as i64,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::steps::compile;
    use serde_json::json;

    fn variants(traces: &[(&[&str], usize)]) -> Vec<(Vec<String>, usize)> {
        traces
            .iter()
            .map(|(t, n)| (t.iter().map(|s| s.to_string()).collect(), *n))
            .collect()
    }

    #[test]
    fn branches_skips_and_lanes_replay_as_the_simulator_routes_them() {
        let steps = json!([
            {"name": "a", "action": "x", "branches": [{"condition": {"n": {"$gt": 1}}, "next_step": "c"}]},
            {"name": "b", "action": "x", "conditions": {"n": {"$lt": 0}}},
            {"name": "c", "action": "x"},
            {"name": "l1", "action": "x", "parallel": {"group": "g", "lane": 1}},
            {"name": "l1b", "action": "x", "parallel": {"group": "g", "lane": 1}},
            {"name": "l2", "action": "x", "parallel": {"group": "g", "lane": 2}},
            {"name": "d", "action": "x", "default_next": "$end"},
        ]);
        let net = net(&compile(&steps).unwrap());
        let ok = variants(&[
            (&["a", "b", "c", "l1", "l2", "l1b", "d"], 3),
            (&["a", "c", "l2", "l1", "l1b", "d"], 2),
        ]);
        let r = conformance::check(&net, &ok);
        assert_eq!((r.fitness, r.fitting_traces), (1.0, 5));
        // d before the lanes joined, and an unknown step.
        let bad = variants(&[
            (&["a", "c", "l1", "d", "l1b", "l2"], 1),
            (&["a", "zz", "c", "l1", "l1b", "l2", "d"], 1),
        ]);
        let r = conformance::check(&net, &bad);
        assert_eq!(r.fitting_traces, 0);
        assert!(r.fitness < 1.0, "{r:?}");
        let steps: Vec<&str> = r.deviations.iter().map(|d| d.0.as_str()).collect();
        assert!(steps.contains(&"d") && steps.contains(&"zz"), "{steps:?}");
    }
}

//! A workflow against its history: its steps as a workflow net ([`net`], pure) and the step
//! sequences of its completed executions replayed on it ([`load`]) with the conformance
//! engine's token-based replay.
use super::flows::{FlowKind, StepFlow, flows, lane_starts};
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
    let mut r = Routed::new(c);
    for f in flows(c) {
        r.flow(&f);
    }
    r.finish()
}

/// A parallel group's join: each lane's end place, and where the group goes on.
#[derive(Default)]
struct Join {
    lanes: HashMap<u32, usize>,
    /// The places the first flow out of a lane leads to (every lane's flow out goes there).
    onwards: Option<Vec<usize>>,
    /// The step listed after the group: where it goes on when no flow leaves a lane.
    after: usize,
}

/// The net under construction: an entry and an exit place per step.
struct Routed<'c> {
    c: &'c Compiled,
    net: Net,
    entry: Vec<usize>,
    exit: Vec<usize>,
    index: HashMap<&'c str, usize>,
    joins: HashMap<&'c str, Join>,
    /// Flows into a group from outside on the default route: the lanes they start.
    lanes: HashMap<usize, Vec<usize>>,
    branch_of: HashMap<usize, (usize, usize)>,
    seen_branches: HashMap<usize, usize>,
}

impl<'c> Routed<'c> {
    fn new(c: &'c Compiled) -> Self {
        let mut net = Net::new();
        let n = c.steps.len();
        let entry: Vec<usize> = (0..n).map(|_| net.place()).collect();
        let exit: Vec<usize> = (0..n).map(|_| net.place()).collect();
        let mut joins: HashMap<&str, Join> = HashMap::new();
        for (i, s) in c.steps.iter().enumerate() {
            let label = (s.action != GATEWAY).then(|| s.name.clone());
            net.transition(label, vec![entry[i]], vec![exit[i]]);
            if let Some(l) = &s.parallel {
                let j = joins.entry(l.group.as_str()).or_default();
                j.after = i + 1;
                j.lanes.entry(l.lane).or_insert_with(|| net.place());
            }
        }
        let first = if n == 0 { net.sink } else { entry[0] };
        net.transition(None, vec![net.source], vec![first]);
        let index = c
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        Routed {
            c,
            net,
            entry,
            exit,
            index,
            joins,
            lanes: HashMap::new(),
            branch_of: HashMap::new(),
            seen_branches: HashMap::new(),
        }
    }

    fn group(&self, i: usize) -> Option<&'c crate::workflows::steps::Lane> {
        self.c.steps.get(i).and_then(|s| s.parallel.as_ref())
    }

    /// The places a flow into step `j` (None: the end) marks; a flow into a group from
    /// outside it starts every lane.
    fn marks(&self, from: usize, j: Option<usize>) -> Vec<usize> {
        let Some(j) = j else {
            return vec![self.net.sink];
        };
        let entering = self
            .group(j)
            .is_some_and(|m| self.group(from).is_none_or(|l| l.group != m.group));
        if entering {
            lane_starts(self.c, j)
                .into_iter()
                .map(|k| self.entry[k])
                .collect()
        } else {
            vec![self.entry[j]]
        }
    }

    fn flow(&mut self, f: &StepFlow) {
        let i = self.index[f.from.as_str()];
        let j = (f.to != END).then(|| self.index[f.to.as_str()]);
        let from = match f.kind {
            FlowKind::Skip => self.entry[i],
            _ => self.exit[i],
        };
        let (gi, gj) = (self.group(i), j.and_then(|j| self.group(j)));
        // Out of a lane: to the group's join. A flow to another lane of the same group leaves
        // the lane too (lanes are listed one after another, so a lane's last choice names the
        // next lane's first step as what follows it).
        let leaves = gi.filter(|l| gj.is_none_or(|m| m.group != l.group || m.lane != l.lane));
        if let (FlowKind::Lane, None, Some(j)) = (f.kind, leaves, j) {
            // One flow per lane already.
            self.lanes.entry(from).or_default().push(self.entry[j]);
            return;
        }
        if f.kind == FlowKind::Branch {
            let k = self.seen_branches.entry(i).or_default();
            self.branch_of.insert(self.net.transitions.len(), (i, *k));
            *k += 1;
        }
        let to = match leaves {
            Some(l) => {
                let onwards = (gj.is_none_or(|m| m.group != l.group)).then(|| self.marks(i, j));
                let join = self
                    .joins
                    .get_mut(l.group.as_str())
                    .expect("a listed group");
                if join.onwards.is_none() {
                    join.onwards = onwards;
                }
                vec![join.lanes[&l.lane]]
            }
            None => self.marks(i, j),
        };
        self.net.transition(None, vec![from], to);
    }

    fn finish(mut self) -> (Net, HashMap<usize, (usize, usize)>) {
        for (from, starts) in std::mem::take(&mut self.lanes) {
            self.net.transition(None, vec![from], starts);
        }
        let joins: Vec<Join> = std::mem::take(&mut self.joins).into_values().collect();
        for join in joins {
            let to = join.onwards.unwrap_or_else(|| {
                let after = (join.after < self.c.steps.len()).then_some(join.after);
                self.marks(usize::MAX, after)
            });
            self.net
                .transition(None, join.lanes.values().copied().collect(), to);
        }
        (self.net, self.branch_of)
    }
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

    /// The shape discovery writes for `X(+(*(t, tau), w), o)` followed by `e`: a choice
    /// whose branch enters the group, a lane that ends in its loop's choice (whose way on
    /// names the next lane's first step), and the step listed after the group being the
    /// choice's other branch, not where the lanes join.
    fn discovered_group() -> Compiled {
        let steps = json!([
            {"name": "c1", "action": "gateway", "branches": [
                {"condition": {"route_c1": "t"}, "next_step": "t", "probability": 0.9},
                {"condition": {"route_c1": "o"}, "next_step": "o", "probability": 0.1}],
             "default_next": "t"},
            {"name": "t", "action": "x", "max_iterations": 3, "parallel": {"group": "g", "lane": 1}},
            {"name": "c2", "action": "gateway", "parallel": {"group": "g", "lane": 1}, "branches": [
                {"condition": {"route_c2": "t"}, "next_step": "t", "probability": 0.2},
                {"condition": {"route_c2": "w"}, "next_step": "w", "probability": 0.8}],
             "default_next": "w"},
            {"name": "w", "action": "x", "parallel": {"group": "g", "lane": 2}, "default_next": "e"},
            {"name": "o", "action": "x", "default_next": "e"},
            {"name": "e", "action": "x", "default_next": "$end"},
        ]);
        compile(&steps).unwrap()
    }

    #[test]
    fn a_branch_into_a_group_starts_every_lane_and_the_lanes_join_where_they_lead() {
        let c = discovered_group();
        let (net, branch_of) = routed_net(&c);
        let ok = variants(&[
            (&["w", "t", "e"], 4),
            (&["t", "t", "w", "e"], 2),
            (&["t", "w", "t", "e"], 1),
            (&["o", "e"], 1),
        ]);
        let r = conformance::check(&net, &ok);
        assert_eq!((r.fitness, r.fitting_traces), (1.0, 8), "{r:?}");
        // The route through the choices, as the refit of a forecast counts it: into the
        // group, then the loop's choice once per run of t (again, or on).
        let mut replayer = conformance::Replayer::new(&net);
        let mut taken = |trace: &[&str]| -> Vec<(String, usize)> {
            let trace: Vec<String> = trace.iter().map(|s| s.to_string()).collect();
            replayer
                .fired(&trace)
                .iter()
                .filter_map(|t| branch_of.get(t))
                .map(|(i, j)| (c.steps[*i].name.clone(), *j))
                .collect()
        };
        let names = |v: &[(&str, usize)]| -> Vec<(String, usize)> {
            v.iter().map(|(s, j)| (s.to_string(), *j)).collect()
        };
        assert_eq!(taken(&["w", "t", "e"]), names(&[("c1", 0), ("c2", 1)]));
        assert_eq!(
            taken(&["t", "t", "w", "e"]),
            names(&[("c1", 0), ("c2", 0), ("c2", 1)])
        );
        assert_eq!(taken(&["o", "e"]), names(&[("c1", 1)]));
    }
}

//! A BPMN process's structure as workflow steps (pure). Tasks become steps; an exclusive
//! gateway that splits becomes a routing step whose branches hold the flows' conditions; a
//! parallel gateway that splits becomes a parallel group, one lane per outgoing flow, up to
//! the parallel gateway where the lanes meet; a flow back to an earlier element becomes a
//! bounded loop. Steps are listed so that each alternative and each lane is contiguous.
use super::body::{GraphSpec, NodeType};
use crate::workflows::steps::{END, GATEWAY};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// How often a loop found in a model may repeat before the flow moves on.
pub const LOOP_BOUND: u32 = 3;

/// The steps, and what the conversion had to assume.
pub struct Converted {
    pub steps: Value,
    pub warnings: Vec<String>,
}

/// Where a flow leads: a step (by node index), or the end of the workflow.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    Step(usize),
    End,
}

struct Flow<'a> {
    g: &'a GraphSpec,
    /// Outgoing edges per node, in document order: (edge index, target node).
    out: Vec<Vec<(usize, usize)>>,
    /// Edges that close a loop (they lead back to a node on the path from the start).
    back: HashSet<usize>,
    /// Nodes in a topological order of the forward edges, alternatives and lanes contiguous.
    order: Vec<usize>,
    /// Per node: its parallel group (the split's node index) and lane (0-based).
    lane: HashMap<usize, (usize, u32)>,
    /// Per parallel split: its join, and the first step of each lane.
    groups: HashMap<usize, (Option<usize>, Vec<Option<usize>>)>,
}

fn is_task(t: NodeType) -> bool {
    matches!(t, NodeType::Action | NodeType::Approval)
}

impl<'a> Flow<'a> {
    fn new(g: &'a GraphSpec) -> Self {
        let index: HashMap<&str, usize> = g
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let mut out = vec![Vec::new(); g.nodes.len()];
        for (e, edge) in g.edges.iter().enumerate() {
            if let (Some(&a), Some(&b)) =
                (index.get(edge.from.as_str()), index.get(edge.to.as_str()))
            {
                out[a].push((e, b));
            }
        }
        let mut f = Flow {
            g,
            out,
            back: HashSet::new(),
            order: Vec::new(),
            lane: HashMap::new(),
            groups: HashMap::new(),
        };
        f.find_back_edges();
        f.topological_order();
        f.find_lanes();
        f
    }

    fn kind(&self, n: usize) -> NodeType {
        self.g.nodes[n].node_type
    }

    fn forward(&self, n: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.out[n]
            .iter()
            .copied()
            .filter(|(e, _)| !self.back.contains(e))
    }

    /// Nodes nothing leads to (the start events, and any orphan), in document order.
    fn roots(&self) -> Vec<usize> {
        let mut has_in = vec![false; self.g.nodes.len()];
        for outs in &self.out {
            for (_, b) in outs {
                has_in[*b] = true;
            }
        }
        let mut roots: Vec<usize> = (0..self.g.nodes.len()).filter(|n| !has_in[*n]).collect();
        roots.sort_by_key(|n| self.kind(*n) != NodeType::Trigger);
        roots
    }

    /// Depth-first from the roots: an edge to a node still on the path closes a loop.
    fn find_back_edges(&mut self) {
        let n = self.g.nodes.len();
        let roots = self.roots().into_iter().chain(0..n);
        self.back = super::layout::depth_first_back_edges(&self.out, roots);
    }

    /// Kahn's algorithm with a stack: a node's first successor is taken up first, so each
    /// alternative (and each lane) is listed whole before the next begins.
    fn topological_order(&mut self) {
        let n = self.g.nodes.len();
        let mut indegree = vec![0usize; n];
        for v in 0..n {
            for (_, w) in self.forward(v) {
                indegree[w] += 1;
            }
        }
        let mut stack: Vec<usize> = self.roots();
        stack.reverse();
        let mut seen = vec![false; n];
        while let Some(v) = stack.pop() {
            if std::mem::replace(&mut seen[v], true) {
                continue;
            }
            self.order.push(v);
            let succ: Vec<usize> = self.forward(v).map(|(_, w)| w).collect();
            for w in succ.into_iter().rev() {
                indegree[w] -= 1;
                if indegree[w] == 0 {
                    stack.push(w);
                }
            }
        }
        // Whatever no start leads to is still listed, in document order.
        self.order.extend((0..n).filter(|v| !seen[*v]));
    }

    /// Nodes reachable from `from` by forward edges without passing `stop`.
    fn reach(&self, from: usize, stop: Option<usize>) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut todo = vec![from];
        while let Some(v) = todo.pop() {
            if Some(v) == stop || !seen.insert(v) {
                continue;
            }
            todo.extend(self.forward(v).map(|(_, w)| w));
        }
        seen
    }

    /// Each parallel split's lanes: what each outgoing flow reaches before the parallel
    /// gateway that every lane reaches first (the join). Inner groups are assigned last, so a
    /// step belongs to its innermost group.
    fn find_lanes(&mut self) {
        let splits: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|v| self.kind(*v) == NodeType::Parallel && self.forward(*v).count() > 1)
            .collect();
        for s in splits {
            let heads: Vec<usize> = self.forward(s).map(|(_, w)| w).collect();
            let reached: Vec<HashSet<usize>> = heads.iter().map(|h| self.reach(*h, None)).collect();
            let join = self.order.iter().copied().find(|v| {
                self.kind(*v) == NodeType::Parallel && reached.iter().all(|r| r.contains(v))
            });
            let mut firsts = Vec::new();
            for (k, h) in heads.iter().enumerate() {
                let members = self.reach(*h, join);
                for m in &members {
                    self.lane.insert(*m, (s, k as u32));
                }
                firsts.push(
                    self.order
                        .iter()
                        .copied()
                        .find(|v| members.contains(v) && self.is_step(*v)),
                );
            }
            self.groups.insert(s, (join, firsts));
        }
    }

    /// The condition of the flow into lane `k` of a split, when it has one: an inclusive
    /// gateway's lane runs only when its flow's condition holds (a parallel gateway's flows
    /// carry none).
    fn lane_condition(&self, split: usize, k: u32) -> Option<Value> {
        let (e, _) = self.forward(split).nth(k as usize)?;
        self.g.edges[e].condition.clone()
    }

    /// Whether a node becomes a step: a task, or an exclusive gateway that splits.
    fn is_step(&self, v: usize) -> bool {
        let t = self.kind(v);
        is_task(t) || (t == NodeType::Decision && self.out[v].len() > 1)
    }

    /// Where entering node `v` leads, for a flow leaving `from` (whose lane decides what a
    /// parallel join means: the next lane's first step, or past the join after the last).
    fn resolve(&self, mut v: usize, from: usize) -> Target {
        for _ in 0..=self.g.nodes.len() {
            if self.is_step(v) {
                return Target::Step(v);
            }
            if self.kind(v) == NodeType::End {
                return Target::End;
            }
            if let Some((group, k)) = self.lane.get(&from).copied()
                && let Some((Some(join), firsts)) = self.groups.get(&group)
                && *join == v
                && let Some(Some(next)) = firsts.get(k as usize + 1)
            {
                return Target::Step(*next);
            }
            match self.out[v].first() {
                Some((_, w)) => v = *w,
                None => return Target::End,
            }
        }
        Target::End
    }
}

/// A readable, unique step name per step node.
/// An unnamed gateway is "choice N", in flow order.
fn step_names(f: &Flow<'_>) -> HashMap<usize, String> {
    let mut names = HashMap::new();
    let mut used = HashSet::new();
    let mut choices = 0;
    for v in f.order.iter().copied().filter(|v| f.is_step(*v)) {
        let n = &f.g.nodes[v];
        let mut name = match (n.label.trim(), n.node_type) {
            ("", NodeType::Decision) => {
                choices += 1;
                format!("choice {choices}")
            }
            ("", _) => n.id.clone(),
            (l, _) => l.to_string(),
        };
        if !used.insert(name.clone()) || name == END {
            name = format!("{name} ({})", n.id);
            used.insert(name.clone());
        }
        names.insert(v, name);
    }
    names
}

/// `route_` and the gateway step's name, as a field name.
fn route_field(name: &str) -> String {
    let clean: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("route_{}", clean.trim_matches('_'))
}

/// The steps for a model from another tool, and the warnings about what was assumed.
pub fn steps_from_graph(g: &GraphSpec) -> Converted {
    let f = Flow::new(g);
    let names = step_names(&f);
    let name_of = |t: Target| match t {
        Target::Step(v) => names[&v].clone(),
        Target::End => END.to_string(),
    };
    let mut warnings = Vec::new();
    let mut loops: HashSet<usize> = HashSet::new();
    let listed: Vec<usize> = f.order.iter().copied().filter(|v| f.is_step(*v)).collect();
    let mut steps: Vec<Map<String, Value>> = Vec::new();
    for (pos, &v) in listed.iter().enumerate() {
        let node = &g.nodes[v];
        let mut s = Map::new();
        s.insert("name".into(), json!(names[&v]));
        set_action(&mut s, node);
        if let Some((group, k)) = f.lane.get(&v) {
            s.insert(
                "parallel".into(),
                json!({"group": g.nodes[*group].id, "lane": k + 1}),
            );
            if let Some(c) = f.lane_condition(*group, *k) {
                s.insert("conditions".into(), c);
            }
        }
        let following = listed.get(pos + 1).copied();
        if node.node_type == NodeType::Decision {
            let (branches, default, warning) =
                gateway_branches(&f, v, &names[&v], &name_of, &mut loops);
            if let Some(d) = default {
                s.insert("default_next".into(), json!(d));
            }
            s.insert("branches".into(), Value::Array(branches));
            warnings.extend(warning);
        } else if let Some((e, w)) = f.out[v].first().copied() {
            if f.out[v].len() > 1 {
                warnings.push(format!(
                    "{:?} has {} outgoing flows without a gateway: only the first is followed",
                    names[&v],
                    f.out[v].len()
                ));
            }
            let t = f.resolve(w, v);
            if f.back.contains(&e)
                && let Target::Step(t) = t
            {
                loops.insert(t);
            }
            if t != following.map_or(Target::End, Target::Step) {
                s.insert("default_next".into(), json!(name_of(t)));
            }
        }
        steps.push(s);
    }
    for (s, v) in steps.iter_mut().zip(&listed) {
        if loops.contains(v) {
            s.insert("max_iterations".into(), json!(LOOP_BOUND));
            warnings.push(format!(
                "the loop back to {:?} is bounded at {LOOP_BOUND} runs (max_iterations)",
                names[v]
            ));
        }
    }
    bound_every_loop(&mut steps, &mut warnings);
    Converted {
        steps: Value::Array(steps.into_iter().map(Value::Object).collect()),
        warnings,
    }
}

/// A step's action: the node's (a typed task's), an approval for an untyped approval node, a
/// routing step for a decision, else a plain task.
fn set_action(s: &mut Map<String, Value>, node: &super::body::GraphNode) {
    let action = match (node.node_type, node.action.as_deref()) {
        (NodeType::Decision, _) => GATEWAY,
        (NodeType::Approval, None | Some("approval")) => {
            s.insert("approver".into(), json!("approver"));
            "approval"
        }
        (_, Some(a)) => a,
        (_, None) => "task",
    };
    s.insert("action".into(), json!(action));
}

/// An exclusive gateway's branches: one per outgoing flow, with the flow's JSON condition, or
/// else a condition on a routing field the user fills in (and a warning saying so); and the
/// default: the first flow that does not loop back.
fn gateway_branches(
    f: &Flow<'_>,
    v: usize,
    name: &str,
    name_of: &dyn Fn(Target) -> String,
    loops: &mut HashSet<usize>,
) -> (Vec<Value>, Option<String>, Option<String>) {
    let node = &f.g.nodes[v];
    let field = route_field(name);
    let mut branches = Vec::new();
    let mut assumed = Vec::new();
    // The model's own default flow, when it names one: taken when no condition holds.
    let marked = f.out[v]
        .iter()
        .find(|(e, _)| f.g.edges[*e].is_default)
        .map(|(e, w)| (*e, name_of(f.resolve(*w, v))));
    let mut default = marked.as_ref().map(|(_, t)| t.clone());
    for (e, w) in f.out[v].iter().copied() {
        let t = f.resolve(w, v);
        let target = name_of(t);
        if marked.as_ref().is_some_and(|(d, _)| *d == e) {
            if let (Target::Step(t), true) = (t, f.back.contains(&e)) {
                loops.insert(t);
            }
            continue;
        }
        // A flow loops when it goes back itself, or leads to a step that goes back (rework).
        let step_goes_back = |x: usize| f.out[x].first().is_some_and(|(e2, _)| f.back.contains(e2));
        match t {
            Target::Step(t) if f.back.contains(&e) => {
                loops.insert(t);
            }
            Target::Step(t) if step_goes_back(t) => {}
            _ => {
                default.get_or_insert_with(|| target.clone());
            }
        }
        let value = if target == END {
            "end"
        } else {
            target.as_str()
        };
        let condition = match &f.g.edges[e].condition {
            Some(c) => c.clone(),
            None => {
                // A discovered flow has its probability instead, and needs no warning.
                if f.g.edges[e].probability.is_none() {
                    assumed.push(format!("{value:?}"));
                }
                Value::Object(Map::from_iter([(field.clone(), json!(value))]))
            }
        };
        let mut branch = json!({"condition": condition, "next_step": target});
        if let Some(p) = f.g.edges[e].probability {
            branch["probability"] = json!(p);
        }
        branches.push(branch);
    }
    let warning = (!assumed.is_empty()).then(|| {
        format!(
            "exclusiveGateway {:?} (step {name:?}): {} of its flows have no JSON condition, so \
             their branches test the input field {field:?} (one of {}); without it the first \
             branch that does not loop back is taken",
            node.id,
            assumed.len(),
            assumed.join(", ")
        )
    });
    (branches, default, warning)
}

/// Every flow that goes back to an earlier step (or to itself) needs a bound on a step of the
/// loop it closes. A model's loop may run through gateways and default flows that the
/// depth-first search did not see as closing it; this bounds each one still unbounded at its
/// first step, as the workflow's own check counts loops.
fn bound_every_loop(steps: &mut [Map<String, Value>], warnings: &mut Vec<String>) {
    let index: HashMap<String, usize> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((s.get("name")?.as_str()?.to_string(), i)))
        .collect();
    for i in 0..steps.len() {
        let mut targets: Vec<&str> = steps[i]
            .get("branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|b| b.get("next_step").and_then(Value::as_str))
            .collect();
        targets.extend(steps[i].get("default_next").and_then(Value::as_str));
        let back: Vec<usize> = targets
            .iter()
            .filter_map(|t| index.get(*t).copied())
            .filter(|t| *t <= i)
            .collect();
        for t in back {
            if steps[t..=i]
                .iter()
                .any(|s| s.contains_key("max_iterations"))
            {
                continue;
            }
            steps[t].insert("max_iterations".into(), json!(LOOP_BOUND));
            warnings.push(format!(
                "the loop from {:?} back to {:?} (through gateways or a default flow) is bounded \
                 at {LOOP_BOUND} runs (max_iterations)",
                index_name(steps, i),
                index_name(steps, t)
            ));
        }
    }
}

fn index_name(steps: &[Map<String, Value>], i: usize) -> String {
    steps[i]
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

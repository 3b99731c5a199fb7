//! A workflow's steps drawn as a template graph (pure), for a template or workflow that has
//! no hand-drawn graph: a start, a node per step (a decision for a routing step), a parallel
//! split and join round each parallel group, and an end; the flows follow the steps'
//! routing, with each branch's condition and probability and the default flow marked. Laid
//! out left to right (`layout`). A step that goes back to an earlier one has that one flow:
//! its bound (`max_iterations`) is not BPMN's to say, and rides along in the blueprint.
use super::body::{GraphEdge, GraphNode, GraphSpec, NodeType, TemplateBody};
use super::layout::lay_out;
use crate::workflows::steps::{END, GATEWAY, Step};
use serde_json::Value;
use std::collections::HashMap;

const START: &str = "start";
const FINISH: &str = "end";

/// The action types that a BPMN user task stands for.
pub fn is_human(action: &str) -> bool {
    matches!(action, "approval" | "user_task" | "manual_task")
}

fn node(id: String, node_type: NodeType, label: &str, action: Option<&str>) -> GraphNode {
    GraphNode {
        id,
        node_type,
        label: label.to_string(),
        x: 0.0,
        y: 0.0,
        action: action.map(str::to_string),
    }
}

/// Where the steps sit: each step's node id, and each parallel group's span of steps.
struct Plan<'a> {
    steps: &'a [Step],
    index: HashMap<&'a str, usize>,
    /// Per step: (group, lane) when in a parallel group.
    lane: Vec<Option<(&'a str, u32)>>,
    /// Per group: its first and last step.
    span: HashMap<&'a str, (usize, usize)>,
}

impl<'a> Plan<'a> {
    fn new(steps: &'a [Step]) -> Self {
        let lane: Vec<_> = steps
            .iter()
            .map(|s| s.parallel.as_ref().map(|p| (p.group.as_str(), p.lane)))
            .collect();
        let mut span: HashMap<&str, (usize, usize)> = HashMap::new();
        for (i, l) in lane.iter().enumerate() {
            if let Some((g, _)) = l {
                span.entry(g).or_insert((i, i)).1 = i;
            }
        }
        Plan {
            steps,
            index: steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.as_str(), i))
                .collect(),
            lane,
            span,
        }
    }

    fn step_id(i: usize) -> String {
        format!("step_{}", i + 1)
    }

    fn group(&self, i: usize) -> Option<&'a str> {
        self.lane.get(i).copied().flatten().map(|(g, _)| g)
    }

    /// The node a flow from step `from` (None: the start) to step `to` (None: the end) enters:
    /// the group's split when it enters a group from outside, the group's join when it leaves
    /// its lane for another lane of the group.
    fn enter(&self, from: Option<usize>, to: Option<usize>) -> String {
        let Some(t) = to.filter(|t| *t < self.steps.len()) else {
            return match from.and_then(|f| self.group(f)) {
                Some(g) => format!("join_{g}"),
                None => FINISH.into(),
            };
        };
        let (fg, tg) = (from.and_then(|f| self.group(f)), self.group(t));
        match (fg, tg) {
            (Some(a), _) if tg != Some(a) => format!("join_{a}"),
            (Some(a), Some(_)) if self.lane[from.unwrap_or(0)] != self.lane[t] => {
                format!("join_{a}")
            }
            (None, Some(b)) => format!("split_{b}"),
            _ => Self::step_id(t),
        }
    }

    fn target(&self, name: &str) -> Option<usize> {
        match name {
            END => None,
            n => self.index.get(n).copied(),
        }
    }

    /// The step after `i` when nothing routes elsewhere: its `default_next`, else the next.
    fn fall_through(&self, i: usize) -> Option<usize> {
        match &self.steps[i].default_next {
            Some(n) => self.target(n),
            None => Some(i + 1),
        }
    }
}

fn edge(from: &str, to: String) -> GraphEdge {
    GraphEdge {
        from: from.to_string(),
        to,
        condition: None,
        probability: None,
        is_default: false,
    }
}

/// The nodes: start, steps, each group's split and join, end.
fn nodes(p: &Plan<'_>) -> Vec<GraphNode> {
    let mut out = vec![node(START.into(), NodeType::Trigger, "Start", None)];
    for (i, s) in p.steps.iter().enumerate() {
        if let Some(g) = p.group(i)
            && p.span[g].0 == i
        {
            out.push(node(format!("split_{g}"), NodeType::Parallel, "", None));
        }
        let (t, action) = match s.action.as_str() {
            GATEWAY => (NodeType::Decision, None),
            a if is_human(a) => (NodeType::Approval, Some(a)),
            a => (NodeType::Action, Some(a)),
        };
        out.push(node(Plan::step_id(i), t, &s.name, action));
        if let Some(g) = p.group(i)
            && p.span[g].1 == i
        {
            out.push(node(format!("join_{g}"), NodeType::Parallel, "", None));
        }
    }
    out.push(node(FINISH.into(), NodeType::End, "End", None));
    out
}

/// The flows out of step `i`: its branches (with their conditions, probabilities and the
/// default), or the one flow to what follows it.
fn step_edges(p: &Plan<'_>, i: usize, out: &mut Vec<GraphEdge>) {
    let s = &p.steps[i];
    let from = Plan::step_id(i);
    let next = p.enter(Some(i), p.fall_through(i));
    match s.branches.as_deref().filter(|b| !b.is_empty()) {
        Some(branches) => {
            for b in branches {
                let mut e = edge(&from, p.enter(Some(i), p.target(&b.next_step)));
                e.condition = Some(b.condition.clone());
                e.probability = b.probability;
                out.push(e);
            }
            if !out.iter().any(|e| e.from == from && e.to == next) {
                let mut e = edge(&from, next);
                e.is_default = true;
                out.push(e);
            }
        }
        None => out.push(edge(&from, next)),
    }
}

/// The flows: from the start, out of every step, and out of each group's split and join.
fn edges(p: &Plan<'_>) -> Vec<GraphEdge> {
    let mut out = vec![edge(
        START,
        p.enter(None, (!p.steps.is_empty()).then_some(0)),
    )];
    for i in 0..p.steps.len() {
        if let Some(g) = p.group(i) {
            let first_of_lane = i == 0 || p.lane[i - 1] != p.lane[i];
            if first_of_lane {
                out.push(edge(&format!("split_{g}"), Plan::step_id(i)));
            }
        }
        step_edges(p, i, &mut out);
        if let Some(g) = p.group(i)
            && p.span[g].1 == i
        {
            let after = (i + 1 < p.steps.len()).then_some(i + 1);
            out.push(edge(&format!("join_{g}"), p.enter(None, after)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| e.condition.is_some() || seen.insert((e.from.clone(), e.to.clone())));
    out
}

/// The graph of a workflow's steps (a JSON array in the step model), laid out; an error names
/// what is wrong with the steps.
pub fn graph_from_steps(steps: &Value) -> Result<GraphSpec, String> {
    let steps: Vec<Step> = serde_json::from_value(steps.clone()).map_err(|e| e.to_string())?;
    let p = Plan::new(&steps);
    let mut g = GraphSpec {
        nodes: nodes(&p),
        edges: edges(&p),
    };
    lay_out(&mut g);
    Ok(g)
}

/// The graph a template is drawn with: its own when that shows every task step (a node
/// labelled with the step's name, or with the name an import gave it: `label (id)`), else
/// the one its steps make. A hand-drawn graph that leaves steps out would export a diagram
/// that is not the workflow. (Routing steps may be unnamed gateways in a drawn graph.)
pub fn graph_for(t: &TemplateBody) -> GraphSpec {
    let names: Vec<&str> = t
        .process_steps
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s.get("action").and_then(Value::as_str) != Some(GATEWAY))
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .collect();
    let shows = |name: &str| {
        t.graph_spec
            .nodes
            .iter()
            .any(|g| g.label == name || format!("{} ({})", g.label, g.id) == name)
    };
    let shows_every_step = !t.graph_spec.nodes.is_empty() && names.iter().all(|n| shows(n));
    if shows_every_step {
        return t.graph_spec.clone();
    }
    graph_from_steps(&t.process_steps).unwrap_or_else(|_| t.graph_spec.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flows(g: &GraphSpec) -> Vec<(String, String)> {
        g.edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_choice_a_parallel_group_and_a_loop_become_gateways_and_flows() {
        let steps = json!([
            {"name": "Check", "action": "check"},
            {"name": "Route", "action": "gateway", "branches": [
                {"condition": {"amount": {"gt": 100}}, "next_step": "Approve", "probability": 0.3}
            ], "default_next": "Pay"},
            {"name": "Approve", "action": "approval", "approver": "manager"},
            {"name": "Reserve", "action": "reserve", "parallel": {"group": "g", "lane": 1}},
            {"name": "Invoice", "action": "invoice", "parallel": {"group": "g", "lane": 2}},
            {"name": "Pay", "action": "pay", "default_next": "Check", "max_iterations": 2},
        ]);
        let g = graph_from_steps(&steps).unwrap();
        let kinds: Vec<NodeType> = g.nodes.iter().map(|n| n.node_type).collect();
        use NodeType::*;
        assert_eq!(
            kinds,
            [
                Trigger, Action, Decision, Approval, Parallel, Action, Action, Parallel, Action,
                End
            ]
        );
        assert_eq!(
            flows(&g),
            pairs(&[
                ("start", "step_1"),
                ("step_1", "step_2"),
                ("step_2", "step_3"),
                ("step_2", "step_6"),
                ("step_3", "split_g"),
                ("split_g", "step_4"),
                ("step_4", "join_g"),
                ("split_g", "step_5"),
                ("step_5", "join_g"),
                ("join_g", "step_6"),
                ("step_6", "step_1"),
            ])
        );
        let branch = &g.edges[2];
        assert_eq!((branch.probability, branch.is_default), (Some(0.3), false));
        assert!(g.edges[3].is_default && g.edges[3].condition.is_none());
        assert_eq!(g.nodes[3].action.as_deref(), Some("approval"));
        assert!(g.nodes.iter().all(|n| n.x > 0.0 && n.y > 0.0));
    }

    #[test]
    fn steps_that_are_not_the_step_model_are_an_error() {
        assert!(graph_from_steps(&json!([{"name": "a"}])).is_err());
        let g = graph_from_steps(&json!([])).unwrap();
        assert_eq!(flows(&g), pairs(&[("start", "end")]));
    }
}

//! A process tree drawn as a BPMN-shaped graph (pure): tasks, exclusive gateways for choices
//! and loops, parallel gateways for concurrency. Each flow out of a choice carries its
//! observed probability, and its condition when decision mining found one. The workflow's
//! steps come from this graph through the same conversion as an imported BPMN model, so a
//! discovered workflow and its BPMN export read back alike.
use super::imf::Tree;
use crate::templates::body::{GraphEdge, GraphNode, GraphSpec, NodeType};
use serde_json::Value;

/// What an edge leaving a choice carries until the edge is drawn (a silent branch passes it
/// on to the next edge).
#[derive(Clone, Default)]
struct Pending {
    probability: Option<f64>,
    condition: Option<Value>,
}

/// Decides each choice's branch conditions: given the branches and the cases that took each,
/// one optional condition per branch.
pub type Rules<'a> = dyn Fn(&[(Tree, Vec<u32>)]) -> Vec<Option<Value>> + 'a;

pub struct Drawer<'a> {
    labels: &'a [String],
    approval: &'a dyn Fn(&str) -> bool,
    rules: &'a Rules<'a>,
    g: GraphSpec,
    gateways: usize,
}

impl<'a> Drawer<'a> {
    pub fn new(
        labels: &'a [String],
        approval: &'a dyn Fn(&str) -> bool,
        rules: &'a Rules<'a>,
    ) -> Self {
        Drawer {
            labels,
            approval,
            rules,
            g: GraphSpec::default(),
            gateways: 0,
        }
    }

    /// The whole graph: start event, the tree, end event.
    pub fn draw(mut self, tree: &Tree) -> GraphSpec {
        let start = self.node(NodeType::Trigger, "start".into(), String::new());
        let (last, pending) = self.emit(tree, start, Pending::default());
        let end = self.node(NodeType::End, "end".into(), String::new());
        self.edge(&last, &end, pending);
        self.g
    }

    fn node(&mut self, t: NodeType, id: String, label: String) -> String {
        let x = 150.0 * self.g.nodes.len() as f64;
        self.g.nodes.push(GraphNode {
            id: id.clone(),
            node_type: t,
            label,
            x,
            y: 100.0,
        });
        id
    }

    fn gateway(&mut self, t: NodeType, label: &str) -> String {
        self.gateways += 1;
        let id = format!("gateway_{}", self.gateways);
        self.node(t, id, label.into())
    }

    fn edge(&mut self, from: &str, to: &str, p: Pending) {
        self.g.edges.push(GraphEdge {
            from: from.into(),
            to: to.into(),
            condition: p.condition,
            probability: p.probability,
        });
    }

    /// Draws `t` after node `from`; returns the node it ends at and what the next edge from
    /// there must carry.
    fn emit(&mut self, t: &Tree, from: String, p: Pending) -> (String, Pending) {
        match t {
            Tree::Tau => (from, p),
            Tree::Activity(a) => {
                let label = self.labels[*a as usize].clone();
                let kind = if (self.approval)(&label) {
                    NodeType::Approval
                } else {
                    NodeType::Action
                };
                let id = format!("task_{}", self.g.nodes.len());
                let id = self.node(kind, id, label);
                self.edge(&from, &id, p);
                (id, Pending::default())
            }
            Tree::Sequence(children) => children
                .iter()
                .fold((from, p), |(at, p), c| self.emit(c, at, p)),
            Tree::Xor(children) => (self.choice(children, from, p), Pending::default()),
            Tree::And(children) => (self.concurrent(children, from, p), Pending::default()),
            Tree::Loop {
                body,
                redo,
                body_runs,
            } => self.repeat(body, redo, *body_runs, from, p),
        }
    }

    fn choice(&mut self, children: &[(Tree, Vec<u32>)], from: String, p: Pending) -> String {
        let split = self.gateway(NodeType::Decision, "");
        self.edge(&from, &split, p);
        let total: usize = children.iter().map(|(_, c)| c.len()).sum();
        let conditions = (self.rules)(children);
        let mut ends = Vec::new();
        for ((child, cases), condition) in children.iter().zip(conditions) {
            let probability = (total > 0).then(|| cases.len() as f64 / total as f64);
            let pending = Pending {
                probability,
                condition,
            };
            ends.push(self.emit(child, split.clone(), pending));
        }
        let join = self.gateway(NodeType::Decision, "");
        for (end, pending) in ends {
            self.edge(&end, &join, pending);
        }
        join
    }

    fn concurrent(&mut self, children: &[Tree], from: String, p: Pending) -> String {
        let split = self.gateway(NodeType::Parallel, "");
        self.edge(&from, &split, p);
        let ends: Vec<(String, Pending)> = children
            .iter()
            .map(|c| self.emit(c, split.clone(), Pending::default()))
            .collect();
        let join = self.gateway(NodeType::Parallel, "");
        for (end, pending) in ends {
            self.edge(&end, &join, pending);
        }
        join
    }

    /// join → body → split; split → redo → join (the flow back), or split → onwards.
    fn repeat(
        &mut self,
        body: &Tree,
        redo: &[(Tree, Vec<u32>)],
        body_runs: usize,
        from: String,
        p: Pending,
    ) -> (String, Pending) {
        let join = self.gateway(NodeType::Decision, "");
        self.edge(&from, &join, p);
        let (end, pending) = self.emit(body, join.clone(), Pending::default());
        let split = self.gateway(NodeType::Decision, "");
        self.edge(&end, &split, pending);
        let redo_runs: usize = redo.iter().map(|(_, c)| c.len()).sum();
        let share = |n: usize| (body_runs > 0).then(|| n as f64 / body_runs as f64);
        for (r, cases) in redo {
            let pending = Pending {
                probability: share(cases.len()),
                condition: None,
            };
            let (back, pending) = self.emit(r, split.clone(), pending);
            self.edge(&back, &join, pending);
        }
        let exit = Pending {
            probability: share(body_runs.saturating_sub(redo_runs)),
            condition: None,
        };
        (split, exit)
    }
}

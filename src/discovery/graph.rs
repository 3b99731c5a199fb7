//! A process tree drawn as a BPMN-shaped graph (pure): tasks, exclusive gateways for choices
//! and loops, parallel gateways for concurrency. Each flow out of a choice carries its
//! observed probability, and its condition when decision mining found one. The workflow's
//! steps come from this graph through the same conversion as an imported BPMN model, so a
//! discovered workflow and its BPMN export read back alike.
use super::imf::Tree;
use crate::templates::body::{GraphEdge, GraphNode, GraphSpec, NodeType};
use crate::workflows::branch_model::BranchModel;
use serde_json::Value;

/// What an edge leaving a choice carries until the edge is drawn (a silent branch passes it
/// on to the next edge).
#[derive(Clone, Default)]
struct Pending {
    probability: Option<f64>,
    condition: Option<Value>,
}

/// What decision mining says of one choice: an optional condition per branch, and how the
/// branch depends on the input (counts in the order of the branches).
pub struct Mined {
    pub conditions: Vec<Option<Value>>,
    pub model: Option<BranchModel>,
}

/// Mines each choice: given the branches and the cases that took each.
pub type Rules<'a> = dyn Fn(&[(Tree, Vec<u32>)]) -> Mined + 'a;

pub struct Drawer<'a> {
    labels: &'a [String],
    approval: &'a dyn Fn(&str) -> bool,
    rules: &'a Rules<'a>,
    g: GraphSpec,
    gateways: usize,
    choices: usize,
    /// Each choice gateway's label and branch model, its counts in the order of the
    /// gateway's outgoing flows.
    models: Vec<(String, BranchModel)>,
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
            choices: 0,
            models: Vec::new(),
        }
    }

    /// The whole graph (start event, the tree, end event), and the choices' branch models by
    /// gateway label (a split gateway is labelled "choice N", so its step has that name).
    pub fn draw(mut self, tree: &Tree) -> (GraphSpec, Vec<(String, BranchModel)>) {
        let start = self.node(NodeType::Trigger, "start".into(), String::new());
        let (last, pending) = self.emit(tree, start, Pending::default());
        let end = self.node(NodeType::End, "end".into(), String::new());
        self.edge(&last, &end, pending);
        (self.g, self.models)
    }

    /// A split gateway, labelled "choice N" in drawing order.
    fn split(&mut self) -> String {
        self.choices += 1;
        let label = format!("choice {}", self.choices);
        self.gateway(NodeType::Decision, &label)
    }

    fn node(&mut self, t: NodeType, id: String, label: String) -> String {
        let x = 150.0 * self.g.nodes.len() as f64;
        self.g.nodes.push(GraphNode {
            id: id.clone(),
            node_type: t,
            label,
            x,
            y: 100.0,
            action: None,
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
            is_default: false,
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
        let split = self.split();
        self.edge(&from, &split, p);
        let total: usize = children.iter().map(|(_, c)| c.len()).sum();
        let mined = (self.rules)(children);
        let mut ends = Vec::new();
        // The child each flow out of the split belongs to, by edge index.
        let mut child_of: Vec<(usize, usize)> = Vec::new();
        for (k, ((child, cases), condition)) in children.iter().zip(mined.conditions).enumerate() {
            let probability = (total > 0).then(|| cases.len() as f64 / total as f64);
            let pending = Pending {
                probability,
                condition,
            };
            let first = self.g.edges.len();
            ends.push(self.emit(child, split.clone(), pending));
            child_of.extend(self.out_of(&split, first).map(|e| (e, k)));
        }
        let join = self.gateway(NodeType::Decision, "");
        for (k, (end, pending)) in ends.into_iter().enumerate() {
            let first = self.g.edges.len();
            self.edge(&end, &join, pending);
            child_of.extend(self.out_of(&split, first).map(|e| (e, k)));
        }
        if let Some(mut model) = mined.model {
            child_of.sort_unstable();
            let order: Vec<usize> = child_of.iter().map(|(_, k)| *k).collect();
            permute(&mut model, &order);
            let label = self
                .g
                .nodes
                .iter()
                .find(|n| n.id == split)
                .map(|n| n.label.clone());
            self.models.extend(label.map(|l| (l, model)));
        }
        join
    }

    /// The edges from `node` added since edge index `first`.
    fn out_of<'s>(&'s self, node: &'s str, first: usize) -> impl Iterator<Item = usize> + 's {
        (first..self.g.edges.len()).filter(move |e| self.g.edges[*e].from == node)
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
        let split = self.split();
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

/// Reorders every node's counts so that entry `e` is the count of child `order[e]`.
fn permute(m: &mut BranchModel, order: &[usize]) {
    m.counts = order
        .iter()
        .map(|k| m.counts.get(*k).copied().unwrap_or(0))
        .collect();
    if let Some(s) = m.split.as_mut() {
        permute(&mut s.yes, order);
        permute(&mut s.no, order);
    }
}

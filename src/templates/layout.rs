//! Automatic layout of a template graph (pure): layered, left to right, by the Sugiyama
//! method (cycle removal, layering, crossing reduction, coordinates) as the `rust-sugiyama`
//! crate implements it. The crate lays out top to bottom; we hand it each node's size turned
//! a quarter and read its layers as columns.
use super::body::{GraphSpec, NodeType};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Space between columns and between nodes in a column, and the margin round the diagram.
const GAP: f64 = 60.0;
const MARGIN: f64 = 40.0;

/// A node's size in a diagram (width, height), as BPMN tools draw it.
pub fn size(t: NodeType) -> (f64, f64) {
    match t {
        NodeType::Trigger | NodeType::End => (36.0, 36.0),
        NodeType::Decision | NodeType::Parallel => (50.0, 50.0),
        NodeType::Action | NodeType::Approval => (100.0, 80.0),
    }
}

/// Per node: (layer, position along the layer), from the crate; None if it could not lay the
/// graph out.
fn sugiyama(g: &GraphSpec) -> Option<Vec<(usize, f64)>> {
    let index: HashMap<&str, u32> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i as u32))
        .collect();
    let vertices: Vec<(u32, (f64, f64))> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (w, h) = size(n.node_type);
            (i as u32, (h, w))
        })
        .collect();
    let all: Vec<(u32, u32)> = g
        .edges
        .iter()
        .filter_map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?)))
        .filter(|(a, b)| a != b)
        .collect();
    let back = back_edges(g, &all);
    let mut edges: Vec<(u32, u32)> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !back.contains(i))
        .map(|(_, e)| *e)
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let config = rust_sugiyama::configure::Config {
        vertex_spacing: GAP / 2.0,
        ..Default::default()
    };
    // The crate asserts its own invariants; a panic there must not take the request down.
    let layouts = std::panic::catch_unwind(|| {
        rust_sugiyama::from_vertices_and_edges(&vertices, &edges, &config)
    })
    .ok()?;
    let mut out = vec![None; g.nodes.len()];
    let mut first_layer = 0;
    for (nodes, _, _) in layouts {
        // Layers of this component, by their coordinate across layers.
        let mut ys: Vec<f64> = nodes.iter().map(|(_, (_, y))| *y).collect();
        ys.sort_by(f64::total_cmp);
        ys.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
        for (v, (x, y)) in &nodes {
            let layer = ys.iter().position(|l| (l - y).abs() < 1e-6)?;
            *out.get_mut(*v)? = Some((first_layer + layer, *x));
        }
        first_layer += ys.len().max(1);
    }
    out.into_iter().collect()
}

/// The edges (by index) that close a loop, found depth first from the start events (then
/// from whatever nothing leads to, then from the rest): with them left out, the flow from the
/// start runs left to right and only loops run back. (The crate's own cycle removal picks a
/// minimal set, which may turn the start's own flow around.)
fn back_edges(g: &GraphSpec, edges: &[(u32, u32)]) -> HashSet<usize> {
    let n = g.nodes.len();
    let mut out_of = vec![Vec::new(); n];
    let mut has_in = vec![false; n];
    for (i, (a, b)) in edges.iter().enumerate() {
        out_of[*a as usize].push((i, *b as usize));
        has_in[*b as usize] = true;
    }
    let mut roots: Vec<usize> = (0..n).collect();
    roots.sort_by_key(|v| (g.nodes[*v].node_type != NodeType::Trigger, has_in[*v]));
    depth_first_back_edges(&out_of, roots)
}

/// Depth first over `out_of` (per node: (edge index, target)) from each root in turn: the
/// edges that lead to a node still on the path.
pub fn depth_first_back_edges(
    out_of: &[Vec<(usize, usize)>],
    roots: impl IntoIterator<Item = usize>,
) -> HashSet<usize> {
    let n = out_of.len();
    let (mut state, mut next) = (vec![0u8; n], vec![0usize; n]);
    let mut back = HashSet::new();
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack = vec![root];
        while let Some(&v) = stack.last() {
            match out_of[v].get(next[v]).copied() {
                Some((e, w)) => {
                    next[v] += 1;
                    match state[w] {
                        0 => {
                            state[w] = 1;
                            stack.push(w);
                        }
                        1 => {
                            back.insert(e);
                        }
                        _ => {}
                    }
                }
                None => {
                    state[v] = 2;
                    stack.pop();
                }
            }
        }
    }
    back
}

/// Longest-path layers over the edges in document order, each node in its own row: the
/// fallback when the crate gives no layout.
fn plain_layers(g: &GraphSpec) -> Vec<(usize, f64)> {
    let index: HashMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut layer = vec![0usize; g.nodes.len()];
    for _ in 0..g.nodes.len() {
        let mut moved = false;
        for e in &g.edges {
            if let (Some(&a), Some(&b)) = (index.get(e.from.as_str()), index.get(e.to.as_str()))
                && a < b
                && layer[b] <= layer[a]
            {
                layer[b] = layer[a] + 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    layer
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l, i as f64 * 100.0))
        .collect()
}

/// Sets every node's `x` and `y` (its top-left corner): layers become columns from left to
/// right, each as wide as its widest node, and nodes keep their order and spacing within a
/// column, centred on one line where the crate put them in line.
pub fn lay_out(g: &mut GraphSpec) {
    if g.nodes.is_empty() {
        return;
    }
    let placed = sugiyama(g).unwrap_or_else(|| plain_layers(g));
    let mut widths: BTreeMap<usize, f64> = BTreeMap::new();
    for (n, (layer, _)) in g.nodes.iter().zip(&placed) {
        let w = widths.entry(*layer).or_default();
        *w = w.max(size(n.node_type).0);
    }
    let mut left: HashMap<usize, f64> = HashMap::new();
    let mut x = MARGIN;
    for (layer, w) in &widths {
        left.insert(*layer, x);
        x += w + GAP;
    }
    let top = placed.iter().map(|(_, c)| *c).fold(f64::INFINITY, f64::min);
    for (n, (layer, along)) in g.nodes.iter_mut().zip(placed) {
        let (w, h) = size(n.node_type);
        let column = widths[&layer];
        n.x = (left[&layer] + (column - w) / 2.0).round();
        n.y = (MARGIN + 50.0 + (along - top) - h / 2.0).round();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::body::{GraphEdge, GraphNode};

    fn graph(nodes: &[(&str, NodeType)], edges: &[(&str, &str)]) -> GraphSpec {
        GraphSpec {
            nodes: nodes
                .iter()
                .map(|(id, t)| GraphNode {
                    id: id.to_string(),
                    node_type: *t,
                    label: id.to_string(),
                    x: 0.0,
                    y: 0.0,
                    action: None,
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(a, b)| GraphEdge {
                    from: a.to_string(),
                    to: b.to_string(),
                    condition: None,
                    probability: None,
                    is_default: false,
                })
                .collect(),
        }
    }

    fn overlap(a: &GraphNode, b: &GraphNode) -> bool {
        let (aw, ah) = size(a.node_type);
        let (bw, bh) = size(b.node_type);
        a.x < b.x + bw && b.x < a.x + aw && a.y < b.y + bh && b.y < a.y + ah
    }

    #[test]
    fn a_choice_with_a_loop_flows_left_to_right_without_overlaps() {
        use NodeType::*;
        let mut g = graph(
            &[
                ("start", Trigger),
                ("a", Action),
                ("x", Decision),
                ("b", Action),
                ("c", Approval),
                ("m", Decision),
                ("end", End),
            ],
            &[
                ("start", "a"),
                ("a", "x"),
                ("x", "b"),
                ("x", "c"),
                ("b", "m"),
                ("c", "m"),
                ("m", "a"),
                ("m", "end"),
            ],
        );
        lay_out(&mut g);
        let at = |id: &str| g.nodes.iter().find(|n| n.id == id).unwrap();
        // Every forward flow goes right; the loop back is the one that goes left.
        for (a, b) in [
            ("start", "a"),
            ("a", "x"),
            ("x", "b"),
            ("x", "c"),
            ("m", "end"),
        ] {
            assert!(at(a).x < at(b).x, "{a} {b}: {:?}", g.nodes);
        }
        assert_eq!(at("b").x, at("c").x, "the two branches share a column");
        assert_ne!(at("b").y, at("c").y);
        for (i, a) in g.nodes.iter().enumerate() {
            assert!(a.x >= 0.0 && a.y >= 0.0, "{a:?}");
            for b in &g.nodes[i + 1..] {
                assert!(!overlap(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn two_unconnected_parts_do_not_overlap() {
        use NodeType::*;
        let mut g = graph(
            &[("a", Action), ("b", Action), ("c", Action), ("d", Action)],
            &[("a", "b"), ("c", "d")],
        );
        lay_out(&mut g);
        for (i, a) in g.nodes.iter().enumerate() {
            for b in &g.nodes[i + 1..] {
                assert!(!overlap(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }
}

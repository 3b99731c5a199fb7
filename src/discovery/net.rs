//! A process tree as a workflow net (pure), the way pm4py converts one: an activity is a
//! labelled transition, tau and the routing of parallel blocks and loops are silent ones.
use super::imf::Tree;
use crate::conformance::Net;

/// The net of `tree`, whose activities index `names`.
pub fn of_tree(tree: &Tree, names: &[String]) -> Net {
    let mut net = Net::new();
    let (from, to) = (net.source, net.sink);
    add(&mut net, tree, names, from, to);
    net
}

fn add(net: &mut Net, t: &Tree, names: &[String], from: usize, to: usize) {
    match t {
        Tree::Tau => net.transition(None, vec![from], vec![to]),
        Tree::Activity(a) => net.transition(Some(names[*a as usize].clone()), vec![from], vec![to]),
        Tree::Sequence(c) if c.is_empty() => net.transition(None, vec![from], vec![to]),
        Tree::Sequence(c) => {
            let mut at = from;
            for (i, child) in c.iter().enumerate() {
                let next = if i + 1 == c.len() { to } else { net.place() };
                add(net, child, names, at, next);
                at = next;
            }
        }
        Tree::Xor(c) => {
            for (child, _) in c {
                add(net, child, names, from, to);
            }
        }
        Tree::And(c) => {
            let ins: Vec<usize> = c.iter().map(|_| net.place()).collect();
            let outs: Vec<usize> = c.iter().map(|_| net.place()).collect();
            net.transition(None, vec![from], ins.clone());
            for (i, child) in c.iter().enumerate() {
                add(net, child, names, ins[i], outs[i]);
            }
            net.transition(None, outs, vec![to]);
        }
        Tree::Loop { body, redo, .. } => {
            let (enter, leave) = (net.place(), net.place());
            net.transition(None, vec![from], vec![enter]);
            add(net, body, names, enter, leave);
            for (r, _) in redo {
                add(net, r, names, leave, enter);
            }
            net.transition(None, vec![leave], vec![to]);
        }
    }
}

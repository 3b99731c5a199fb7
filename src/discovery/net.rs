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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::net::{Marking, Tokens};
    use crate::discovery::synth;
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use std::collections::{HashSet, VecDeque};

    /// How far a search over silent transitions gets, by the plain way: breadth-first over
    /// every marking, every silent transition in every order. `Some(Some(n))`: the shortest
    /// way takes `n` firings; `Some(None)`: no way exists; `None`: too many markings to tell.
    fn brute(net: &Net, m: &Marking, goal: impl Fn(&Tokens) -> bool) -> Option<Option<usize>> {
        let silent: Vec<usize> = (0..net.transitions.len())
            .filter(|t| net.transitions[*t].label.is_none())
            .collect();
        let mut seen: HashSet<Marking> = HashSet::from([m.clone()]);
        let mut queue = VecDeque::from([(m.clone(), 0)]);
        while let Some((cur, d)) = queue.pop_front() {
            if goal(&Tokens::of(&cur)) {
                return Some(Some(d));
            }
            for t in silent.iter().filter(|t| net.enabled(&cur, **t)) {
                let mut next = cur.clone();
                net.fire(&mut next, *t);
                if seen.insert(next.clone()) {
                    queue.push_back((next, d + 1));
                }
            }
            if seen.len() > 50_000 {
                return None;
            }
        }
        Some(None)
    }

    /// Checks one search's answer against the plain way's; returns whether a way was found.
    fn agrees(
        net: &Net,
        m: &Marking,
        found: Option<Vec<usize>>,
        goal: impl Fn(&Tokens) -> bool,
    ) -> bool {
        let Some(expected) = brute(net, m, &goal) else {
            return false;
        };
        assert_eq!(found.as_ref().map(Vec::len), expected, "{m:?} in {net:?}");
        let Some(path) = found else {
            return false;
        };
        let mut end = m.clone();
        for t in path {
            assert!(net.transitions[t].label.is_none());
            assert_eq!(
                net.fire(&mut end, t).0,
                0,
                "a silent transition fired short"
            );
        }
        assert!(goal(&Tokens::of(&end)));
        true
    }

    #[test]
    fn the_reduced_searches_find_the_shortest_ways_that_every_order_finds() {
        // Random trees' nets, in markings that a replay can reach: from the start, random
        // transitions fired, with whatever tokens they lack added (as a trace that does not
        // fit leaves them).
        let mut rng = StdRng::seed_from_u64(7);
        let mut found = [0; 3];
        for seed in 1..=40 {
            let n = 6 + (seed as usize * 5) % 14;
            let names: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
            let net = of_tree(&synth::tree(n, seed), &names);
            let sink = net.sink;
            for k in 0..24 {
                let mut m = net.initial();
                for _ in 0..rng.random_range(0..30) {
                    let all = 0..net.transitions.len();
                    let enabled: Vec<usize> = all.filter(|t| net.enabled(&m, *t)).collect();
                    // Half the walks fire only what is enabled (a run of the model), half
                    // anything (a trace that does not fit).
                    let t = match k % 2 {
                        0 if !enabled.is_empty() => enabled[rng.random_range(0..enabled.len())],
                        _ => rng.random_range(0..net.transitions.len()),
                    };
                    net.fire(&mut m, t);
                }
                let to_sink = net.silent_path(&m, &[sink], |k| k.has(sink));
                found[0] += agrees(&net, &m, to_sink, |k| k.has(sink)) as usize;
                let clean = |k: &Tokens| k.len() == 1 && k.has(sink);
                let to_end = net.silent_path_for_every_token(&m, clean);
                found[1] += agrees(&net, &m, to_end, clean) as usize;
                let t = rng.random_range(0..net.transitions.len());
                let inputs = &net.transitions[t].inputs;
                let enabled = |k: &Tokens| net.enabled_by(k, t);
                let to_enable = net.silent_path(&m, inputs, enabled);
                found[2] += agrees(&net, &m, to_enable, enabled) as usize;
            }
        }
        // Each kind of search found a way often enough for the comparison to say something
        // (a clean end is rare in such markings: every step left must be skippable).
        let [to_sink, to_end, to_enable] = found;
        assert!(
            to_sink >= 200 && to_end >= 20 && to_enable >= 200,
            "{found:?}"
        );
    }
}

//! Generated process trees and their play-outs (pure, seeded): logs whose true model is known,
//! for the rediscovery benchmark (`cargo bench --bench rediscovery`) and its test fixtures.
use super::imf::{Act, Tree};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A random block-structured tree over activities `0..n`: sequences, exclusive choices,
/// parallel blocks and loops, two or three children each, split at random.
pub fn tree(n: usize, seed: u64) -> Tree {
    let mut rng = StdRng::seed_from_u64(seed);
    let acts: Vec<Act> = (0..n as Act).collect();
    grow(&acts, &mut rng)
}

fn grow(acts: &[Act], rng: &mut StdRng) -> Tree {
    if acts.len() == 1 {
        return Tree::Activity(acts[0]);
    }
    let roll: f64 = rng.random();
    let ways = if acts.len() >= 3 && rng.random_bool(0.3) {
        3
    } else {
        2
    };
    let parts = split(acts, ways, rng);
    let mut children: Vec<Tree> = parts.iter().map(|p| grow(p, rng)).collect();
    if roll < 0.40 {
        Tree::Sequence(children)
    } else if roll < 0.65 {
        Tree::Xor(children.into_iter().map(|c| (c, Vec::new())).collect())
    } else if roll < 0.85 {
        Tree::And(children)
    } else {
        let body = children.remove(0);
        Tree::Loop {
            body: Box::new(body),
            redo: children.into_iter().map(|c| (c, Vec::new())).collect(),
            body_runs: 0,
        }
    }
}

/// `acts` cut into `k` non-empty runs at random points.
fn split(acts: &[Act], k: usize, rng: &mut StdRng) -> Vec<Vec<Act>> {
    let mut cuts: Vec<usize> = Vec::new();
    while cuts.len() < k - 1 {
        let c = rng.random_range(1..acts.len());
        if !cuts.contains(&c) {
            cuts.push(c);
        }
    }
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for c in cuts.into_iter().chain([acts.len()]) {
        out.push(acts[from..c].to_vec());
        from = c;
    }
    out
}

/// How often a loop runs its redo again (so a loop runs its body 1 / (1 - p) times on average).
const REDO: f64 = 0.3;

/// `cases` traces of `tree`, each a random run of it; with `noise` (0 to 1), that share of the
/// traces gets one random change: an event dropped, two neighbours swapped, or a random
/// activity of `0..n` inserted.
pub fn play_out(tree: &Tree, n: usize, cases: usize, noise: f64, seed: u64) -> Vec<Vec<Act>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..cases)
        .map(|_| {
            let mut t = Vec::new();
            run(tree, &mut rng, &mut t);
            if rng.random_bool(noise) {
                disturb(&mut t, n, &mut rng);
            }
            t
        })
        .collect()
}

fn run(tree: &Tree, rng: &mut StdRng, out: &mut Vec<Act>) {
    match tree {
        Tree::Tau => {}
        Tree::Activity(a) => out.push(*a),
        Tree::Sequence(c) => c.iter().for_each(|t| run(t, rng, out)),
        Tree::Xor(c) => {
            let k = rng.random_range(0..c.len());
            run(&c[k].0, rng, out);
        }
        Tree::And(c) => {
            let mut lanes: Vec<std::collections::VecDeque<Act>> = c
                .iter()
                .map(|t| {
                    let mut v = Vec::new();
                    run(t, rng, &mut v);
                    v.into()
                })
                .collect();
            while lanes.iter().any(|l| !l.is_empty()) {
                let open: Vec<usize> = (0..lanes.len()).filter(|i| !lanes[*i].is_empty()).collect();
                let k = open[rng.random_range(0..open.len())];
                out.extend(lanes[k].pop_front());
            }
        }
        Tree::Loop { body, redo, .. } => {
            run(body, rng, out);
            let mut rounds = 0;
            while rounds < 10 && rng.random_bool(REDO) {
                let k = rng.random_range(0..redo.len());
                run(&redo[k].0, rng, out);
                run(body, rng, out);
                rounds += 1;
            }
        }
    }
}

fn disturb(t: &mut Vec<Act>, n: usize, rng: &mut StdRng) {
    match rng.random_range(0..3) {
        0 if !t.is_empty() => {
            let i = rng.random_range(0..t.len());
            t.remove(i);
        }
        1 if t.len() >= 2 => {
            let i = rng.random_range(0..t.len() - 1);
            t.swap(i, i + 1);
        }
        _ => {
            let i = rng.random_range(0..=t.len());
            t.insert(i, rng.random_range(0..n as Act));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::check;
    use crate::discovery::{Case, net::of_tree, tree as mine, variants};

    fn cases(traces: &[Vec<Act>]) -> Vec<Case> {
        traces
            .iter()
            .map(|t| Case {
                steps: t.iter().map(|a| format!("a{a}")).collect(),
                input: Default::default(),
            })
            .collect()
    }

    /// (fitness, precision) of the true tree and of the rediscovered one on the same log.
    fn rediscover(truth: &Tree, n: usize, noise: f64, seed: u64) -> ((f64, f64), (f64, f64)) {
        let log = cases(&play_out(truth, n, 600, noise, seed));
        let v = variants(&log);
        let names: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
        let t = check(&of_tree(truth, &names), &v);
        let (found, found_names) = mine(&log, 0.2);
        let f = check(&of_tree(&found, &found_names), &v);
        ((t.fitness, t.precision), (f.fitness, f.precision))
    }

    #[test]
    fn generated_trees_are_rediscovered_fitting_and_as_precise_as_the_truth() {
        for seed in 1..=6 {
            let n = 8 + seed as usize;
            let truth = tree(n, seed);
            let ((tf, tp), (f, p)) = rediscover(&truth, n, 0.0, seed);
            assert_eq!(tf, 1.0, "seed {seed}: the true tree fits its own play-out");
            assert!(f > 0.999, "seed {seed}: fitness {f}");
            assert!(
                p >= tp - 0.02,
                "seed {seed}: precision {p} against the truth's {tp}"
            );
        }
    }

    #[test]
    fn rare_restarts_do_not_wrap_the_process_in_a_loop() {
        // a, b, c in sequence; 1 % of the cases start over once after c.
        let mut log: Vec<Vec<Act>> = (0..990).map(|_| vec![0, 1, 2]).collect();
        log.extend((0..10).map(|_| vec![0, 1, 2, 0, 1, 2]));
        let (found, names) = mine(&cases(&log), 0.2);
        assert_eq!(found.notation(&names), "->('a0', 'a1', 'a2')");
    }
}

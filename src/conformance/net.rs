//! Workflow nets (pure): places, transitions with an optional label (none for a silent
//! step), one source and one sink, and the markings the replay moves through.
use indexmap::IndexSet;
use rustc_hash::FxBuildHasher;

/// Tokens per place.
pub type Marking = Vec<u32>;

/// A marking as its tokens: the place of each token, sorted (a place with two tokens appears
/// twice). The searches over silent transitions keep markings this way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tokens(Vec<u32>);

impl Tokens {
    pub fn of(m: &Marking) -> Tokens {
        let mut v = Vec::new();
        for (p, n) in m.iter().enumerate() {
            v.extend(std::iter::repeat_n(p as u32, *n as usize));
        }
        Tokens(v)
    }

    /// Whether place `p` holds a token.
    pub fn has(&self, p: usize) -> bool {
        self.0.binary_search(&(p as u32)).is_ok()
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens after `t` fires (which must be enabled).
    fn fired(&self, t: &Transition) -> Tokens {
        let mut v = Vec::with_capacity(self.0.len() + t.outputs.len());
        v.extend_from_slice(&self.0);
        for p in &t.inputs {
            if let Ok(i) = v.binary_search(&(*p as u32)) {
                v.remove(i);
            }
        }
        for p in &t.outputs {
            let i = v.partition_point(|x| *x <= *p as u32);
            v.insert(i, *p as u32);
        }
        Tokens(v)
    }
}

#[derive(Clone, Debug)]
pub struct Transition {
    /// The activity it records; `None` for a silent transition (routing, tau).
    pub label: Option<String>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
}

/// A workflow net: one token in `source` starts a case; one token in `sink` ends it.
#[derive(Clone, Debug)]
pub struct Net {
    pub places: usize,
    pub transitions: Vec<Transition>,
    pub source: usize,
    pub sink: usize,
}

/// How many markings a search over silent transitions may visit before it gives up (the
/// replay then counts missing tokens, as pm4py's does when its shortest paths fail).
const SEARCH_LIMIT: usize = 4096;

impl Net {
    /// A net with just its source and sink.
    pub fn new() -> Net {
        Net {
            places: 2,
            transitions: Vec::new(),
            source: 0,
            sink: 1,
        }
    }

    pub fn place(&mut self) -> usize {
        self.places += 1;
        self.places - 1
    }

    pub fn transition(&mut self, label: Option<String>, inputs: Vec<usize>, outputs: Vec<usize>) {
        self.transitions.push(Transition {
            label,
            inputs,
            outputs,
        });
    }

    pub fn initial(&self) -> Marking {
        let mut m = vec![0; self.places];
        m[self.source] = 1;
        m
    }

    pub fn enabled(&self, m: &Marking, t: usize) -> bool {
        self.transitions[t].inputs.iter().all(|p| m[*p] > 0)
    }

    /// Whether `t` is enabled by `tokens`.
    pub fn enabled_by(&self, tokens: &Tokens, t: usize) -> bool {
        self.transitions[t].inputs.iter().all(|p| tokens.has(*p))
    }

    /// Fires `t`, adding whatever tokens it lacks; returns (missing, consumed, produced).
    pub fn fire(&self, m: &mut Marking, t: usize) -> (u32, u32, u32) {
        let tr = &self.transitions[t];
        let mut missing = 0;
        for p in &tr.inputs {
            if m[*p] == 0 {
                missing += 1;
            } else {
                m[*p] -= 1;
            }
        }
        for p in &tr.outputs {
            m[*p] += 1;
        }
        (missing, tr.inputs.len() as u32, tr.outputs.len() as u32)
    }

    /// The silent transitions that can move a token, through silent transitions only, into
    /// one of `toward`: the only ones a search for tokens there needs to try.
    fn silent_feeding(&self, toward: &[usize]) -> Vec<usize> {
        let mut wanted = vec![false; self.places];
        toward.iter().for_each(|p| wanted[*p] = true);
        let mut feeding = vec![false; self.transitions.len()];
        let mut changed = true;
        while changed {
            changed = false;
            for (i, t) in self.transitions.iter().enumerate() {
                if t.label.is_none() && !feeding[i] && t.outputs.iter().any(|p| wanted[*p]) {
                    feeding[i] = true;
                    t.inputs.iter().for_each(|p| wanted[*p] = true);
                    changed = true;
                }
            }
        }
        (0..self.transitions.len())
            .filter(|t| feeding[*t])
            .collect()
    }

    /// The shortest sequence of silent transitions from `m` to a marking where `goal` holds
    /// (empty when it holds already); `None` when none is found within the search limit.
    /// `goal` must depend only on tokens in `toward` and on tokens that only silent
    /// transitions feeding `toward` consume: the search tries no other transition (which could
    /// only take tokens away), so on a wide parallel block it follows the one branch that
    /// leads to `toward` instead of every combination of the others' silent moves.
    pub fn silent_path(
        &self,
        m: &Marking,
        toward: &[usize],
        goal: impl Fn(&Tokens) -> bool,
    ) -> Option<Vec<usize>> {
        self.search(m, &self.silent_feeding(toward), None, goal)
    }

    /// The shortest sequence of silent transitions from `m` to a marking where `goal` holds,
    /// for a goal that holds only in the final marking (one token, in the sink, which no
    /// silent transition consumes). Each step fires only the transitions of one persistent
    /// set: the consumers of one marked place, when each of them needs that place alone. No
    /// other transition can take that token, so the set's transitions stay enabled and commute
    /// with everything else; every marking where no silent move is left stays reachable, by a
    /// path just as short (Godefroid, "Partial-Order Methods for the Verification of Concurrent
    /// Systems", LNCS 1032, 1996, theorem 4.3). On a parallel block of optional steps and loops
    /// that turns the interleavings of the branches' skips into one order. A marking with a
    /// token that no silent transition can move, other than one in the sink, can never become
    /// the final marking: the search goes no further from it.
    pub fn silent_path_for_every_token(
        &self,
        m: &Marking,
        goal: impl Fn(&Tokens) -> bool,
    ) -> Option<Vec<usize>> {
        let silent: Vec<usize> = (0..self.transitions.len())
            .filter(|t| self.transitions[*t].label.is_none())
            .collect();
        let dead_end = !silent
            .iter()
            .any(|t| self.transitions[*t].inputs.contains(&self.sink));
        self.search(m, &silent, dead_end.then_some(self.sink), goal)
    }

    /// Breadth-first over the markings that `candidates` reach, at most [`SEARCH_LIMIT`].
    /// Markings are kept as their tokens ([`Tokens`]): a net of a hundred places holds a few
    /// tokens, so copying, hashing and comparing them costs a few words, not a hundred. With
    /// `final_in` (the goal is the final marking, one token in that place, which no candidate
    /// consumes), each marking fires only a persistent set of its enabled candidates, and
    /// markings that cannot become final are not expanded (see
    /// [`Net::silent_path_for_every_token`]).
    fn search(
        &self,
        m: &Marking,
        candidates: &[usize],
        final_in: Option<usize>,
        goal: impl Fn(&Tokens) -> bool,
    ) -> Option<Vec<usize>> {
        let reduce = final_in.is_some();
        let first = Tokens::of(m);
        if goal(&first) {
            return Some(Vec::new());
        }
        // Per place, the candidates that consume from it, and whether each needs it alone.
        let mut consuming: Vec<Vec<usize>> = vec![Vec::new(); self.places];
        for t in candidates {
            for p in &self.transitions[*t].inputs {
                consuming[*p].push(*t);
            }
        }
        let alone: Vec<bool> = consuming
            .iter()
            .map(|ts| !ts.is_empty() && ts.iter().all(|t| self.transitions[*t].inputs.len() == 1))
            .collect();
        // Each marking found, in the order found (its index), with the index of the one it
        // came from and the transition.
        let mut seen: IndexSet<Tokens, FxBuildHasher> = IndexSet::default();
        seen.insert(first);
        let mut how: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX)];
        let mut at = 0;
        while at < seen.len() {
            let cur = &seen[at];
            let moves = match cur.0.iter().find(|p| reduce && alone[**p as usize]) {
                Some(p) => consuming[*p as usize].clone(),
                None => {
                    let enabled = self.enabled_among(cur, &consuming);
                    // A join that alone consumes from each of its places is persistent too.
                    let sole = |t: &usize| {
                        let inputs = &self.transitions[*t].inputs;
                        inputs.iter().all(|p| consuming[*p].len() == 1)
                    };
                    match enabled.iter().find(|t| reduce && sole(t)) {
                        Some(t) => vec![*t],
                        None => enabled,
                    }
                }
            };
            for t in moves {
                let next = seen[at].fired(&self.transitions[t]);
                let done = goal(&next);
                let stuck = final_in.is_some_and(|sink| self.stuck(&next, &consuming, sink));
                if stuck && !done {
                    continue;
                }
                let (i, new) = seen.insert_full(next);
                if !new {
                    continue;
                }
                how.push((at, t));
                if done {
                    return Some(path_to(&how, i));
                }
                if seen.len() >= SEARCH_LIMIT {
                    return None;
                }
            }
            at += 1;
        }
        None
    }

    /// Whether `tokens` can never become the final marking (one token, in `sink`): a token
    /// that no candidate consumes lies outside the sink, or the sink holds two.
    fn stuck(&self, tokens: &Tokens, consuming: &[Vec<usize>], sink: usize) -> bool {
        let in_sink = tokens.0.iter().filter(|p| **p as usize == sink).count();
        in_sink > 1
            || tokens
                .0
                .iter()
                .any(|p| *p as usize != sink && consuming[*p as usize].is_empty())
    }

    /// The candidates (as `consuming` lists them per place) enabled by `tokens`, each once,
    /// in index order.
    fn enabled_among(&self, tokens: &Tokens, consuming: &[Vec<usize>]) -> Vec<usize> {
        let mut out: Vec<usize> = tokens
            .0
            .iter()
            .flat_map(|p| consuming[*p as usize].iter().copied())
            .filter(|t| self.transitions[*t].inputs.iter().all(|p| tokens.has(*p)))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Per place, whether silent transitions can put a token in it from `m`, ignoring how many
    /// tokens they need: a place counts when it is marked or a silent transition whose inputs
    /// all count feeds it. Exact on block-structured nets; elsewhere it may say yes where no
    /// firing sequence exists, never no where one does (so a no ends a search at once).
    pub fn markable(&self, m: &Marking) -> Vec<bool> {
        let mut markable: Vec<bool> = m.iter().map(|t| *t > 0).collect();
        let mut changed = true;
        while changed {
            changed = false;
            for t in self.transitions.iter().filter(|t| t.label.is_none()) {
                if t.inputs.iter().all(|p| markable[*p]) && t.outputs.iter().any(|p| !markable[*p])
                {
                    t.outputs.iter().for_each(|p| markable[*p] = true);
                    changed = true;
                }
            }
        }
        markable
    }

    /// The labels of the visible transitions enabled in `m` or in any marking that silent
    /// transitions reach from it. Computed on the places alone: a place counts as markable
    /// when it is marked or a silent transition whose inputs are all markable feeds it. On a
    /// block-structured net (one where the inputs of a synchronising transition come from
    /// parallel branches) this is exact and takes one pass per level instead of a search
    /// over every combination of the branches' silent moves.
    /// Sorted, each label once.
    pub fn eventually_enabled(&self, m: &Marking) -> Vec<String> {
        let markable = self.markable(m);
        let ready = |t: &Transition| t.inputs.iter().all(|p| markable[*p]);
        let mut labels: Vec<String> = self
            .transitions
            .iter()
            .filter(|t| ready(t))
            .filter_map(|t| t.label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

/// The silent transitions that led to marking `at`, first first (`how` holds, per marking
/// found, the one it came from and the transition).
fn path_to(how: &[(usize, usize)], mut at: usize) -> Vec<usize> {
    let mut path = Vec::new();
    while how[at].0 != usize::MAX {
        path.push(how[at].1);
        at = how[at].0;
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// source -> split -> `k` branches, each its step or a skip -> join -> sink; with each
    /// branch's first and last place.
    fn wide_block(k: usize) -> (Net, Vec<usize>, Vec<usize>) {
        let mut net = Net::new();
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        for _ in 0..k {
            starts.push(net.place());
            ends.push(net.place());
        }
        net.transition(None, vec![net.source], starts.clone());
        for (i, (s, e)) in starts.iter().zip(&ends).enumerate() {
            net.transition(Some(format!("s{i:02}")), vec![*s], vec![*e]);
            net.transition(None, vec![*s], vec![*e]);
        }
        net.transition(None, ends.clone(), vec![net.sink]);
        (net, starts, ends)
    }

    #[test]
    fn every_step_of_a_wide_parallel_block_of_optional_steps_is_eventually_enabled() {
        let (net, starts, ends) = wide_block(16);
        let all: Vec<String> = (0..16).map(|i| format!("s{i:02}")).collect();
        assert_eq!(net.eventually_enabled(&net.initial()), all);
        // With the first branch done, the rest are still ahead, and the first is not.
        let mut m = vec![0; net.places];
        m[ends[0]] = 1;
        starts[1..].iter().for_each(|p| m[*p] = 1);
        assert_eq!(net.eventually_enabled(&m), all[1..].to_vec());
    }

    #[test]
    fn a_choice_taken_leaves_only_what_follows_it() {
        let mut net = Net::new();
        let (p, q) = (net.place(), net.place());
        net.transition(None, vec![net.source], vec![p]);
        net.transition(Some("a".into()), vec![p], vec![q]);
        net.transition(Some("b".into()), vec![p], vec![q]);
        net.transition(Some("c".into()), vec![q], vec![net.sink]);
        assert_eq!(net.eventually_enabled(&net.initial()), ["a", "b"]);
        let mut m = vec![0; net.places];
        m[q] = 1;
        assert_eq!(net.eventually_enabled(&m), ["c"]);
    }

    #[test]
    fn the_final_marking_behind_a_wide_block_of_skips_is_found_without_every_order() {
        // Every branch still to do: 16 forced skips, then the join, in one line.
        let (net, starts, _) = wide_block(16);
        let (path, plain) = from_every_start(&net, &starts);
        assert_eq!(path.expect("a clean end").len(), 17);
        // The plain search gives up: 2^16 markings lie before the join.
        assert_eq!(plain, None);
    }

    /// From a token in each of `starts`: the search for the final marking, and the plain
    /// search over every silent transition for the same goal.
    fn from_every_start(net: &Net, starts: &[usize]) -> (Option<Vec<usize>>, Option<Vec<usize>>) {
        let mut m = vec![0; net.places];
        starts.iter().for_each(|p| m[*p] = 1);
        let sink = net.sink;
        let clean = |k: &Tokens| k.len() == 1 && k.has(sink);
        let every: Vec<usize> = (0..net.places).collect();
        (
            net.silent_path_for_every_token(&m, clean),
            net.silent_path(&m, &every, clean),
        )
    }

    #[test]
    fn a_wide_block_of_optional_loops_ends_without_every_order_or_every_dead_end() {
        // Each branch: a silent skip, or a silent entry into a loop whose body is visible
        // (a dead end for silent moves). 16 branches: 3^16 markings by the plain search.
        let mut net = Net::new();
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        for i in 0..16 {
            let (s, body, e) = (net.place(), net.place(), net.place());
            net.transition(None, vec![s], vec![e]);
            net.transition(None, vec![s], vec![body]);
            net.transition(Some(format!("a{i}")), vec![body], vec![e]);
            starts.push(s);
            ends.push(e);
        }
        net.transition(None, ends, vec![net.sink]);
        let (path, plain) = from_every_start(&net, &starts);
        let path = path.expect("a clean end");
        // Every skip, then the join: the shortest way.
        assert_eq!(path.len(), 17);
        let mut end = vec![0; net.places];
        starts.iter().for_each(|p| end[*p] = 1);
        path.iter().for_each(|t| {
            assert_eq!(net.fire(&mut end, *t).0, 0, "no missing token");
        });
        assert_eq!(Tokens::of(&end).0, vec![net.sink as u32]);
        assert_eq!(plain, None);
    }
}

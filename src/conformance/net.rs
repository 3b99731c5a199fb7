//! Workflow nets (pure): places, transitions with an optional label (none for a silent
//! step), one source and one sink, and the markings the replay moves through.
use indexmap::IndexSet;
use rustc_hash::FxBuildHasher;
use std::collections::VecDeque;

/// Tokens per place.
pub type Marking = Vec<u32>;

/// A marking as its tokens: the place of each token, sorted (a place with two tokens appears
/// twice). The searches over silent transitions keep markings this way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tokens(Vec<u32>);

/// A token that a search left where it is for good is kept as this minus its place: after
/// every token that can still move (see [`Net::silent_path`]).
const LEFT: u32 = u32::MAX;

impl Tokens {
    pub fn of(m: &Marking) -> Tokens {
        Tokens::of_places(m, |_| true)
    }

    /// The tokens of `m` in the places that `keep` keeps.
    fn of_places(m: &Marking, keep: impl Fn(usize) -> bool) -> Tokens {
        let mut v = Vec::new();
        places_into(m, keep, &mut v);
        Tokens(v)
    }

    /// Tokens from their places, sorted (as [`Search::relevant_into`] writes them).
    pub fn sorted(places: Vec<u32>) -> Tokens {
        debug_assert!(places.is_sorted());
        Tokens(places)
    }

    /// Whether place `p` holds a token (one that can still move, or one left there).
    pub fn has(&self, p: usize) -> bool {
        let p = p as u32;
        self.0.binary_search(&p).is_ok() || self.0.binary_search(&(LEFT - p)).is_ok()
    }

    /// The tokens that can still move (not left for good by a search), sorted.
    fn moving(&self) -> &[u32] {
        &self.0[..self.0.partition_point(|x| *x < LEFT / 2)]
    }

    /// The tokens with one in `p` left where it is for good: kept (the goal still sees it)
    /// or forgotten.
    fn left(&self, p: u32, keep: bool) -> Tokens {
        let mut v = self.0.clone();
        if let Ok(i) = v[..self.moving().len()].binary_search(&p) {
            v.remove(i);
        }
        if keep {
            let x = LEFT - p;
            let i = v.partition_point(|y| *y <= x);
            v.insert(i, x);
        }
        Tokens(v)
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

/// A lookup by the places alone (the derived hash of [`Tokens`] is its vector's, which is
/// the slice's).
impl std::borrow::Borrow<[u32]> for Tokens {
    fn borrow(&self) -> &[u32] {
        &self.0
    }
}

/// Writes the tokens of `m` in the places that `keep` keeps into `out`, sorted.
fn places_into(m: &Marking, keep: impl Fn(usize) -> bool, out: &mut Vec<u32>) {
    out.clear();
    for (p, n) in m.iter().enumerate().filter(|(p, _)| keep(*p)) {
        out.extend(std::iter::repeat_n(p as u32, *n as usize));
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
    /// `goal` must look only at tokens in `toward` (a token in a place of `toward` counts
    /// whether it moved there or was left there), and must not hold less when tokens are
    /// added. The search tries only the silent transitions that can move a token into
    /// `toward`: no other transition can help. And it fires one token's moves at a time: at
    /// each marking, the moves of one token whose consumers need its place alone, or that
    /// token left where it is for good. A shortest path either moves that token (its first
    /// move there can come first: nothing else takes that token, and the move only adds
    /// tokens elsewhere), or never does (then leaving it changes nothing). So the branches
    /// of a wide parallel block are walked one after another, not in every order, and a
    /// token that cannot help costs one step, not a copy of every marking.
    pub fn silent_path(
        &self,
        m: &Marking,
        toward: &[usize],
        goal: impl Fn(&Tokens) -> bool,
    ) -> Option<Vec<usize>> {
        self.search_toward(toward).run(m, goal)
    }

    /// The search [`Net::silent_path`] makes for `toward`, set up once for any marking and
    /// goal.
    pub fn search_toward(&self, toward: &[usize]) -> Search<'_> {
        let candidates = self.silent_feeding(toward);
        Search::new(self, candidates, Leave::Allowed(toward.to_vec()))
    }

    /// The shortest sequence of silent transitions from `m` to a marking where `goal` holds,
    /// for a goal that holds only in the final marking (one token, in the sink, which no
    /// silent transition consumes). Each step fires only the transitions of one persistent
    /// set: the consumers of one marked place, when each of them needs that place alone. No
    /// other transition can take that token, so the set's transitions stay enabled and commute
    /// with everything else; every marking where no silent move is left (the final marking is
    /// one) stays reachable, by a path just as short (Godefroid, "Partial-Order Methods for
    /// the Verification of Concurrent Systems", LNCS 1032, 1996, theorem 4.3). On a parallel
    /// block of optional steps and loops that turns the interleavings of the branches' skips
    /// into one order. A marking with a token that no silent transition can move, other than
    /// one in the sink, can never become the final marking: the search goes no further from
    /// it.
    pub fn silent_path_for_every_token(
        &self,
        m: &Marking,
        goal: impl Fn(&Tokens) -> bool,
    ) -> Option<Vec<usize>> {
        self.search_to_the_end().run(m, goal)
    }

    /// The search [`Net::silent_path_for_every_token`] makes, set up once for any marking and
    /// goal.
    pub fn search_to_the_end(&self) -> Search<'_> {
        let silent: Vec<usize> = (0..self.transitions.len())
            .filter(|t| self.transitions[*t].label.is_none())
            .collect();
        let dead_end = !silent
            .iter()
            .any(|t| self.transitions[*t].inputs.contains(&self.sink));
        let leave = Leave::Never {
            final_in: dead_end.then_some(self.sink),
        };
        Search::new(self, silent, leave)
    }

    /// The candidates (as `consuming` lists them per place) enabled by the tokens that can
    /// still move, each once, in index order.
    fn enabled_among(&self, tokens: &Tokens, consuming: &[Vec<usize>]) -> Vec<usize> {
        let moving = tokens.moving();
        let mut out: Vec<usize> = moving
            .iter()
            .flat_map(|p| consuming[*p as usize].iter().copied())
            .filter(|t| {
                let inputs = &self.transitions[*t].inputs;
                inputs
                    .iter()
                    .all(|p| moving.binary_search(&(*p as u32)).is_ok())
            })
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
        let marked = m.iter().map(|t| *t > 0).collect();
        let silent = self.transitions.iter().filter(|t| t.label.is_none());
        markable_through(marked, silent)
    }

    /// The labels of the visible transitions enabled in `m` or in any marking that silent
    /// transitions reach from it. Computed on the places alone: a place counts as markable
    /// when it is marked or a silent transition whose inputs are all markable feeds it. On a
    /// block-structured net (one where the inputs of a synchronising transition come from
    /// parallel branches) this is exact and takes one pass per level instead of a search
    /// over every combination of the branches' silent moves.
    /// Sorted, each label once.
    pub fn eventually_enabled(&self, m: &Marking) -> Vec<String> {
        let mut labels: Vec<String> = self
            .eventually_ready(m)
            .filter_map(|t| self.transitions[t].label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }

    /// The transitions (silent or visible) enabled in `m` or in any marking that silent
    /// transitions reach from it, as [`Net::eventually_enabled`] finds them.
    pub fn eventually_ready(&self, m: &Marking) -> impl Iterator<Item = usize> + '_ {
        let markable = self.markable(m);
        let ready = move |t: &Transition| t.inputs.iter().all(|p| markable[*p]);
        (0..self.transitions.len()).filter(move |t| ready(&self.transitions[*t]))
    }
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

/// Whether a search may leave a token where it is for good.
enum Leave {
    /// Every token must move on (the goal is the final marking). With `final_in`, a token
    /// that no candidate consumes, outside that place, ends the way (see
    /// [`Net::silent_path_for_every_token`]).
    Never { final_in: Option<usize> },
    /// Tokens may be left; those left in one of these places (the goal's) stay visible to
    /// the goal, the others are forgotten.
    Allowed(Vec<usize>),
}

/// One move of a search: a silent transition fired, or a token (or each input token of a
/// join) left where it is.
#[derive(Clone, Copy)]
enum Move {
    Fire(usize),
    Leave(u32),
    LeaveInputs(usize),
}

/// A breadth-first search over the markings that silent `candidates` reach, at most
/// [`SEARCH_LIMIT`]. Markings are kept as their tokens ([`Tokens`]): a net of a hundred
/// places holds a few tokens, so copying, hashing and comparing them costs a few words, not a
/// hundred. Each marking fires only a persistent set of its moves where it has one. Set up
/// once ([`Net::search_toward`], [`Net::search_to_the_end`]), it runs from any marking.
pub struct Search<'n> {
    net: &'n Net,
    candidates: Vec<usize>,
    /// Per place, the candidates that consume from it.
    consuming: Vec<Vec<usize>>,
    /// Per place, whether every candidate that consumes from it needs it alone.
    alone: Vec<bool>,
    /// Per place, whether a token there can count: some candidate consumes from it, the goal
    /// looks at it, or every token must move on.
    counts: Vec<bool>,
    leave: Leave,
}

impl<'n> Search<'n> {
    fn new(net: &'n Net, candidates: Vec<usize>, leave: Leave) -> Self {
        let mut consuming: Vec<Vec<usize>> = vec![Vec::new(); net.places];
        for t in &candidates {
            for p in &net.transitions[*t].inputs {
                consuming[*p].push(*t);
            }
        }
        let alone = consuming
            .iter()
            .map(|ts| !ts.is_empty() && ts.iter().all(|t| net.transitions[*t].inputs.len() == 1))
            .collect();
        let counts = (0..net.places)
            .map(|p| match &leave {
                Leave::Never { .. } => true,
                Leave::Allowed(toward) => !consuming[p].is_empty() || toward.contains(&p),
            })
            .collect();
        Search {
            net,
            candidates,
            consuming,
            alone,
            counts,
            leave,
        }
    }

    /// The tokens of `m` that can count for this search. Any other token is left where it
    /// is at once, so two markings with the same such tokens have the same answer.
    pub fn relevant(&self, m: &Marking) -> Tokens {
        Tokens::of_places(m, |p| self.counts[p])
    }

    /// [`Search::relevant`], written into `out`.
    pub fn relevant_into(&self, m: &Marking, out: &mut Vec<u32>) {
        places_into(m, |p| self.counts[p], out)
    }

    /// Breadth-first by the number of transitions fired (leaving a token is free: 0-1
    /// breadth-first, leaves at the front of the queue), so the first goal found is reached
    /// by a shortest path. Only a firing can make the goal hold.
    pub fn run(&self, m: &Marking, goal: impl Fn(&Tokens) -> bool) -> Option<Vec<usize>> {
        self.run_from(self.relevant(m), goal)
    }

    /// [`Search::run`] from the tokens [`Search::relevant`] keeps.
    pub fn run_from(&self, first: Tokens, goal: impl Fn(&Tokens) -> bool) -> Option<Vec<usize>> {
        if goal(&first) {
            return Some(Vec::new());
        }
        // Each marking found, in the order found (its index), with the index of the one it
        // came from and the transition fired (none for a token left), its distance, and
        // whether it was expanded.
        let mut seen: IndexSet<Tokens, FxBuildHasher> = IndexSet::default();
        seen.insert(first);
        let mut how: Vec<(usize, Option<usize>)> = vec![(usize::MAX, None)];
        let mut dist: Vec<u32> = vec![0];
        let mut expanded: Vec<bool> = vec![false];
        let mut queue: VecDeque<usize> = VecDeque::from([0]);
        while let Some(at) = queue.pop_front() {
            if std::mem::replace(&mut expanded[at], true) {
                continue;
            }
            for mv in self.moves(&seen[at]) {
                let (next, fired) = self.apply(&seen[at], mv);
                let done = fired.is_some() && goal(&next);
                if !done && (self.dead(&next) || fired.is_none() && self.hopeless(&next)) {
                    continue;
                }
                let d = dist[at] + u32::from(fired.is_some());
                let (i, new) = seen.insert_full(next);
                if new {
                    how.push((at, fired));
                    dist.push(d);
                    expanded.push(false);
                } else if d < dist[i] && !expanded[i] {
                    (how[i], dist[i]) = ((at, fired), d);
                } else {
                    continue;
                }
                if done {
                    return Some(path_to(&how, i));
                }
                if seen.len() >= SEARCH_LIMIT {
                    return None;
                }
                match fired {
                    Some(_) => queue.push_back(i),
                    None => queue.push_front(i),
                }
            }
        }
        None
    }

    /// The moves to try from `cur`: a persistent set where there is one (the first token's
    /// consumers when each needs its place alone, or a join that alone consumes each of its
    /// places), with the leave of that token where tokens may be left; else every enabled
    /// candidate and every leave.
    fn moves(&self, cur: &Tokens) -> Vec<Move> {
        let leaving = matches!(self.leave, Leave::Allowed(_));
        let leave = |mv: Move| leaving.then_some(mv);
        // Where a silent transition consumes from the sink, the final marking is no dead end
        // and the sink's token need not move: no reduction.
        let reduce = !matches!(self.leave, Leave::Never { final_in: None });
        for p in cur.moving().iter().filter(|_| reduce) {
            let consumers = &self.consuming[*p as usize];
            if leaving && consumers.is_empty() {
                return vec![Move::Leave(*p)];
            }
            if self.alone[*p as usize] {
                let fire = consumers.iter().map(|t| Move::Fire(*t));
                return fire.chain(leave(Move::Leave(*p))).collect();
            }
        }
        let enabled = self.net.enabled_among(cur, &self.consuming);
        let inputs = |t: usize| &self.net.transitions[t].inputs;
        let sole = |t: &&usize| inputs(**t).iter().all(|p| self.consuming[*p].len() == 1);
        if let Some(t) = enabled.iter().filter(|_| reduce).find(sole) {
            return [Move::Fire(*t)]
                .into_iter()
                .chain(leave(Move::LeaveInputs(*t)))
                .collect();
        }
        let mut places: Vec<u32> = cur.moving().to_vec();
        places.dedup();
        let leaves = places.into_iter().filter_map(|p| leave(Move::Leave(p)));
        enabled.into_iter().map(Move::Fire).chain(leaves).collect()
    }

    /// The tokens after `mv`, and the transition it fired.
    fn apply(&self, cur: &Tokens, mv: Move) -> (Tokens, Option<usize>) {
        let keep = |p: u32| matches!(&self.leave, Leave::Allowed(k) if k.contains(&(p as usize)));
        match mv {
            Move::Fire(t) => (cur.fired(&self.net.transitions[t]), Some(t)),
            Move::Leave(p) => (cur.left(p, keep(p)), None),
            Move::LeaveInputs(t) => {
                let inputs = &self.net.transitions[t].inputs;
                let left = inputs.iter().fold(cur.clone(), |k, p| {
                    let p = *p as u32;
                    k.left(p, keep(p))
                });
                (left, None)
            }
        }
    }

    /// Whether, with tokens left, the goal's places can no longer all be marked: each must
    /// hold a token left there or be one that the tokens still moving can reach (as
    /// [`Net::markable`] counts it, which never says no where a way exists). Leaving a token
    /// that the goal needs ends the way at once, so the leaves a search tries do not add up
    /// to every subset of the tokens.
    fn hopeless(&self, tokens: &Tokens) -> bool {
        let Leave::Allowed(toward) = &self.leave else {
            return false;
        };
        let mut marked = vec![false; self.net.places];
        tokens
            .moving()
            .iter()
            .for_each(|p| marked[*p as usize] = true);
        let through = self.candidates.iter().map(|t| &self.net.transitions[*t]);
        let markable = markable_through(marked, through);
        toward.iter().any(|p| !markable[*p] && !tokens.has(*p))
    }

    /// Whether `tokens` can never become the final marking when every token must move on to
    /// it: a token that no candidate consumes lies outside its place, or that place holds
    /// two.
    fn dead(&self, tokens: &Tokens) -> bool {
        let Leave::Never {
            final_in: Some(sink),
        } = self.leave
        else {
            return false;
        };
        let in_sink = tokens.0.iter().filter(|p| **p as usize == sink).count();
        in_sink > 1
            || tokens
                .moving()
                .iter()
                .any(|p| *p as usize != sink && self.consuming[*p as usize].is_empty())
    }
}

/// The places `marked` holds, and every place that `through` (silent transitions) can put a
/// token in from them, ignoring how many tokens each needs: the fix-point of
/// [`Net::markable`].
fn markable_through<'t>(
    mut markable: Vec<bool>,
    through: impl Iterator<Item = &'t Transition> + Clone,
) -> Vec<bool> {
    let mut changed = true;
    while changed {
        changed = false;
        for t in through.clone() {
            if t.inputs.iter().all(|p| markable[*p]) && t.outputs.iter().any(|p| !markable[*p]) {
                t.outputs.iter().for_each(|p| markable[*p] = true);
                changed = true;
            }
        }
    }
    markable
}

/// The silent transitions that led to marking `at`, first first (`how` holds, per marking
/// found, the one it came from and the transition fired, none where a token was left).
fn path_to(how: &[(usize, Option<usize>)], mut at: usize) -> Vec<usize> {
    let mut path = Vec::new();
    while how[at].0 != usize::MAX {
        path.extend(how[at].1);
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
        (
            net.silent_path_for_every_token(&m, clean),
            plain(net, &m, clean),
        )
    }

    /// The search over every silent transition in every order, without a reduction.
    fn plain(net: &Net, m: &Marking, goal: impl Fn(&Tokens) -> bool) -> Option<Vec<usize>> {
        let silent: Vec<usize> = (0..net.transitions.len())
            .filter(|t| net.transitions[*t].label.is_none())
            .collect();
        Search::new(net, silent, Leave::Never { final_in: None }).run(m, goal)
    }

    #[test]
    fn a_token_in_the_sink_behind_a_wide_block_is_found_past_a_token_that_cannot_move() {
        // Every branch still to do, and a token stuck before a step that never comes (as a
        // trace that does not fit leaves one): no clean end, but the sink can be reached.
        let (mut net, starts, _) = wide_block(16);
        let (stuck, after) = (net.place(), net.place());
        net.transition(Some("x".into()), vec![stuck], vec![after]);
        let mut m = vec![0; net.places];
        starts.iter().for_each(|p| m[*p] = 1);
        m[stuck] = 1;
        let sink = net.sink;
        let clean = |k: &Tokens| k.len() == 1 && k.has(sink);
        assert_eq!(net.silent_path_for_every_token(&m, clean), None);
        let in_sink = |k: &Tokens| k.has(sink);
        // The plain search gives up: 2^16 markings lie before the join.
        assert_eq!(plain(&net, &m, in_sink), None);
        let path = net.silent_path(&m, &[sink], in_sink);
        // The 16 skips and the join, the stuck token left where it is.
        let path = path.expect("a token in the sink");
        assert_eq!(path.len(), 17);
        path.iter().for_each(|t| {
            assert_eq!(net.fire(&mut m, *t).0, 0, "no missing token");
        });
        assert_eq!(Tokens::of(&m).0, vec![sink as u32, stuck as u32]);
    }

    #[test]
    fn a_step_after_a_wide_block_is_enabled_through_every_branch_and_the_join() {
        // As above, with a visible step after the join: the search to enable it.
        let mut net = Net::new();
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        for i in 0..16 {
            let (s, e) = (net.place(), net.place());
            net.transition(Some(format!("s{i:02}")), vec![s], vec![e]);
            net.transition(None, vec![s], vec![e]);
            starts.push(s);
            ends.push(e);
        }
        let before = net.place();
        net.transition(None, ends, vec![before]);
        net.transition(Some("z".into()), vec![before], vec![net.sink]);
        let z = net.transitions.len() - 1;
        let mut m = vec![0; net.places];
        starts.iter().for_each(|p| m[*p] = 1);
        let enabled = |k: &Tokens| net.enabled_by(k, z);
        assert_eq!(plain(&net, &m, enabled), None);
        let path = net.silent_path(&m, &net.transitions[z].inputs, enabled);
        assert_eq!(path.map(|p| p.len()), Some(17));
        // Already enabled: nothing to fire, whatever else could move.
        m[before] = 1;
        assert_eq!(net.silent_path(&m, &[before], enabled), Some(Vec::new()));
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

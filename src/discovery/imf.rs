//! Inductive Miner – infrequent (IMf; Leemans, Fahland and van der Aalst, "Discovering
//! Block-Structured Process Models from Event Logs Containing Infrequent Behaviour", BPM 2013
//! workshops, sections 3 and 4). The log is split recursively by the first cut found in its
//! directly-follows graph (exclusive choice, the strict sequence cut of Leemans' thesis,
//! concurrency, loop); when none is found, the graph is filtered (an edge no stronger than
//! `noise` times the strongest way out of its source goes, and so do rare start activities)
//! and the cuts are tried again (by default the sequence cut first on the filtered
//! eventually-follows relation); when still none, the fall-throughs run in their published
//! order (empty traces, activity once per trace, activity concurrent, strict tau loop, tau
//! loop, flower). Every node remembers which cases went through it, so choices, loops and even
//! a flower carry frequencies and the cases for decision mining. Where the papers leave a
//! choice open, [`Options`] names the conventions; the caller mines with each variant and
//! keeps the model that replays best.
use super::cuts::{self, Cut, Dfg};
use rustc_hash::FxHashMap as HashMap;

/// An activity, as an index into the log's activity names.
pub type Act = u32;

/// A (sub-)log: each distinct trace with the cases (by index) that produced it; a case
/// appears once per subtrace it contributed, so loops count iterations.
#[derive(Clone, Debug, Default)]
pub struct Log {
    pub traces: HashMap<Vec<Act>, Vec<u32>>,
}

impl Log {
    pub fn push(&mut self, trace: Vec<Act>, case: u32) {
        self.traces.entry(trace).or_default().push(case);
    }

    /// Adds a trace that several cases produced (one lookup for all of them).
    fn push_all(&mut self, trace: Vec<Act>, cases: &[u32]) {
        self.traces
            .entry(trace)
            .or_default()
            .extend_from_slice(cases);
    }

    fn weight(&self) -> usize {
        self.traces.values().map(Vec::len).sum()
    }

    fn cases(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.traces.values().flatten().copied().collect();
        v.sort_unstable();
        v
    }

    fn alphabet(&self) -> Vec<Act> {
        let mut a: Vec<Act> = self.traces.keys().flatten().copied().collect();
        a.sort_unstable();
        a.dedup();
        a
    }
}

/// A process tree. Choices and loop redos keep the cases that took each child.
#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    Tau,
    Activity(Act),
    Sequence(Vec<Tree>),
    /// Exactly one child runs; with the cases (one entry per visit) that took it.
    Xor(Vec<(Tree, Vec<u32>)>),
    /// Every child runs, interleaved.
    And(Vec<Tree>),
    /// The body runs, then either the loop exits or a redo runs and the body again.
    Loop {
        body: Box<Tree>,
        redo: Vec<(Tree, Vec<u32>)>,
        /// How many times the body ran in the log.
        body_runs: usize,
    },
}

impl Tree {
    /// How many nodes the tree has (a measure of the model's size).
    pub fn size(&self) -> usize {
        1 + match self {
            Tree::Tau | Tree::Activity(_) => 0,
            Tree::Sequence(c) | Tree::And(c) => c.iter().map(Tree::size).sum(),
            Tree::Xor(c) => c.iter().map(|(t, _)| t.size()).sum(),
            Tree::Loop { body, redo, .. } => {
                body.size() + redo.iter().map(|(t, _)| t.size()).sum::<usize>()
            }
        }
    }

    /// The tree in the usual notation (pm4py's), e.g. `->('a', X('b', tau))`.
    pub fn notation(&self, names: &[String]) -> String {
        let list = |op: &str, c: Vec<String>| format!("{op}({})", c.join(", "));
        match self {
            Tree::Tau => "tau".into(),
            Tree::Activity(a) => format!("'{}'", names[*a as usize]),
            Tree::Sequence(c) => list("->", c.iter().map(|t| t.notation(names)).collect()),
            Tree::And(c) => list("+", c.iter().map(|t| t.notation(names)).collect()),
            Tree::Xor(c) => list("X", c.iter().map(|(t, _)| t.notation(names)).collect()),
            // The notation's loop has two children, the body and the redo (pm4py reads a third
            // as an exit): several redos are a choice.
            Tree::Loop { body, redo, .. } => {
                let redos: Vec<String> = redo.iter().map(|(t, _)| t.notation(names)).collect();
                let redo = match redos.len() {
                    1 => redos.into_iter().next().unwrap_or_default(),
                    _ => list("X", redos),
                };
                list("*", vec![body.notation(names), redo])
            }
        }
    }
}

/// Deeper than this, the rest of the log becomes a flower model (a guard for odd logs; real
/// process trees are far shallower).
const MAX_DEPTH: usize = 200;

/// How the miner decides where the papers leave a choice. Each setting is a published or
/// reference-implementation convention; [`crate::discovery::tree`] mines with each of
/// [`Options::variants`] and keeps the model that replays best on the log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// IMf's filtering threshold, 0 to 1: 0 keeps all behaviour, 0.2 is the usual setting.
    pub noise: f64,
    /// The concurrency cut keeps activities related by minimum self-distance in one part
    /// (Leemans, Fahland and van der Aalst, SoSyM 2018, section 5.2).
    pub min_self_distance: bool,
    /// In the filtered pass, the sequence cut is first tried on the filtered
    /// eventually-follows relation, then on the filtered directly-follows graph.
    pub eventually_follows: bool,
    /// pm4py's conventions where the papers are silent: a single activity loops on any
    /// repeat, incomplete concurrency parts join their neighbour by size, the redos form one
    /// part, and a trace that begins in a redo gets no empty body run before it.
    pub reference: bool,
}

impl Options {
    /// IMf with the given noise threshold and this project's defaults.
    pub fn imf(noise: f64) -> Options {
        Options {
            noise: noise.clamp(0.0, 1.0),
            min_self_distance: true,
            eventually_follows: true,
            reference: false,
        }
    }

    /// The variants [`crate::discovery::tree`] tries, the default first.
    pub fn variants(noise: f64) -> [Options; 3] {
        let base = Options::imf(noise);
        [
            base,
            Options {
                min_self_distance: false,
                ..base
            },
            Options {
                min_self_distance: false,
                eventually_follows: false,
                reference: true,
                ..base
            },
        ]
    }
}

/// Discovers a process tree with the given options.
pub fn mine(log: &Log, o: &Options) -> Tree {
    recurse(log, o, 0)
}

fn recurse(log: &Log, o: &Options, depth: usize) -> Tree {
    let total = log.weight();
    let empty: Vec<u32> = log.traces.get(&Vec::new()).cloned().unwrap_or_default();
    if total == 0 || empty.len() == total {
        return Tree::Tau;
    }
    if !empty.is_empty() {
        let mut rest = log.clone();
        rest.traces.remove(&Vec::new());
        if empty.len() as f64 / total as f64 > o.noise {
            let cases = rest.cases();
            return Tree::Xor(vec![
                (recurse(&rest, o, depth + 1), cases),
                (Tree::Tau, empty),
            ]);
        }
        return recurse(&rest, o, depth + 1);
    }
    let acts = log.alphabet();
    if let [a] = acts[..] {
        return single_activity(log, a, o);
    }
    if depth > MAX_DEPTH {
        return flower(log, &acts);
    }
    let dfg = Dfg::of(log, &acts);
    let cut = cuts::find(&dfg, o).or_else(|| {
        let efg = o
            .eventually_follows
            .then(|| cuts::eventually_follows(log, &acts));
        cuts::find_filtered(&dfg.filtered(o.noise), efg.as_deref(), o)
    });
    match cut {
        Some(cut) => split(log, cut, o, depth),
        None => fall_through(log, &acts, o, depth),
    }
}

/// A log over one activity: the activity, or a loop of it when it repeats more often than
/// the noise threshold allows to ignore (`reference`: when it repeats at all, as pm4py does).
fn single_activity(log: &Log, a: Act, o: &Options) -> Tree {
    let traces = log.weight() as f64;
    let events: usize = log.traces.iter().map(|(t, c)| t.len() * c.len()).sum();
    let repeats = events as f64 / traces - 1.0;
    let once = if o.reference {
        repeats == 0.0
    } else {
        repeats <= o.noise
    };
    if once {
        return Tree::Activity(a);
    }
    let mut again = Vec::new();
    for (t, cases) in &log.traces {
        for _ in 1..t.len() {
            again.extend_from_slice(cases);
        }
    }
    Tree::Loop {
        body: Box::new(Tree::Activity(a)),
        redo: vec![(Tree::Tau, again)],
        body_runs: events,
    }
}

/// The flower model: any of the activities, any number of times. Each branch keeps the cases
/// that took it (once per occurrence), so its frequency is the log's.
fn flower(log: &Log, acts: &[Act]) -> Tree {
    let mut per: HashMap<Act, Vec<u32>> = acts.iter().map(|a| (*a, Vec::new())).collect();
    let mut repeats = Vec::new();
    for (t, cases) in &log.traces {
        for a in t {
            per.entry(*a).or_default().extend_from_slice(cases);
        }
        for _ in 1..t.len() {
            repeats.extend_from_slice(cases);
        }
    }
    Tree::Loop {
        body_runs: log.traces.iter().map(|(t, c)| t.len() * c.len()).sum(),
        body: Box::new(Tree::Xor(
            acts.iter()
                .map(|a| (Tree::Activity(*a), per.remove(a).unwrap_or_default()))
                .collect(),
        )),
        redo: vec![(Tree::Tau, repeats)],
    }
}

/// IMf's fall-throughs, the first that applies, in the published order (Leemans, "Robust
/// Process Mining with Guarantees", PhD thesis, TU Eindhoven 2017, section 6.2; the empty-traces
/// one is [`recurse`]'s first step): an activity once per trace, an activity concurrent with
/// the rest, a strict tau loop, a tau loop, and the flower model last.
fn fall_through(log: &Log, acts: &[Act], o: &Options, depth: usize) -> Tree {
    let concurrent = once_per_trace(log, acts).or_else(|| activity_concurrent(log, acts, o));
    if let Some(a) = concurrent {
        let (alone, rest) = take_out(log, a);
        return Tree::And(vec![
            recurse(&alone, o, depth + 1),
            recurse(&rest, o, depth + 1),
        ]);
    }
    for strict in [true, false] {
        if let Some((body, redo)) = tau_loop(log, strict) {
            return Tree::Loop {
                body_runs: body.weight(),
                body: Box::new(recurse(&body, o, depth + 1)),
                redo: vec![(Tree::Tau, redo)],
            };
        }
    }
    flower(log, acts)
}

/// The first activity (by index) that occurs exactly once in every trace.
fn once_per_trace(log: &Log, acts: &[Act]) -> Option<Act> {
    acts.iter().copied().find(|a| {
        log.traces
            .keys()
            .all(|t| t.iter().filter(|x| *x == a).count() == 1)
    })
}

/// The first activity (by index) without which the log has a cut.
fn activity_concurrent(log: &Log, acts: &[Act], o: &Options) -> Option<Act> {
    acts.iter().copied().find(|a| {
        // The graph over the other activities is the graph of the log without `a`.
        let left: Vec<Act> = acts.iter().copied().filter(|x| x != a).collect();
        cuts::find(&Dfg::of(log, &left), o).is_some()
    })
}

/// The log of `a` alone, and the log without `a`.
fn take_out(log: &Log, a: Act) -> (Log, Log) {
    let (mut alone, mut rest) = (Log::default(), Log::default());
    for (t, cases) in log.traces.iter() {
        let (with, without): (Vec<Act>, Vec<Act>) = t.iter().partition(|x| **x == a);
        alone.push_all(with, cases);
        rest.push_all(without, cases);
    }
    (alone, rest)
}

/// The tau loops' split: each trace is cut before every start activity that follows an end
/// activity (strict) or before every start activity (not strict). Returns the pieces and
/// the cases once per cut, when there was any cut.
fn tau_loop(log: &Log, strict: bool) -> Option<(Log, Vec<u32>)> {
    let starts: Vec<Act> = log
        .traces
        .keys()
        .filter_map(|t| t.first().copied())
        .collect();
    let ends: Vec<Act> = log
        .traces
        .keys()
        .filter_map(|t| t.last().copied())
        .collect();
    let mut body = Log::default();
    let mut redo = Vec::new();
    for (t, cases) in &log.traces {
        let mut from = 0;
        for i in 1..t.len() {
            if starts.contains(&t[i]) && (!strict || ends.contains(&t[i - 1])) {
                body.push_all(t[from..i].to_vec(), cases);
                redo.extend_from_slice(cases);
                from = i;
            }
        }
        body.push_all(t[from..].to_vec(), cases);
    }
    (!redo.is_empty()).then_some((body, redo))
}

/// Which part of a cut each activity is in, by activity number: one array lookup per event.
struct PartOf(Vec<usize>);

impl std::ops::Index<&Act> for PartOf {
    type Output = usize;

    fn index(&self, a: &Act) -> &usize {
        &self.0[*a as usize]
    }
}

fn split(log: &Log, cut: Cut, o: &Options, depth: usize) -> Tree {
    let part_of = |parts: &[Vec<Act>]| {
        let len = parts.iter().flatten().max().map_or(0, |a| *a as usize + 1);
        let mut part = vec![usize::MAX; len];
        for (i, p) in parts.iter().enumerate() {
            p.iter().for_each(|a| part[*a as usize] = i);
        }
        PartOf(part)
    };
    match cut {
        Cut::Xor(parts) => {
            let subs = split_xor(log, &part_of(&parts), parts.len(), o.reference);
            Tree::Xor(
                subs.iter()
                    .map(|s| (recurse(s, o, depth + 1), s.cases()))
                    .collect(),
            )
        }
        Cut::Sequence(parts) => Tree::Sequence(
            split_sequence(log, &part_of(&parts), parts.len())
                .iter()
                .map(|s| recurse(s, o, depth + 1))
                .collect(),
        ),
        Cut::And(parts) => Tree::And(
            project(log, &part_of(&parts), parts.len())
                .iter()
                .map(|s| recurse(s, o, depth + 1))
                .collect(),
        ),
        Cut::Loop(parts) => {
            let (body, redos) = split_loop(log, &part_of(&parts), parts.len(), o.reference);
            Tree::Loop {
                body_runs: body.weight(),
                body: Box::new(recurse(&body, o, depth + 1)),
                redo: redos
                    .iter()
                    .map(|s| (recurse(s, o, depth + 1), s.cases()))
                    .collect(),
            }
        }
    }
}

/// Each trace goes to the part holding most of its events, without the others' events; on
/// a tie (a trace mixing branches is noise), to the part with more events in the log, where
/// the filter can see it as rare (`reference`: to the later part, as pm4py does).
fn split_xor(log: &Log, part: &PartOf, n: usize, reference: bool) -> Vec<Log> {
    let mut subs = vec![Log::default(); n];
    let mut size = vec![0usize; n];
    for (t, cases) in &log.traces {
        t.iter().for_each(|a| size[part[a]] += cases.len());
    }
    for (t, cases) in &log.traces {
        let mut count = vec![0usize; n];
        for a in t {
            count[part[a]] += 1;
        }
        let best = (0..n)
            .max_by_key(|i| match reference {
                true => (count[*i], *i, 0),
                false => (count[*i], size[*i], n - i),
            })
            .unwrap_or(0);
        let trace: Vec<Act> = t.iter().copied().filter(|a| part[a] == best).collect();
        subs[best].push_all(trace, cases);
    }
    subs
}

/// A sequence's split (Leemans' thesis, section 6.1.2, as pm4py does it): each trace is cut
/// into one piece per part, in order, where the fewest events end up on the wrong side; a
/// piece keeps only its own part's events, so an event out of order is dropped instead of
/// spreading into a part's log as noise.
fn split_sequence(log: &Log, part: &PartOf, n: usize) -> Vec<Log> {
    let mut subs = vec![Log::default(); n];
    for (t, cases) in &log.traces {
        let mut from = 0;
        for (i, sub) in subs.iter_mut().enumerate() {
            let to = if i + 1 == n {
                t.len()
            } else {
                split_point(t, part, i, from)
            };
            let piece: Vec<Act> = t[from..to]
                .iter()
                .copied()
                .filter(|a| part[a] == i)
                .collect();
            sub.push_all(piece, cases);
            from = to;
        }
    }
    subs
}

/// Where part `i`'s piece of `t` ends, from `from`: the first position after which the fewest
/// events are on the wrong side (part `i`'s events count for staying, later parts' against).
fn split_point(t: &[Act], part: &PartOf, i: usize, from: usize) -> usize {
    let (mut cost, mut best, mut at) = (0i64, 0i64, from);
    for (k, a) in t.iter().enumerate().skip(from) {
        match part[a].cmp(&i) {
            std::cmp::Ordering::Equal => cost -= 1,
            std::cmp::Ordering::Greater => cost += 1,
            std::cmp::Ordering::Less => {}
        }
        if cost < best {
            best = cost;
            at = k + 1;
        }
    }
    at
}

/// Each trace projected on each part.
fn project(log: &Log, part: &PartOf, n: usize) -> Vec<Log> {
    let mut subs = vec![Log::default(); n];
    for (t, cases) in &log.traces {
        for (i, sub) in subs.iter_mut().enumerate() {
            let trace: Vec<Act> = t.iter().copied().filter(|a| part[a] == i).collect();
            sub.push_all(trace, cases);
        }
    }
    subs
}

/// A loop's log split into body runs (part 0) and redo runs (each later part): a trace is cut
/// wherever it moves between parts. A trace that starts or ends in a redo gets an empty body
/// run there, as the loop requires.
fn split_loop(log: &Log, part: &PartOf, n: usize, reference: bool) -> (Log, Vec<Log>) {
    let mut body = Log::default();
    let mut redos = vec![Log::default(); n.saturating_sub(1)];
    for (t, cases) in &log.traces {
        let mut segments: Vec<(usize, Vec<Act>)> = Vec::new();
        for a in t {
            let p = part[a];
            match segments.last_mut() {
                Some((q, seg)) if *q == p => seg.push(*a),
                _ => {
                    let leading = segments.is_empty() && reference;
                    if p != 0 && segments.last().is_none_or(|(q, _)| *q != 0) && !leading {
                        segments.push((0, Vec::new()));
                    }
                    segments.push((p, vec![*a]));
                }
            }
        }
        if segments.last().is_some_and(|(q, _)| *q != 0) {
            segments.push((0, Vec::new()));
        }
        for (p, seg) in segments {
            match p {
                0 => body.push_all(seg, cases),
                p => redos[p - 1].push_all(seg, cases),
            }
        }
    }
    (body, redos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mined(traces: &[(&[Act], usize)]) -> String {
        let mut log = Log::default();
        let mut case = 0;
        for (t, n) in traces {
            for _ in 0..*n {
                log.push(t.to_vec(), case);
                case += 1;
            }
        }
        let names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        mine(&log, &Options::imf(0.2)).notation(&names)
    }

    #[test]
    fn a_block_skipped_as_a_whole_is_one_optional_part() {
        // a, then b and c together or neither, then d.
        let found = mined(&[(&[0, 1, 2, 3], 60), (&[0, 3], 40)]);
        assert_eq!(found, "->('a', X(->('b', 'c'), tau), 'd')");
        // b and c each optional on their own stay apart.
        let found = mined(&[(&[0, 1, 2, 3], 30), (&[0, 1, 3], 30), (&[0, 2, 3], 30)]);
        assert_eq!(found, "->('a', X('b', tau), X('c', tau), 'd')");
    }

    #[test]
    fn a_flower_keeps_each_branch_cases_and_the_repeats() {
        let mut log = Log::default();
        log.push(vec![0, 1, 0], 0);
        log.push(vec![2], 1);
        log.push(vec![2], 2);
        let Tree::Loop {
            body,
            redo,
            body_runs,
        } = flower(&log, &[0, 1, 2])
        else {
            panic!("not a loop")
        };
        assert_eq!(body_runs, 5);
        assert_eq!(redo, vec![(Tree::Tau, vec![0, 0])]);
        let Tree::Xor(mut branches) = *body else {
            panic!("not a choice")
        };
        branches.iter_mut().for_each(|(_, c)| c.sort_unstable());
        assert_eq!(
            branches,
            vec![
                (Tree::Activity(0), vec![0, 0]),
                (Tree::Activity(1), vec![0]),
                (Tree::Activity(2), vec![1, 2]),
            ]
        );
    }
}

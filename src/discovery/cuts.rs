//! The directly-follows graph of a (sub-)log and the four cuts of the Inductive Miner on it
//! (pure). Activities are the log's own; the graph's rows and columns index `acts`.
use super::imf::{Act, Log, Options};
use rustc_hash::FxHashMap as HashMap;

/// Directly-follows counts, and how often each activity starts and ends a trace.
#[derive(Clone, Debug)]
pub struct Dfg {
    pub acts: Vec<Act>,
    pub edge: Vec<Vec<usize>>,
    pub start: Vec<usize>,
    pub end: Vec<usize>,
    /// `msd[a][b]`: b occurs between two occurrences of a at a's minimum self-distance (the
    /// fewest events between two of a's in any trace), so a and b take part in one loop.
    pub msd: Vec<Vec<bool>>,
}

/// A partition of the activities and the operator that joins the parts. A loop's first part
/// is the body, the rest are redos.
#[derive(Clone, Debug, PartialEq)]
pub enum Cut {
    Xor(Vec<Vec<Act>>),
    Sequence(Vec<Vec<Act>>),
    And(Vec<Vec<Act>>),
    Loop(Vec<Vec<Act>>),
}

/// Where each activity of `acts` sits in them, by activity number (`usize::MAX` for an
/// activity not in `acts`): one array lookup per event instead of a hash.
fn positions(acts: &[Act]) -> Vec<usize> {
    let len = acts.iter().max().map_or(0, |a| *a as usize + 1);
    let mut at = vec![usize::MAX; len];
    acts.iter()
        .enumerate()
        .for_each(|(i, a)| at[*a as usize] = i);
    at
}

/// Each trace of `log` with the events of activities outside `at` dropped, as positions in
/// the [`Dfg`]'s `acts`, with its number of cases; one buffer serves every trace.
fn each_projected(log: &Log, at: &[usize], mut f: impl FnMut(&[usize], usize)) {
    let mut buf = Vec::new();
    for (t, cases) in &log.traces {
        buf.clear();
        buf.extend(
            t.iter()
                .filter_map(|a| at.get(*a as usize).copied().filter(|i| *i != usize::MAX)),
        );
        f(&buf, cases.len());
    }
}

impl Dfg {
    /// The graph of `log` over `acts`: events of any other activity are left out, as if the
    /// log were projected on `acts` (so a fall-through can try the log without an activity
    /// without building that log).
    pub fn of(log: &Log, acts: &[Act]) -> Dfg {
        let n = acts.len();
        let at = positions(acts);
        let mut d = Dfg {
            acts: acts.to_vec(),
            edge: vec![vec![0; n]; n],
            start: vec![0; n],
            end: vec![0; n],
            msd: vec![vec![false; n]; n],
        };
        let mut best = vec![usize::MAX; n];
        let mut last = vec![usize::MAX; n];
        each_projected(log, &at, |t, w| {
            if let (Some(f), Some(l)) = (t.first(), t.last()) {
                d.start[*f] += w;
                d.end[*l] += w;
            }
            for pair in t.windows(2) {
                d.edge[pair[0]][pair[1]] += w;
            }
            min_self_distance(t, &mut best, &mut last, &mut d.msd);
        });
        d
    }

    fn n(&self) -> usize {
        self.acts.len()
    }

    /// IMf's filter (Leemans, Fahland and van der Aalst 2013, section 4): an edge weaker than
    /// `noise` times the strongest way out of its source (an edge, or ending the trace there)
    /// goes, and so do start activities weaker than `noise` times the most frequent one.
    pub fn filtered(&self, noise: f64) -> Dfg {
        let mut d = self.clone();
        for (a, row) in d.edge.iter_mut().enumerate() {
            let max = row.iter().copied().max().unwrap_or(0).max(self.end[a]) as f64;
            row.iter_mut()
                .filter(|w| (**w as f64) <= noise * max)
                .for_each(|w| *w = 0);
        }
        let max = d.start.iter().copied().max().unwrap_or(0) as f64;
        d.start
            .iter_mut()
            .filter(|w| (**w as f64) < noise * max)
            .for_each(|w| *w = 0);
        d
    }

    fn has(&self, a: usize, b: usize) -> bool {
        self.edge[a][b] > 0
    }

    /// `reach[a][b]`: a path of one or more edges leads from a to b.
    fn reach(&self) -> Vec<Vec<bool>> {
        let n = self.n();
        closure(
            (0..n)
                .map(|a| (0..n).map(|b| self.has(a, b)).collect())
                .collect(),
        )
    }

    fn parts(&self, groups: Vec<Vec<usize>>) -> Vec<Vec<Act>> {
        groups
            .into_iter()
            .map(|g| g.into_iter().map(|i| self.acts[i]).collect())
            .collect()
    }
}

/// The minimum self-distance relation (Leemans, Fahland and van der Aalst, "Scalable process
/// discovery and conformance checking", SoSyM 2018, section 5.2), one trace `t` at a time:
/// for each activity, the activities seen between two of its occurrences that are the fewest
/// events apart (`best` holds each activity's distance so far, `last` is scratch).
fn min_self_distance(t: &[usize], best: &mut [usize], last: &mut [usize], rel: &mut [Vec<bool>]) {
    last.iter_mut().for_each(|x| *x = usize::MAX);
    for (k, i) in t.iter().enumerate() {
        let p = std::mem::replace(&mut last[*i], k);
        if p == usize::MAX {
            continue;
        }
        let d = k - p;
        if d < best[*i] {
            best[*i] = d;
            rel[*i].iter_mut().for_each(|x| *x = false);
        }
        if d == best[*i] {
            for b in &t[p + 1..k] {
                rel[*i][*b] = true;
            }
        }
    }
}

/// Groups of a union-find over `n` items, in order of their smallest member.
fn groups(n: usize, joined: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut root: Vec<usize> = (0..n).collect();
    fn find(root: &mut [usize], mut x: usize) -> usize {
        while root[x] != x {
            root[x] = root[root[x]];
            x = root[x];
        }
        x
    }
    for a in 0..n {
        for b in a + 1..n {
            if joined(a, b) {
                let (ra, rb) = (find(&mut root, a), find(&mut root, b));
                root[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::default();
    for x in 0..n {
        let r = find(&mut root, x);
        let k = *index.entry(r).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[k].push(x);
    }
    out
}

/// The transitive closure of a relation given as a matrix.
fn closure(mut r: Vec<Vec<bool>>) -> Vec<Vec<bool>> {
    for k in 0..r.len() {
        let via = r[k].clone();
        for row in r.iter_mut() {
            if row[k] {
                for (x, y) in row.iter_mut().zip(&via) {
                    *x |= *y;
                }
            }
        }
    }
    r
}

/// How often each activity is eventually followed by each other one in a trace (every pair
/// of events, the later one anywhere after the earlier), indexed like the [`Dfg`]'s `acts`.
pub fn eventually_follows(log: &Log, acts: &[Act]) -> Vec<Vec<usize>> {
    let n = acts.len();
    let at = positions(acts);
    let mut efg = vec![vec![0usize; n]; n];
    let mut after = vec![0usize; n];
    each_projected(log, &at, |t, w| {
        after.iter_mut().for_each(|x| *x = 0);
        for i in t.iter().rev() {
            for (e, later) in efg[*i].iter_mut().zip(&after) {
                *e += later * w;
            }
            after[*i] += 1;
        }
    });
    efg
}

/// The first cut that holds, in the Inductive Miner's order.
pub fn find(d: &Dfg, o: &Options) -> Option<Cut> {
    xor(d)
        .map(Cut::Xor)
        .or_else(|| sequence(d, &d.reach()).map(Cut::Sequence))
        .or_else(|| concurrent(d, o).map(Cut::And))
        .or_else(|| repeat(d, o).map(Cut::Loop))
}

/// IMf's second try, on the filtered graph `d`. With `efg`, the sequence cut first looks at
/// the eventually-follows relation filtered by the same rule (an entry weaker than `noise`
/// times the strongest of its row goes), so that a rare event out of order does not merge two
/// parts of a sequence.
pub fn find_filtered(d: &Dfg, efg: Option<&[Vec<usize>]>, o: &Options) -> Option<Cut> {
    let Some(efg) = efg else {
        return find(d, o);
    };
    let noise = o.noise;
    let kept: Vec<Vec<bool>> = efg
        .iter()
        .map(|row| {
            let max = row.iter().copied().max().unwrap_or(0) as f64;
            row.iter()
                .map(|w| *w > 0 && *w as f64 > noise * max)
                .collect()
        })
        .collect();
    xor(d)
        .map(Cut::Xor)
        .or_else(|| sequence(d, &closure(kept)).map(Cut::Sequence))
        .or_else(|| sequence(d, &d.reach()).map(Cut::Sequence))
        .or_else(|| concurrent(d, o).map(Cut::And))
        .or_else(|| repeat(d, o).map(Cut::Loop))
}

/// Exclusive choice: the graph falls apart into unconnected components.
fn xor(d: &Dfg) -> Option<Vec<Vec<Act>>> {
    let g = groups(d.n(), |a, b| d.has(a, b) || d.has(b, a));
    (g.len() > 1).then(|| d.parts(g))
}

/// Sequence over the reachability relation `r`: groups such that each earlier group reaches
/// every later one and never back. Strongly connected components, merged while two of them
/// cannot reach each other.
fn sequence(d: &Dfg, r: &[Vec<bool>]) -> Option<Vec<Vec<Act>>> {
    let scc = groups(d.n(), |a, b| r[a][b] && r[b][a]);
    let k = scc.len();
    if k < 2 {
        return None;
    }
    let reaches = |x: &[usize], y: &[usize]| x.iter().any(|a| y.iter().any(|b| r[*a][*b]));
    let merged = groups(k, |x, y| {
        !reaches(&scc[x], &scc[y]) && !reaches(&scc[y], &scc[x])
    });
    if merged.len() < 2 {
        return None;
    }
    let mut parts: Vec<Vec<usize>> = merged
        .into_iter()
        .map(|m| m.into_iter().flat_map(|i| scc[i].clone()).collect())
        .collect();
    let later = |p: &[usize], parts: &[Vec<usize>]| {
        parts
            .iter()
            .filter(|q| reaches(p, q) && !reaches(q, p))
            .count()
    };
    let all = parts.clone();
    parts.sort_by_key(|p| std::cmp::Reverse(later(p, &all)));
    for i in 0..parts.len() {
        for j in i + 1..parts.len() {
            if reaches(&parts[j], &parts[i]) || !reaches(&parts[i], &parts[j]) {
                return None;
            }
        }
    }
    let parts = merge_skippable(d, parts);
    (parts.len() > 1).then(|| d.parts(parts))
}

/// The strict sequence cut (Leemans, "Robust Process Mining with Guarantees", PhD thesis, TU
/// Eindhoven 2017, p. 233, with its function SKIPPABLE): where a part can be skipped (an edge jumps
/// over it, or the trace may start after it or end before it), the neighbouring parts that
/// are only entered from it (later ones) or only lead up to it (earlier ones) join it, so
/// that a block that is skipped as a whole becomes one optional part instead of several
/// independently optional ones.
fn merge_skippable(d: &Dfg, mut parts: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    let k = parts.len() as i64;
    let mut group = vec![0i64; d.n()];
    for (i, p) in parts.iter().enumerate() {
        p.iter().for_each(|a| group[*a] = i as i64);
    }
    let any = |p: &[usize], of: &[usize]| p.iter().any(|a| of[*a] > 0);
    // The earliest part with an edge into each part (-1: the trace may start there), and the
    // latest part reached from each part (k: the trace may end there).
    let mut from: Vec<i64> = parts
        .iter()
        .map(|p| if any(p, &d.start) { -1 } else { k })
        .collect();
    let mut to: Vec<i64> = parts
        .iter()
        .map(|p| if any(p, &d.end) { k } else { -1 })
        .collect();
    for a in 0..d.n() {
        for b in (0..d.n()).filter(|b| d.has(a, *b)) {
            let (ga, gb) = (group[a], group[b]);
            from[gb as usize] = from[gb as usize].min(ga);
            to[ga as usize] = to[ga as usize].max(gb);
        }
    }
    for p in 0..parts.len() {
        if !skippable(d, &parts, p) {
            continue;
        }
        for q in (0..p).rev().take_while(|q| to[*q] <= p as i64) {
            let moved = std::mem::take(&mut parts[q]);
            parts[p].extend(moved);
        }
        for q in (p + 1..parts.len()).take_while(|q| from[*q] >= p as i64) {
            let moved = std::mem::take(&mut parts[q]);
            parts[p].extend(moved);
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// Whether the sequence can pass part `p` by: an edge from an earlier part to a later one, a
/// start activity after it, or an end activity before it.
fn skippable(d: &Dfg, parts: &[Vec<usize>], p: usize) -> bool {
    let (before, after) = (&parts[..p], &parts[p + 1..]);
    let jumps = before
        .iter()
        .flatten()
        .any(|a| after.iter().flatten().any(|b| d.has(*a, *b)));
    jumps
        || after.iter().flatten().any(|a| d.start[*a] > 0)
        || before.iter().flatten().any(|a| d.end[*a] > 0)
}

/// Concurrency: parts whose activities all directly follow each other both ways, each part
/// with a start and an end activity (a part without joins another); with
/// `min_self_distance`, activities related by minimum self-distance (one loop) stay in one
/// part.
fn concurrent(d: &Dfg, o: &Options) -> Option<Vec<Vec<Act>>> {
    let msd = |a: usize, b: usize| o.min_self_distance && (d.msd[a][b] || d.msd[b][a]);
    let mut g = groups(d.n(), |a, b| !(d.has(a, b) && d.has(b, a)) || msd(a, b));
    let complete =
        |p: &Vec<usize>| p.iter().any(|a| d.start[*a] > 0) && p.iter().any(|a| d.end[*a] > 0);
    if o.reference {
        // pm4py: smallest parts first, an incomplete one joins its left neighbour (the
        // first joins the next).
        g.sort_by_key(Vec::len);
        let mut i = 0;
        while i < g.len() && g.len() > 1 {
            if complete(&g[i]) {
                i += 1;
                continue;
            }
            let part = g.remove(i);
            g[i.saturating_sub(1)].extend(part);
        }
        return (g.len() > 1).then(|| d.parts(g));
    }
    let (mut good, bad): (Vec<Vec<usize>>, Vec<Vec<usize>>) = g.into_iter().partition(complete);
    if good.len() < 2 {
        return None;
    }
    for b in bad {
        good[0].extend(b);
    }
    Some(d.parts(good))
}

/// Loop (Leemans, Fahland and van der Aalst, "Discovering Block-Structured Process Models from
/// Event Logs – A Constructive Approach", PN 2013, definition of the loop cut): the body holds
/// the start and end activities; each other component of the graph without them is a redo
/// unless one of these puts it in the body: it is entered from a body activity that is not an
/// end activity, it leaves to one that is not a start activity, one of its activities goes
/// to some start activities but not all, or one is entered from some end activities but not
/// all. With `reference`, the redos form one part, as in pm4py.
fn repeat(d: &Dfg, o: &Options) -> Option<Vec<Vec<Act>>> {
    let n = d.n();
    let is_start = |a: usize| d.start[a] > 0;
    let is_end = |a: usize| d.end[a] > 0;
    let edge_points: Vec<usize> = (0..n).filter(|a| is_start(*a) || is_end(*a)).collect();
    let others: Vec<usize> = (0..n).filter(|a| !edge_points.contains(a)).collect();
    let comps = groups(others.len(), |x, y| {
        let (a, b) = (others[x], others[y]);
        d.has(a, b) || d.has(b, a)
    });
    let mut body = edge_points.clone();
    let mut redos: Vec<Vec<usize>> = Vec::new();
    for comp in comps {
        let comp: Vec<usize> = comp.into_iter().map(|i| others[i]).collect();
        if redo_holds(d, &comp) {
            redos.push(comp);
        } else {
            body.extend(comp);
        }
    }
    if redos.is_empty() || body.is_empty() {
        return None;
    }
    if o.reference {
        redos = vec![redos.concat()];
    }
    body.sort_unstable();
    let mut parts = vec![body];
    parts.extend(redos);
    Some(d.parts(parts))
}

/// Whether a component outside the start and end activities can be a loop's redo.
fn redo_holds(d: &Dfg, comp: &[usize]) -> bool {
    let n = d.n();
    let starts: Vec<usize> = (0..n).filter(|a| d.start[*a] > 0).collect();
    let ends: Vec<usize> = (0..n).filter(|a| d.end[*a] > 0).collect();
    let outside = |x: &usize| !comp.contains(x);
    let entered_from_body = comp.iter().any(|c| {
        (0..n)
            .filter(outside)
            .any(|s| d.has(s, *c) && d.end[s] == 0)
    });
    let leaves_to_body = comp.iter().any(|c| {
        (0..n)
            .filter(outside)
            .any(|e| d.has(*c, e) && d.start[e] == 0)
    });
    let from_end = comp.iter().any(|c| ends.iter().any(|e| d.has(*e, *c)));
    let to_start = comp.iter().any(|c| starts.iter().any(|s| d.has(*c, *s)));
    let start_complete = comp
        .iter()
        .all(|c| !starts.iter().any(|s| d.has(*c, *s)) || starts.iter().all(|s| d.has(*c, *s)));
    let end_complete = comp
        .iter()
        .all(|c| !ends.iter().any(|e| d.has(*e, *c)) || ends.iter().all(|e| d.has(*e, *c)));
    !entered_from_body && !leaves_to_body && from_end && to_start && start_complete && end_complete
}

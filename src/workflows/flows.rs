//! A workflow's step graph (pure): the flows between its steps, as the simulator routes them.
//! Branches go to their `next_step`, the rest to `default_next` or the next step; a step with
//! `conditions` can also be skipped; the lanes of a parallel group start together and join at
//! the step after the group.
use super::steps::{Compiled, END};
use async_graphql::{Enum, SimpleObject};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum FlowKind {
    /// Taken when the branch's condition holds.
    Branch,
    /// Taken when no branch matches (or the step has none).
    Next,
    /// Taken when the step's own `conditions` do not hold: the step is skipped.
    Skip,
    /// Into or out of a lane of a parallel group.
    Lane,
}

/// One flow between steps; `to` is `"$end"` for the end of the workflow.
#[derive(Clone, Debug, PartialEq, SimpleObject)]
pub struct StepFlow {
    pub from: String,
    pub to: String,
    pub kind: FlowKind,
    /// The branch's condition (for BRANCH) or the step's (for SKIP, which is taken when it
    /// does not hold).
    pub condition: Option<async_graphql::Json<Value>>,
}

fn name(c: &Compiled, i: usize) -> String {
    c.steps.get(i).map_or(END.to_string(), |s| s.name.clone())
}

/// The group and lane of step `i`, if it is in one.
fn lane(c: &Compiled, i: usize) -> Option<(&str, u32)> {
    let p = c.steps.get(i)?.parallel.as_ref()?;
    Some((p.group.as_str(), p.lane))
}

/// The first step after the group that step `i` is in.
fn after_group(c: &Compiled, i: usize) -> usize {
    let g = lane(c, i).map(|l| l.0);
    (i..c.steps.len())
        .find(|&j| lane(c, j).map(|l| l.0) != g)
        .unwrap_or(c.steps.len())
}

/// Where falling through from step `i` goes, and how: the next step, or, at the end of a
/// lane, the step after the group.
fn fall_through(c: &Compiled, i: usize) -> (usize, FlowKind) {
    match (lane(c, i), lane(c, i + 1)) {
        (Some((g, l)), Some((h, m))) if g == h && l != m => (after_group(c, i), FlowKind::Lane),
        _ => (i + 1, FlowKind::Next),
    }
}

/// Every lane's first step in the group that starts at step `first`.
pub(crate) fn lane_starts(c: &Compiled, first: usize) -> Vec<usize> {
    let Some((g, _)) = lane(c, first) else {
        return vec![first];
    };
    let end = after_group(c, first);
    let mut seen = Vec::new();
    (first..end)
        .filter(|&j| {
            let l = lane(c, j).map(|l| l.1);
            let new = !seen.contains(&l);
            seen.push(l);
            new && lane(c, j).is_some_and(|x| x.0 == g)
        })
        .collect()
}

fn flow(c: &Compiled, from: usize, to: usize, kind: FlowKind, cond: Option<&Value>) -> StepFlow {
    StepFlow {
        from: name(c, from),
        to: name(c, to),
        kind,
        condition: cond.cloned().map(async_graphql::Json),
    }
}

/// The flows out of every step, in step order.
pub fn flows(c: &Compiled) -> Vec<StepFlow> {
    let mut out = Vec::new();
    for (i, s) in c.steps.iter().enumerate() {
        if s.conditions.is_some() {
            let (to, _) = fall_through(c, i);
            out.push(flow(c, i, to, FlowKind::Skip, s.conditions.as_ref()));
        }
        for (j, b) in s.branches.iter().flatten().enumerate() {
            out.push(flow(
                c,
                i,
                c.branches[i][j].1,
                FlowKind::Branch,
                Some(&b.condition),
            ));
        }
        let (to, kind) = match c.default_next[i] {
            Some(t) => (t, FlowKind::Next),
            None => fall_through(c, i),
        };
        // Into a parallel group from outside it: one flow to each lane's first step.
        let group = |k: usize| lane(c, k).map(|l| l.0);
        if group(to).is_some() && group(i) != group(to) {
            for start in lane_starts(c, to) {
                out.push(flow(c, i, start, FlowKind::Lane, None));
            }
        } else {
            out.push(flow(c, i, to, kind, None));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::steps::compile;
    use serde_json::json;

    fn pairs(steps: Value) -> Vec<(String, String, FlowKind)> {
        flows(&compile(&steps).unwrap())
            .into_iter()
            .map(|f| (f.from, f.to, f.kind))
            .collect()
    }

    fn p(a: &str, b: &str, k: FlowKind) -> (String, String, FlowKind) {
        (a.into(), b.into(), k)
    }

    #[test]
    fn branches_skips_and_lanes_become_flows() {
        let steps = json!([
            {"name": "a", "action": "x", "branches": [{"condition": {"n": {"$gt": 1}}, "next_step": "c"}]},
            {"name": "b", "action": "x", "conditions": {"n": {"$lt": 0}}},
            {"name": "c", "action": "x"},
            {"name": "l1", "action": "x", "parallel": {"group": "g", "lane": 1}},
            {"name": "l1b", "action": "x", "parallel": {"group": "g", "lane": 1}},
            {"name": "l2", "action": "x", "parallel": {"group": "g", "lane": 2}},
            {"name": "d", "action": "x", "default_next": "$end"},
        ]);
        use FlowKind::*;
        assert_eq!(
            pairs(steps),
            vec![
                p("a", "c", Branch),
                p("a", "b", Next),
                p("b", "c", Skip),
                p("b", "c", Next),
                p("c", "l1", Lane),
                p("c", "l2", Lane),
                p("l1", "l1b", Next),
                p("l1b", "d", Lane),
                p("l2", "d", Next),
                p("d", "$end", Next),
            ]
        );
    }
}

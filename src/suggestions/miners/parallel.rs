//! PARALLEL_APPROVAL.
use super::*;

/// PARALLEL_APPROVAL: consecutive approval steps with different approvers, where the later
/// step's condition does not read the earlier step's outcome and history shows the earlier
/// step rarely rejects.
pub fn parallel_approvals(w: &WorkflowHistory, min: usize) -> Vec<Mined> {
    let mut out = Vec::new();
    for pair in w.steps.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let Some(b_applies) = independent_approvals(a, b) else {
            continue;
        };
        let t = tally(w, a, b, b_applies.as_ref());
        if t.n < min {
            continue;
        }
        // "Rarely rejects": even the pessimistic (95 % upper) rejection rate is under 10 %.
        let upper = wilson_upper(t.rejected, t.n);
        if upper <= 0.10 {
            out.push(parallel_suggestion(w, a, b, &t, upper));
        }
    }
    out
}

/// For two consecutive approval steps with different approvers, where the later one does
/// not read the earlier one's outcome: the later step's own condition (None: it always
/// applies). None when the pair does not qualify.
pub(super) fn independent_approvals(
    a: &crate::workflows::steps::Step,
    b: &crate::workflows::steps::Step,
) -> Option<Option<conditions::Cond>> {
    let (aa, ba) = (a.approver.as_ref()?, b.approver.as_ref()?);
    if aa == ba {
        return None;
    }
    let reads_outcome = b
        .conditions
        .as_ref()
        .and_then(|c| conditions::parse(c).ok())
        .is_some_and(|c| {
            c.fields()
                .iter()
                .any(|f| f.contains(&a.name) || f.contains("decision"))
        });
    if reads_outcome {
        return None;
    }
    // The later step's own condition decides which cases it concerns. Whether it ran
    // cannot: in a sequence it runs only after the earlier step approved, so counting
    // only cases where it ran would never see a rejection.
    match &b.conditions {
        None => Some(None),
        Some(c) => conditions::parse(c).ok().map(Some),
    }
}

/// What the history says about a pair of approvals.
#[derive(Default)]
pub(super) struct PairTally {
    /// Executions in which the first decided and the second's condition holds.
    n: usize,
    rejected: usize,
    /// How long the second waited behind the first, and what overlapping would have saved.
    wait_ms: f64,
    saved_ms: f64,
    ids: Vec<Uuid>,
}

pub(super) fn tally(
    w: &WorkflowHistory,
    a: &crate::workflows::steps::Step,
    b: &crate::workflows::steps::Step,
    b_applies: Option<&conditions::Cond>,
) -> PairTally {
    let mut t = PairTally::default();
    for c in &w.cases {
        let Some(sa) = c
            .steps
            .iter()
            .find(|s| s.name == a.name && s.decision.is_some())
        else {
            continue;
        };
        if b_applies.is_some_and(|cond| !cond.matches_map(&c.input)) {
            continue;
        }
        t.n += 1;
        if sa.decision == Some(ApprovalDecision::Rejected) {
            t.rejected += 1;
        } else if let Some(sb) = c.steps.iter().find(|s| s.name == b.name) {
            // In parallel the pair takes as long as the longer of the two.
            let (da, db) = (sa.duration_ms.unwrap_or(0), sb.duration_ms.unwrap_or(0));
            t.wait_ms += da as f64;
            t.saved_ms += da.min(db) as f64;
            t.ids.push(c.id);
        }
    }
    t
}

pub(super) fn parallel_suggestion(
    w: &WorkflowHistory,
    a: &crate::workflows::steps::Step,
    b: &crate::workflows::steps::Step,
    t: &PairTally,
    upper: f64,
) -> Mined {
    let (aa, ba) = (
        a.approver.as_deref().unwrap_or_default(),
        b.approver.as_deref().unwrap_or_default(),
    );
    let hours = t.saved_ms / 3_600_000.0;
    let (n, rejected, wait_ms, saved_ms, ids) = (t.n, t.rejected, t.wait_ms, t.saved_ms, &t.ids);
    Mined {
        kind: SuggestionType::ParallelApproval,
        workflow_id: Some(w.id),
        title: format!(
            "Ask {aa} and {ba} in parallel (\"{}\" and \"{}\")",
            a.name, b.name
        ),
        description: format!(
            "Of {n} requests that concern both, \"{}\" ({aa}) rejected {rejected}, and \"{}\" ({ba}) does not depend on its outcome. {ba} waited {:.1} hours behind {aa}; running them in parallel would have made those requests {:.1} hours shorter in all ({:.1} min per request); {rejected} requests would have reached {ba} needlessly.",
            a.name,
            b.name,
            wait_ms / 3_600_000.0,
            hours,
            saved_ms / ids.len().max(1) as f64 / 60_000.0
        ),
        confidence: 1.0 - upper,
        frequency: n,
        evidence: json!({"first": a.name, "second": b.name, "executions": n, "firstRejected": rejected, "rejectionRateUpperBound": upper, "secondWaitedHours": wait_ms / 3_600_000.0, "sampleExecutionIds": sample_ids(ids.iter().copied()),
        "impactMethod": {
            "casesAffected": "executions in which the first step decided and the second step's condition holds",
            "hoursSaved": format!("replayed: in each execution the first approved and the second then ran, the two overlapping instead of running one after the other shortens it by the shorter of their recorded durations; summed: {ELAPSED}"),
            "secondWaitedHours": "the first step's recorded durations in those executions, summed: how long the second waited behind it",
            "hoursSavedMeasures": "elapsed",
            "needlessRequests": "executions in which the first step rejected (the second would have been asked in vain)",
        }}),
        proposed_change: json!({"parallel": [a.name, b.name]}),
        impact: json!({"casesAffected": n, "hoursSaved": hours, "decidedDifferently": 0, "needlessRequests": rejected}),
        fingerprint: fingerprint(&["parallel_approval", &w.id.to_string(), &a.name, &b.name]),
    }
}

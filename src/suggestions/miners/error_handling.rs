//! ERROR_HANDLING.
use super::*;

/// ERROR_HANDLING: actions with high failure rates. Idempotent actions get retries with
/// backoff; the others compensation or manual review.
pub fn error_handling(
    workflows: &[WorkflowHistory],
    idempotent: &HashMap<String, bool>,
    min: usize,
) -> Vec<Mined> {
    let mut stats: BTreeMap<&str, (usize, usize, Vec<Uuid>)> = BTreeMap::new();
    for w in workflows {
        for c in &w.cases {
            for s in &c.steps {
                if let Some(t) = &s.action_type {
                    let e = stats.entry(t.as_str()).or_default();
                    e.0 += 1;
                    if s.failed {
                        e.1 += 1;
                        e.2.push(c.id);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (action, (n, failed, ids)) in stats {
        if n < min || failed == 0 {
            continue;
        }
        let lower = wilson_lower(failed, n);
        if lower < 0.05 {
            continue;
        }
        let idem = idempotent.get(action).copied().unwrap_or(false);
        let (title, change) = if idem {
            (
                format!("Retry \"{action}\" with backoff"),
                json!({"action": action, "retry": {"maxAttempts": 3, "backoff": "exponential", "initialDelaySeconds": 2}}),
            )
        } else {
            (
                format!("Add compensation or manual review to \"{action}\""),
                json!({"action": action, "onFailure": "compensate_or_review", "reason": "not idempotent: a blind retry could repeat its side effects"}),
            )
        };
        out.push(Mined {
            kind: SuggestionType::ErrorHandling,
            workflow_id: None,
            title,
            description: format!(
                "\"{action}\" failed {failed} of {n} times ({:.1}%, at least {:.1}% with 95% confidence). It is {}idempotent, so {}.",
                failed as f64 * 100.0 / n as f64,
                lower * 100.0,
                if idem { "" } else { "not " },
                if idem { "retrying with backoff is safe" } else { "failures need compensation or a person" }
            ),
            confidence: lower,
            frequency: n,
            evidence: json!({"action": action, "runs": n, "failures": failed, "failureRateLowerBound": lower, "idempotent": idem, "sampleExecutionIds": sample_ids(ids.iter().copied()),
                "impactMethod": {
                    "casesAffected": "distinct executions in which the action failed at least once",
                    "failures": "failed runs of the action",
                    "hoursSaved": "not estimated (0): the history does not say how long a failure cost",
                }}),
            proposed_change: change,
            impact: json!({"casesAffected": distinct(ids.iter().copied()), "failures": failed, "hoursSaved": 0.0, "decidedDifferently": 0}),
            fingerprint: fingerprint(&["error_handling", action]),
        });
    }
    out
}

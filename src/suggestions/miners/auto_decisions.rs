//! AUTO_APPROVAL and AUTO_REJECTION.
use super::rules::*;
use super::*;

/// AUTO_APPROVAL and AUTO_REJECTION: rules over input attributes under which an approval
/// step's outcome is (statistically) certain.
pub fn auto_decisions(w: &WorkflowHistory, min: usize) -> Vec<Mined> {
    let mut out = Vec::new();
    for (step, ds) in decisions_by_step(w) {
        for want_approved in [true, false] {
            let Some(rule) = best_rule(&ds, want_approved, min) else {
                continue;
            };
            let Ok(cond) = conditions::parse(&rule.condition) else {
                continue;
            };
            let covered: Vec<&Decision<'_>> = ds
                .iter()
                .filter(|d| cond.matches_map(&d.case.input))
                .collect();
            let differently = covered
                .iter()
                .filter(|d| d.approved != want_approved)
                .count();
            let hours: f64 =
                covered.iter().map(|d| d.duration_ms as f64).sum::<f64>() / 3_600_000.0;
            let cases = distinct(covered.iter().map(|d| d.case.id));
            let (kind, verb, outcome) = if want_approved {
                (SuggestionType::AutoApproval, "approve", "approved")
            } else {
                (SuggestionType::AutoRejection, "reject", "rejected")
            };
            let rate = rule.hits as f64 / rule.support as f64;
            let every = if rule.hits == rule.support {
                "every time".to_string()
            } else {
                format!("{:.1}% of the time", rate * 100.0)
            };
            out.push(Mined {
                kind,
                workflow_id: Some(w.id),
                title: format!("Auto-{verb} \"{step}\" when {}", rule.text),
                description: format!(
                    "Based on {} requests, \"{step}\" {outcome} requests with {} {every} (95% confidence lower bound {:.3}). Deciding these automatically would have saved the {:.1} hours these decisions took, waiting included.",
                    rule.support, rule.text, rule.wilson(), hours
                ),
                confidence: rule.wilson(),
                frequency: rule.support,
                evidence: json!({
                    "step": step,
                    "rule": rule.text,
                    "support": rule.support,
                    outcome: rule.hits,
                    "rate": rate,
                    "wilsonLowerBound": rule.wilson(),
                    "decisionsSeen": ds.len(),
                    "sampleExecutionIds": sample_ids(covered.iter().map(|d| d.case.id)),
                    "impactMethod": {
                        "casesAffected": "distinct executions that reached the step with an input the rule matches",
                        "decisionsAffected": "the step's decisions in those executions (a step that repeats decides more than once)",
                        "hoursSaved": format!("the recorded durations of those decisions, summed: {ELAPSED}"),
                        "hoursSavedMeasures": "elapsed",
                        "decidedDifferently": "decisions among them whose recorded outcome differs from the rule's",
                    },
                }),
                proposed_change: json!({
                    "step": step,
                    "decision": outcome,
                    "when": rule.condition,
                    // The approval step then runs only when the rule does not hold.
                    "stepConditions": {"$nor": [rule.condition]},
                }),
                impact: json!({
                    "casesAffected": cases,
                    "decisionsAffected": covered.len(),
                    "hoursSaved": hours,
                    "decidedDifferently": differently,
                }),
                fingerprint: fingerprint(&[kind.as_str(), &w.id.to_string(), step, &rule.condition.to_string()]),
            });
        }
    }
    out
}

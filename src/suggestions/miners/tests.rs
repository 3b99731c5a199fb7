//! The miners' tests.
use super::*;

/// A history of one approval step over `discount`: `decide(i)` says whether case `i`,
/// whose discount is `discount(i)`, was approved.
fn history(
    n: usize,
    discount: impl Fn(usize) -> usize,
    decide: impl Fn(usize) -> bool,
) -> WorkflowHistory {
    WorkflowHistory {
        id: Uuid::now_v7(),
        name: "Discounts".into(),
        steps: vec![],
        sla_targets: vec![],
        cases: (0..n)
            .map(|i| CaseRec {
                id: Uuid::now_v7(),
                input: json!({"discount": discount(i)})
                    .as_object()
                    .cloned()
                    .unwrap(),
                duration_ms: Some(60_000),
                failed: false,
                steps: vec![StepRec {
                    name: "Manager".into(),
                    action_type: None,
                    approver: Some("manager".into()),
                    decision: Some(if decide(i) {
                        ApprovalDecision::Approved
                    } else {
                        ApprovalDecision::Rejected
                    }),
                    duration_ms: Some(60_000),
                    handling: true,
                    failed: false,
                }],
            })
            .collect(),
    }
}

#[test]
fn near_misses_name_the_strongest_rule_that_falls_short() {
    // Discounts 0..9 (ten cases each) are approved 9 times in 10, one rejection per
    // value, so no prefix is pure; discounts 10..19 are approved half the time.
    let w = history(
        200,
        |i| i / 10,
        |i| {
            if i < 100 {
                i % 10 != (i / 10) % 10
            } else {
                i % 2 == 0
            }
        },
    );
    assert!(auto_decisions(&w, 10).is_empty(), "nothing reaches the bar");
    let near = near_misses(std::slice::from_ref(&w), 10);
    let approve: Vec<&NearMiss> = near
        .iter()
        .filter(|m| m.decision == ApprovalDecision::Approved)
        .collect();
    assert_eq!(approve.len(), 1, "{near:#?}");
    let m = approve[0];
    assert_eq!(m.condition, json!({"discount": {"$lt": 10}}));
    assert_eq!((m.support, m.matching), (100, 90));
    assert!((m.wilson_lower_bound - wilson_lower(90, 100)).abs() < 1e-12);
    assert!(m.wilson_lower_bound < RULE_CONFIDENCE);

    // 150 of 150 under 10: a suggestion, so no near miss for that outcome.
    let w = history(300, |i| i / 15, |i| i < 150 || i % 2 == 0);
    assert_eq!(auto_decisions(&w, 10).len(), 1);
    let near = near_misses(std::slice::from_ref(&w), 10);
    assert!(
        near.iter()
            .all(|m| m.decision == ApprovalDecision::Rejected),
        "{near:#?}"
    );
    // Support below the minimum is never a near miss either.
    assert!(near_misses(std::slice::from_ref(&w), 1000).is_empty());
}

#[test]
fn wilson_bounds() {
    assert!(
        (wilson_lower(150, 150) - 0.97505).abs() < 1e-4,
        "{}",
        wilson_lower(150, 150)
    );
    assert_eq!(wilson_lower(0, 0), 0.0);
    assert!(wilson_lower(5, 10) < 0.5 && wilson_upper(5, 10) > 0.5);
    assert!(
        (wilson_lower(81, 100) - 0.7222).abs() < 1e-3,
        "{}",
        wilson_lower(81, 100)
    );
}

//! The figures a breach and an SLO report are shown with, and their wording (pure). The
//! API's fields, the alert email and the board read the same numbers from here, so that they
//! never disagree: a breach's margin is against the threshold it crossed, with the
//! target-relative figure named apart; an exhausted error budget says so and by how much; a
//! window with nothing in it says that rather than "100 % of 0".
use super::slo::SloReport;
use crate::entity::breach;

/// `x` as a percentage of `base`; 0 when `base` is not positive.
pub fn percent_of(x: f64, base: f64) -> f64 {
    if base > 0.0 { x / base * 100.0 } else { 0.0 }
}

/// How far over a breach is: against the threshold it crossed, and against the target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Margins {
    pub over_threshold_seconds: f64,
    pub over_threshold_percentage: f64,
    pub over_target_seconds: f64,
    pub over_target_percentage: f64,
}

pub fn margins(b: &breach::Model) -> Margins {
    let threshold = b.threshold_seconds as f64;
    let over_target = b.actual_duration_seconds - b.target_duration_seconds;
    Margins {
        over_threshold_seconds: b.breach_margin_seconds,
        over_threshold_percentage: percent_of(b.breach_margin_seconds, threshold),
        over_target_seconds: over_target,
        over_target_percentage: percent_of(over_target, b.target_duration_seconds),
    }
}

/// A signed figure in seconds with its percentage: `+1.0 s (+6.7 % of the warning threshold)`.
fn signed(seconds: f64, percentage: f64, of: &str) -> String {
    format!("{seconds:+.1} s ({percentage:+.1} % of {of})")
}

/// The breach's margin lines, as the email prints them.
pub fn margin_lines(b: &breach::Model) -> String {
    let m = margins(b);
    format!(
        "Over threshold: {}\nAgainst target: {}",
        signed(
            m.over_threshold_seconds,
            m.over_threshold_percentage,
            &format!("the {} threshold", b.severity)
        ),
        signed(
            m.over_target_seconds,
            m.over_target_percentage,
            "the target"
        ),
    )
}

/// The error budget in words: what is left of it, or that it is exhausted and by how much.
pub fn budget_text(r: &SloReport) -> String {
    if r.error_budget_exhausted {
        format!(
            "exhausted: {:.2} executions over an allowance of {:.2}",
            r.error_budget_overspent, r.error_budget_total
        )
    } else {
        format!(
            "{:.2} of {:.2} executions left",
            r.error_budget_remaining, r.error_budget_total
        )
    }
}

/// Compliance in words: how many of how many met the target, or that nothing was counted.
pub fn compliance_text(r: &SloReport) -> String {
    if r.total == 0 {
        return format!(
            "no execution completed or overran in the {} h window; nothing to measure yet",
            r.window_hours
        );
    }
    format!(
        "{:.2} % of {} executions met the target; objective {} % is {}. Error budget: {}",
        r.compliance_percentage,
        r.total,
        r.target_percentage,
        if r.meets_target { "met" } else { "NOT met" },
        budget_text(r)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breach(severity: &str, threshold: i64, target: f64, actual: f64) -> breach::Model {
        let now = chrono::Utc::now();
        breach::Model {
            id: uuid::Uuid::nil(),
            company_id: uuid::Uuid::nil(),
            sla_id: uuid::Uuid::nil(),
            execution_id: uuid::Uuid::nil(),
            severity: severity.into(),
            threshold_seconds: threshold,
            actual_duration_seconds: actual,
            target_duration_seconds: target,
            breach_margin_seconds: actual - threshold as f64,
            detected_at: now,
            alert_sent: false,
            alert_sent_at: None,
            alert_recipients: serde_json::json!([]),
            acknowledged: false,
            acknowledged_by: None,
            acknowledged_at: None,
            notes: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_warning_breach_is_over_its_threshold_and_may_be_under_its_target() {
        // Warning at 15 s, target 45 s: detected at 16 s it is 1 s over, and 29 s under target.
        let b = breach("warning", 15, 45.0, 16.0);
        let m = margins(&b);
        assert_eq!(m.over_threshold_seconds, 1.0);
        assert!((m.over_threshold_percentage - 6.667).abs() < 0.01);
        assert_eq!(m.over_target_seconds, -29.0);
        let text = margin_lines(&b);
        assert!(
            text.contains("+1.0 s (+6.7 % of the warning threshold)"),
            "{text}"
        );
        assert!(text.contains("-29.0 s (-64.4 % of the target)"), "{text}");
    }

    #[test]
    fn an_empty_window_and_an_exhausted_budget_say_so() {
        let o = super::super::slo::Objective {
            target_seconds: 10.0,
            warning_seconds: 10.0,
            critical_seconds: 20.0,
            slo_target_percentage: 80.0,
        };
        let now = chrono::Utc::now();
        let none = super::super::slo::report(&super::super::slo::Samples(&[], &o), &o, 24, now);
        let text = compliance_text(&none);
        assert!(text.starts_with("no execution"), "{text}");
        let samples: Vec<_> = [5_000, 30_000, 30_000, 5_000]
            .iter()
            .map(|&ms| super::super::slo::Sample {
                completed_at: now - chrono::Duration::minutes(5),
                duration_ms: ms,
            })
            .collect();
        let r = super::super::slo::report(&super::super::slo::Samples(&samples, &o), &o, 24, now);
        // 4 executions at 80 % allow 0.8 misses; 2 missed.
        assert!(r.error_budget_exhausted);
        assert_eq!(r.error_budget_remaining, 0.0);
        assert!((r.error_budget_overspent - 1.2).abs() < 1e-9);
        let text = budget_text(&r);
        assert_eq!(text, "exhausted: 1.20 executions over an allowance of 0.80");
        assert!(!text.contains('-'), "{text}");
    }
}

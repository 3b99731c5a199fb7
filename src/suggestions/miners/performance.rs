//! PERFORMANCE: steps that run late against the SLA or against their own history.
use super::*;

/// Executions in which a step ran.
pub(super) fn cases_with(w: &WorkflowHistory, step: &str) -> usize {
    w.cases
        .iter()
        .filter(|c| c.steps.iter().any(|s| s.name == step))
        .count()
}

/// How far values exceed a level, summed.
pub(super) fn overrun(values: &[f64], level: f64) -> f64 {
    values.iter().map(|v| (v - level).max(0.0)).sum()
}

pub(super) fn p90(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * 0.9).round() as usize]
}

/// PERFORMANCE: workflows whose p90 duration exceeds an SLA target, and steps whose p90
/// stands far out from their peers; each names the bottleneck step and its share of the time.
pub fn performance(w: &WorkflowHistory, min: usize) -> Vec<Mined> {
    let mut totals: Vec<f64> = w
        .cases
        .iter()
        .filter_map(|c| c.duration_ms)
        .map(|d| d as f64 / 1000.0)
        .collect();
    if totals.len() < min {
        return Vec::new();
    }
    let wf_p90 = p90(&mut totals);
    let mut by_step: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for c in &w.cases {
        for s in &c.steps {
            if let Some(d) = s.duration_ms {
                by_step
                    .entry(s.name.as_str())
                    .or_default()
                    .push(d as f64 / 1000.0);
            }
        }
    }
    let grand: f64 = by_step.values().flatten().sum();
    let Some((bottleneck, secs)) = by_step
        .iter()
        .map(|(k, v)| (*k, v.iter().sum::<f64>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Vec::new();
    };
    let share = if grand > 0.0 { secs / grand } else { 0.0 };
    let late = Late {
        totals: &totals,
        wf_p90,
        bottleneck,
        share,
    };
    match sla_overrun(w, &late) {
        Some(m) => vec![m],
        // No SLA breach: a step far slower than its peers.
        None => outlier_step(w, min, &mut by_step, grand)
            .into_iter()
            .collect(),
    }
}

/// A workflow's case durations and where its time goes.
pub(super) struct Late<'a> {
    totals: &'a [f64],
    wf_p90: f64,
    bottleneck: &'a str,
    share: f64,
}

/// The workflow's p90 exceeds its tightest SLA target.
pub(super) fn sla_overrun(w: &WorkflowHistory, l: &Late<'_>) -> Option<Mined> {
    let (totals, wf_p90, bottleneck, share) = (l.totals, l.wf_p90, l.bottleneck, l.share);
    let (sla, target) = w.sla_targets.iter().min_by_key(|(_, t)| *t)?;
    if wf_p90 <= *target as f64 {
        return None;
    }
    let over = totals.iter().filter(|d| **d > *target as f64).count();
    Some(Mined {
        kind: SuggestionType::Performance,
        workflow_id: Some(w.id),
        title: format!(
            "\"{}\" runs past its SLA: speed up \"{bottleneck}\"",
            w.name
        ),
        description: format!(
            "The p90 duration is {:.0} s against the {target} s target of SLA \"{sla}\" ({over} of {} executions over). \"{bottleneck}\" takes {:.0}% of the time.",
            wf_p90,
            totals.len(),
            share * 100.0
        ),
        confidence: wilson_lower(over, totals.len()).max(0.5_f64.min(share)),
        frequency: totals.len(),
        evidence: json!({"p90Seconds": wf_p90, "slaTargetSeconds": target, "executions": totals.len(), "overTarget": over, "bottleneck": bottleneck, "bottleneckShare": share,
        "impactMethod": {
            "casesAffected": "executions whose duration exceeded the target",
            "hoursSaved": "replayed: each of those executions finishing at the target instead; the hours by which they overran it, summed",
            "hoursSavedMeasures": "case duration",
        }}),
        proposed_change: json!({"optimiseStep": bottleneck, "target": {"p90Seconds": target}}),
        impact: json!({"casesAffected": over, "hoursSaved": overrun(totals, *target as f64) / 3600.0}),
        fingerprint: fingerprint(&["performance", &w.id.to_string(), "sla", bottleneck]),
    })
}

/// The slowest step's p90 is over five times the median step's.
pub(super) fn outlier_step(
    w: &WorkflowHistory,
    min: usize,
    by_step: &mut BTreeMap<&str, Vec<f64>>,
    grand: f64,
) -> Option<Mined> {
    let mut p90s: Vec<(&str, f64, usize)> = by_step
        .iter_mut()
        .filter(|(_, v)| v.len() >= min)
        .map(|(k, v)| (*k, p90(v), v.len()))
        .collect();
    if p90s.len() < 3 {
        return None;
    }
    p90s.sort_by(|a, b| a.1.total_cmp(&b.1));
    let median = p90s[p90s.len() / 2].1;
    let &(step, slow, n) = p90s.last()?;
    if median <= 0.0 || slow <= 5.0 * median {
        return None;
    }
    let handling = w
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| s.name == step && s.duration_ms.is_some())
        .all(|s| s.handling);
    let (measures, method) = if handling {
        ("handling", HANDLING)
    } else {
        ("elapsed", ELAPSED)
    };
    Some(Mined {
        kind: SuggestionType::Performance,
        workflow_id: Some(w.id),
        title: format!("\"{step}\" is the bottleneck of \"{}\"", w.name),
        description: format!(
            "\"{step}\" has a p90 of {slow:.0} s ({}), {:.1}× the median step's {median:.0} s, and takes {:.0}% of the workflow's recorded step time.",
            if handling {
                "handling time"
            } else {
                "waiting and handling together"
            },
            slow / median,
            by_step
                .get(step)
                .map(|v| v.iter().sum::<f64>() / grand * 100.0)
                .unwrap_or(0.0)
        ),
        confidence: (1.0 - median / slow).clamp(0.0, 1.0),
        frequency: cases_with(w, step),
        evidence: json!({"step": step, "p90Seconds": slow, "medianStepP90Seconds": median, "samples": n, "durationMeasures": measures,
        "impactMethod": {
            "casesAffected": "distinct executions in which the step ran (samples counts its runs)",
            "hoursSaved": format!("replayed: every run of the step that took longer than the median step's p90 ({median:.0} s) taking that long instead; the difference, summed: {method}"),
            "hoursSavedMeasures": measures,
        }}),
        proposed_change: json!({"optimiseStep": step, "target": {"p90Seconds": median}}),
        impact: json!({"casesAffected": cases_with(w, step), "hoursSaved": by_step.get(step).map_or(0.0, |v| overrun(v, median)) / 3600.0}),
        fingerprint: fingerprint(&["performance", &w.id.to_string(), "outlier", step]),
    })
}

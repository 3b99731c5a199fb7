//! The simulation engine (pure: plain structs in, plain structs out, no I/O).
//!
//! Routing rules, shared by the concrete run and the exploration:
//! - a step whose `conditions` do not hold is SKIPPED and the next step in list order follows;
//! - after a step runs, its `branches` are tried in order and the first whose condition holds
//!   names the next step; when none holds, `default_next` does, else the next step in order;
//! - a branch back to an earlier step (a loop) is followed while the target has run fewer than
//!   `max_iterations` times (the smallest declared in the loop); after that, the next step in
//!   order follows;
//! - a REJECTED approval or a failed step ends the run.
mod concrete;
mod explore;
mod routing;
#[cfg(test)]
mod tests;
mod types;

use super::forecast::{self, Forecast};
use crate::catalog::schema::violations;
use crate::conditions::symbolic::{FieldConstraint, Region, Space};
use crate::conditions::{Comparison, Cond};
use crate::model::{ApprovalDecision, LatencyClass};
use crate::str_enum;
use crate::workflows::steps::{Compiled, GATEWAY, compile};
use async_graphql::SimpleObject;
use concrete::*;
use explore::*;
pub use routing::fallback_ms;
use routing::*;
pub(super) use routing::{elapsed, max_visits, route};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
pub use types::*;

/// Runs a simulation.
pub fn simulate(req: &Request<'_>) -> Outcome {
    let compiled = match compile(req.steps) {
        Ok(c) => c,
        Err(e) => return invalid(issue("INVALID_STEPS", e, None, None)),
    };
    let c = &compiled;
    let mut found = Found::default();
    catalog_issues(c, req, &mut found);
    input_issues(req, &mut found.errors);
    let (_, visits, mut status) = run_concrete(c, req.input, req.decisions, req.fail_steps);
    let path = concrete_path(c, req, visits, &mut found);
    let (total, total95) = (elapsed(c, &path.ran50), elapsed(c, &path.ran95));
    sla_warnings(req, total, &mut found.warnings);
    if !found.errors.is_empty() {
        status = SimulationStatus::Invalid;
    }
    let branch_explorations = exploration(c, req);
    found
        .warnings
        .extend(exploration_warnings(&branch_explorations));
    let forecast = forecast(c, req);
    // When the input left choices to chance, the forecast's distribution is the prediction.
    let (p50, p95) = match &forecast {
        Some(f) if f.drawn_choices > 0 => (f.p50_ms, Some(f.p95_ms)),
        _ => (total, path.any_history.then_some(total95)),
    };
    Outcome {
        status,
        execution_path: path.steps,
        approval_chain: path.approval_chain,
        branch_explorations,
        predicted_duration_ms: p50,
        predicted_duration_p95_ms: p95,
        validation_errors: found.errors,
        warnings: found.warnings,
        forecast,
    }
}

/// The exploration alone: every distinct path across the input space, without a concrete
/// run, its checks or a forecast (what `workflowPaths` shows). Reads the steps, the input
/// schema, the catalog and the history (for each path's predicted duration) and the limits.
pub fn explore_paths(req: &Request<'_>) -> Result<Exploration, String> {
    Ok(exploration(&compile(req.steps)?, req))
}

/// The outcome for steps that do not compile.
fn invalid(error: Issue) -> Outcome {
    Outcome {
        status: SimulationStatus::Invalid,
        execution_path: vec![],
        approval_chain: vec![],
        branch_explorations: Exploration::default(),
        predicted_duration_ms: 0,
        predicted_duration_p95_ms: None,
        validation_errors: vec![error],
        warnings: vec![],
        forecast: None,
    }
}

/// The errors and warnings a simulation collects.
#[derive(Default)]
struct Found {
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

/// Steps whose action is neither in the catalog nor known from history.
fn catalog_issues(c: &Compiled, req: &Request<'_>, found: &mut Found) {
    for (i, s) in c.steps.iter().enumerate() {
        // A step with a history of runs needs no catalog entry to be simulated.
        let has_history = req.history.get(&s.name).is_some_and(|h| h.samples > 0);
        if s.action == GATEWAY || has_history || req.catalog.contains_key(&s.action) {
            continue;
        }
        let at = format!("steps[{i}] ({})", s.name);
        found.errors.push(issue(
            "ACTION_NOT_IN_CATALOG",
            format!("{at}: action {:?} is not in the catalog", s.action),
            Some(&s.name),
            None,
        ));
        found.warnings.push(issue(
            "DEFAULT_DURATION",
            format!(
                "{at}: no catalog entry for {:?}, so its duration is the default {} ms",
                s.action,
                LatencyClass::Medium.default_duration_ms()
            ),
            Some(&s.name),
            None,
        ));
    }
}

/// Schema violations as issues with `code`, each message prefixed by `at`. A schema that
/// cannot be used is an issue too when `unusable` names it.
fn schema_issues(
    code: &str,
    at: &str,
    step: Option<&str>,
    (schema, doc): (&Value, &Value),
    unusable: Option<&str>,
) -> Vec<Issue> {
    match violations(schema, doc) {
        Ok(vs) => vs
            .into_iter()
            .map(|v| {
                let pointer = if v.pointer.is_empty() {
                    "/"
                } else {
                    &v.pointer
                };
                let message = format!("{at}input {pointer}: {}", v.message);
                issue(code, message, step, Some(v.pointer))
            })
            .collect(),
        Err(e) => unusable
            .map(|what| issue(code, format!("{what} cannot be used: {e}"), step, None))
            .into_iter()
            .collect(),
    }
}

/// The workflow input against the workflow's input schema.
fn input_issues(req: &Request<'_>, errors: &mut Vec<Issue>) {
    if let Some(schema) = req.input_schema {
        let unusable = Some("the workflow's inputSchema");
        let found = schema_issues("INPUT_SCHEMA", "", None, (schema, req.input), unusable);
        errors.extend(found);
    }
}

/// A warning for each SLA whose target the predicted duration exceeds.
fn sla_warnings(req: &Request<'_>, total_ms: i64, warnings: &mut Vec<Issue>) {
    for sla in req.slas {
        if total_ms > sla.target_seconds.saturating_mul(1000) {
            warnings.push(issue(
                "SLA_TARGET_EXCEEDED",
                format!(
                    "the predicted duration {:.1} s exceeds SLA {:?}'s target of {} s",
                    total_ms as f64 / 1000.0,
                    sla.name,
                    sla.target_seconds
                ),
                None,
                None,
            ));
        }
    }
}

/// The Monte Carlo forecast, when asked for or when some branch carries a probability.
fn forecast(c: &Compiled, req: &Request<'_>) -> Option<Forecast> {
    let probabilistic = c
        .steps
        .iter()
        .flat_map(|s| s.branches.iter().flatten())
        .any(|b| b.probability.is_some());
    let (runs, seed) = req
        .forecast
        .or(probabilistic.then_some((forecast::DEFAULT_RUNS, 1)))?;
    let fallback = |i: usize| estimate(&c.steps[i].name, &c.steps[i].action, req).p50;
    let model = forecast::Model {
        compiled: c,
        history: req.history,
        fallback: &fallback,
    };
    Some(model.forecast(req.input, runs, seed))
}

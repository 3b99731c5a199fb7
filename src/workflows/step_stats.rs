//! Per-step history of one workflow, for the workflow view's heat map: how often each step
//! ran, how long it took, and how much of the breached executions' time it holds.
use crate::entity::{breach, execution, step_execution};
use crate::error::AppResult;
use crate::stats::quantile;
use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// What one step's recorded runs show.
#[derive(Clone, Debug, PartialEq, SimpleObject)]
pub struct StepStats {
    pub step: String,
    /// Recorded runs of the step (a step that loops counts once per run).
    pub runs: i64,
    /// Distinct executions that ran it.
    pub executions: i64,
    /// Median duration of its runs that have one: handling time for runs whose start was
    /// recorded, time since the case's previous event for the others (see `handlingRuns`).
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    /// Of the time that breached executions (those with at least one SLA breach) spent in
    /// recorded steps, the share spent in this step, from 0 to 1: where late cases lose time.
    pub breached_time_share: f64,
    /// Runs of the step inside breached executions.
    pub breached_runs: i64,
    /// Runs whose duration is handling time alone (their start was recorded); the other runs'
    /// durations hold the waiting before them too.
    pub handling_runs: i64,
}

/// One recorded step run: execution, step name, duration, and whether its start was inferred.
pub type Run = (Uuid, String, Option<i64>, bool);

/// Aggregates runs per step, in first-seen order of `order` then of the runs.
pub fn aggregate(runs: &[Run], breached: &HashSet<Uuid>, order: &[String]) -> Vec<StepStats> {
    #[derive(Default)]
    struct Acc {
        runs: i64,
        execs: HashSet<Uuid>,
        ms: Vec<i64>,
        breached_ms: i64,
        breached_runs: i64,
        handling: i64,
    }
    let mut by: HashMap<&str, Acc> = HashMap::new();
    let mut total_breached_ms = 0i64;
    for (exec, step, ms, inferred) in runs {
        let a = by.entry(step.as_str()).or_default();
        a.runs += 1;
        a.handling += i64::from(!inferred);
        a.execs.insert(*exec);
        a.ms.extend(ms.filter(|m| *m >= 0));
        if breached.contains(exec) {
            let m = ms.unwrap_or(0).max(0);
            a.breached_ms = a.breached_ms.saturating_add(m);
            a.breached_runs += 1;
            total_breached_ms = total_breached_ms.saturating_add(m);
        }
    }
    let mut names: Vec<&str> = order.iter().map(String::as_str).collect();
    let mut seen: HashSet<&str> = names.iter().copied().collect();
    for (_, step, _, _) in runs {
        if seen.insert(step.as_str()) {
            names.push(step.as_str());
        }
    }
    names
        .into_iter()
        .map(|n| {
            let mut a = by.remove(n).unwrap_or_default();
            a.ms.sort_unstable();
            let q = |p| (!a.ms.is_empty()).then(|| quantile(&a.ms, p));
            StepStats {
                step: n.to_string(),
                runs: a.runs,
                executions: a.execs.len() as i64,
                p50_ms: q(0.5),
                p95_ms: q(0.95),
                breached_time_share: if total_breached_ms > 0 {
                    a.breached_ms as f64 / total_breached_ms as f64
                } else {
                    0.0
                },
                breached_runs: a.breached_runs,
                handling_runs: a.handling,
            }
        })
        .collect()
}

/// Reads the workflow's step runs (of executions started since `since`, when given) and its
/// breached executions, and aggregates them. Steps of the definition that never ran are
/// listed with zeros.
pub async fn load(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    workflow_id: Uuid,
    since: Option<DateTime<Utc>>,
    order: &[String],
) -> AppResult<Vec<StepStats>> {
    let mut execs = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .filter(execution::Column::CompanyId.eq(company_id))
        .filter(execution::Column::WorkflowId.eq(workflow_id));
    if let Some(s) = since {
        execs = execs.filter(execution::Column::StartedAt.gte(s));
    }
    let runs: Vec<Run> = step_execution::Entity::find()
        .select_only()
        .column(step_execution::Column::ExecutionId)
        .column(step_execution::Column::StepName)
        .column(step_execution::Column::DurationMs)
        .column(step_execution::Column::StartInferred)
        .filter(step_execution::Column::CompanyId.eq(company_id))
        .filter(step_execution::Column::ExecutionId.in_subquery(execs.clone().into_query()))
        .into_tuple()
        .all(db)
        .await?;
    let breached: Vec<Uuid> = breach::Entity::find()
        .select_only()
        .column(breach::Column::ExecutionId)
        .distinct()
        .filter(breach::Column::CompanyId.eq(company_id))
        .filter(breach::Column::ExecutionId.in_subquery(execs.into_query()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(aggregate(&runs, &breached.into_iter().collect(), order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_count_breached_executions_time_only() {
        let (e1, e2) = (Uuid::now_v7(), Uuid::now_v7());
        let runs = vec![
            (e1, "a".to_string(), Some(100), false),
            (e1, "b".to_string(), Some(300), true),
            (e2, "a".to_string(), Some(50), false),
            (e2, "a".to_string(), Some(70), true),
            (e2, "c".to_string(), None, false),
        ];
        let breached: HashSet<Uuid> = [e1].into();
        let s = aggregate(&runs, &breached, &["b".into(), "z".into()]);
        let names: Vec<&str> = s.iter().map(|x| x.step.as_str()).collect();
        assert_eq!(names, ["b", "z", "a", "c"]);
        assert_eq!((s[0].runs, s[0].breached_time_share), (1, 0.75));
        assert_eq!((s[1].runs, s[1].p50_ms), (0, None));
        assert_eq!((s[2].runs, s[2].executions, s[2].breached_runs), (3, 2, 1));
        assert_eq!((s[2].p50_ms, s[2].p95_ms), (Some(70), Some(100)));
        assert_eq!(s[2].breached_time_share, 0.25);
        assert_eq!((s[0].handling_runs, s[2].handling_runs), (0, 2));
        assert_eq!((s[3].runs, s[3].p50_ms), (1, None));
    }
}

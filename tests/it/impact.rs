//! Every impact number a suggestion publishes, held against a count made from the history's
//! rows without the miner.
use crate::support::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;
use workflow_intel::entity::{execution, step_execution};
use workflow_intel::seed;

const ALL: &str = r#"mutation($input: GenerateSuggestionsInput!) { generateSuggestions(input: $input) {
  created { suggestionType workflow { id } patternFrequency evidence proposedChange impact } } }"#;

struct Rows {
    execs: HashMap<Uuid, execution::Model>,
    steps: Vec<step_execution::Model>,
}

impl Rows {
    fn of_step(&self, name: &str) -> impl Iterator<Item = &step_execution::Model> {
        self.steps.iter().filter(move |s| s.step_name == name)
    }
}

async fn demo() -> (TestApp, String, Rows) {
    let app = TestApp::spawn().await;
    let issued = seed::seed_demo(&app.db).await.unwrap();
    let admin = seed::demo_auth(&issued);
    seed::seed_demo_history(&app.app.state, &admin)
        .await
        .unwrap();
    seed::seed_demo_sla(&app.app.state, &admin).await.unwrap();
    let execs = execution::Entity::find()
        .filter(execution::Column::CompanyId.eq(admin.company_id))
        .all(&app.db)
        .await
        .unwrap();
    let steps = step_execution::Entity::find()
        .filter(step_execution::Column::CompanyId.eq(admin.company_id))
        .all(&app.db)
        .await
        .unwrap();
    let rows = Rows {
        execs: execs.into_iter().map(|e| (e.id, e)).collect(),
        steps,
    };
    (app, issued.token, rows)
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[tokio::test]
async fn every_impact_number_counts_what_its_name_says() {
    let (app, token, rows) = demo().await;
    let g = app
        .data(
            &token,
            ALL,
            json!({"input": {"allHistory": true, "minOccurrences": 10}}),
        )
        .await["generateSuggestions"]["created"]
        .clone();
    let mut seen = HashSet::new();
    for s in g.as_array().unwrap() {
        let kind = s["suggestionType"].as_str().unwrap();
        seen.insert(kind.to_string());
        match kind {
            "AUTO_APPROVAL" | "AUTO_REJECTION" => auto_decision(s, &rows),
            "PARALLEL_APPROVAL" => parallel(s, &rows),
            "PERFORMANCE" => performance(s, &rows),
            "ERROR_HANDLING" => error_handling(s, &rows),
            other => panic!("unexpected {other}"),
        }
        let method = &s["evidence"]["impactMethod"];
        for key in s["impact"].as_object().unwrap().keys() {
            // Only the auto decisions compute decidedDifferently; the others publish 0.
            if key != "decidedDifferently" || kind.starts_with("AUTO") {
                assert!(
                    method[key].is_string(),
                    "{kind}: no method for {key}: {s:#}"
                );
            }
        }
    }
    for kind in [
        "AUTO_APPROVAL",
        "PARALLEL_APPROVAL",
        "PERFORMANCE",
        "ERROR_HANDLING",
    ] {
        assert!(seen.contains(kind), "no {kind}");
    }
}

fn auto_decision(s: &Value, rows: &Rows) {
    let step = s["proposedChange"]["step"].as_str().unwrap();
    let rule = workflow_intel::conditions::parse(&s["proposedChange"]["when"]).unwrap();
    let covered: Vec<&step_execution::Model> = rows
        .of_step(step)
        .filter(|d| d.decision.is_some())
        .filter(|d| rule.matches(&rows.execs[&d.execution_id].input_data))
        .collect();
    let cases: HashSet<Uuid> = covered.iter().map(|d| d.execution_id).collect();
    let hours: f64 = covered.iter().filter_map(|d| d.duration_ms).sum::<i64>() as f64 / 3.6e6;
    let imp = &s["impact"];
    assert_eq!(imp["casesAffected"], cases.len(), "{s:#}");
    assert_eq!(imp["decisionsAffected"], covered.len(), "{s:#}");
    assert!(close(&imp["hoursSaved"], hours), "{s:#}: {hours}");
    assert_eq!(s["patternFrequency"], s["evidence"]["support"]);
}

fn parallel(s: &Value, rows: &Rows) {
    let first = s["proposedChange"]["parallel"][0].as_str().unwrap();
    let second = s["proposedChange"]["parallel"][1].as_str().unwrap();
    let decided: HashMap<Uuid, &str> = rows
        .of_step(first)
        .filter_map(|d| Some((d.execution_id, d.decision.as_deref()?)))
        .collect();
    // A case counts when the first step decided and the second step's own condition holds.
    let steps = seed::discount_steps();
    let cond = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == second)
        .and_then(|x| x.get("conditions"))
        .map(|c| workflow_intel::conditions::parse(c).unwrap());
    let decided: HashMap<Uuid, &str> = decided
        .into_iter()
        .filter(|(id, _)| {
            cond.as_ref()
                .is_none_or(|c| c.matches(&rows.execs[id].input_data))
        })
        .collect();
    let rejected = decided.values().filter(|d| **d == "rejected").count();
    let duration = |step: &str, id: &Uuid| {
        rows.of_step(step)
            .find(|d| d.execution_id == *id)
            .and_then(|d| d.duration_ms)
    };
    let (mut saved, mut waited) = (0i64, 0i64);
    for (id, d) in &decided {
        if *d == "rejected" {
            continue;
        }
        if let (Some(a), Some(b)) = (duration(first, id), duration(second, id)) {
            saved += a.min(b);
            waited += a;
        }
    }
    let imp = &s["impact"];
    assert_eq!(imp["casesAffected"], decided.len(), "{s:#}");
    assert_eq!(imp["needlessRequests"], rejected, "{s:#}");
    assert!(close(&imp["hoursSaved"], saved as f64 / 3.6e6), "{s:#}");
    assert!(
        close(&s["evidence"]["secondWaitedHours"], waited as f64 / 3.6e6),
        "{s:#}"
    );
}

fn performance(s: &Value, rows: &Rows) {
    let imp = &s["impact"];
    if let Some(target) = s["evidence"]["slaTargetSeconds"].as_f64() {
        let wid = s["workflow"]["id"].as_str().unwrap();
        let secs: Vec<f64> = rows
            .execs
            .values()
            .filter(|e| e.workflow_id.to_string() == wid)
            .filter_map(|e| e.duration_ms)
            .map(|d| d as f64 / 1000.0)
            .collect();
        let over: Vec<f64> = secs.iter().copied().filter(|d| *d > target).collect();
        assert_eq!(imp["casesAffected"], over.len(), "{s:#}");
        let overrun: f64 = over.iter().map(|d| d - target).sum();
        assert!(close(&imp["hoursSaved"], overrun / 3600.0), "{s:#}");
    } else {
        let step = s["evidence"]["step"].as_str().unwrap();
        let cases: HashSet<Uuid> = rows.of_step(step).map(|d| d.execution_id).collect();
        assert_eq!(imp["casesAffected"], cases.len(), "{s:#}");
        assert_eq!(s["patternFrequency"], cases.len(), "{s:#}");
    }
}

fn error_handling(s: &Value, rows: &Rows) {
    let action = s["evidence"]["action"].as_str().unwrap();
    let failed: Vec<&step_execution::Model> = rows
        .steps
        .iter()
        .filter(|d| d.action_type.as_deref() == Some(action) && d.status == "failed")
        .collect();
    let cases: HashSet<Uuid> = failed.iter().map(|d| d.execution_id).collect();
    let imp = &s["impact"];
    assert_eq!(imp["casesAffected"], cases.len(), "{s:#}");
    assert_eq!(imp["failures"], failed.len(), "{s:#}");
}

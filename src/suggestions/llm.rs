//! The optional LLM pass (off by default): compact summaries of each workflow go to an
//! OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp's server, a hosted
//! model), which answers with structured JSON. Every number the model claims is checked
//! against the statistics computed here; a suggestion with a claim that disagrees is dropped.
//! Timeouts and malformed replies are reported, and never fail the historical pass.
use super::SuggestionType;
use super::miners::{Mined, WorkflowHistory, wilson_lower};
use crate::config::LlmConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The figures a summary states, by (metric, subject); claims are checked against these.
pub type Facts = BTreeMap<(String, String), f64>;

/// What the LLM pass did.
#[derive(Clone, Debug, Default, PartialEq, async_graphql::SimpleObject)]
pub struct LlmReport {
    /// ok, off, timeout, malformed or error.
    pub status: String,
    pub message: String,
    /// Suggestions the model made.
    pub proposed: i32,
    /// Of those, dropped because a number they claimed disagrees with the history.
    pub dropped: i32,
}

/// A compact text summary of a workflow, and the facts it states.
pub fn summarise(w: &WorkflowHistory) -> (String, Facts) {
    let mut facts = Facts::new();
    let mut lines = vec![format!(
        "Workflow \"{}\": {} executions.",
        w.name,
        w.cases.len()
    )];
    facts.insert(("executions".into(), w.name.clone()), w.cases.len() as f64);
    let failed = w.cases.iter().filter(|c| c.failed).count();
    let rate = |k: usize, n: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    facts.insert(
        ("failure_rate".into(), w.name.clone()),
        rate(failed, w.cases.len()),
    );
    lines.push(format!(
        "Workflow failure rate: {:.3}.",
        rate(failed, w.cases.len())
    ));
    let mut per_step: BTreeMap<&str, (Vec<i64>, usize, usize)> = BTreeMap::new();
    for c in &w.cases {
        for s in &c.steps {
            let e = per_step.entry(s.name.as_str()).or_default();
            if let Some(d) = s.duration_ms {
                e.0.push(d);
            }
            if let Some(d) = s.decision {
                e.1 += 1;
                e.2 += (d == crate::model::ApprovalDecision::Approved) as usize;
            }
        }
    }
    for (name, (mut ds, decided, approved)) in per_step {
        ds.sort_unstable();
        let p = |q: f64| {
            ds.get(((ds.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        let (p50, p90) = (p(0.5), p(0.9));
        facts.insert(("p90_seconds".into(), name.to_string()), p90);
        let mut line = format!(
            "Step \"{name}\": {} runs, p50 {p50:.1} s, p90 {p90:.1} s",
            ds.len()
        );
        if decided > 0 {
            let r = rate(approved, decided);
            facts.insert(("approval_rate".into(), name.to_string()), r);
            line.push_str(&format!(", {decided} decisions, approval rate {r:.3}"));
        }
        lines.push(line + ".");
    }
    (lines.join("\n"), facts)
}

#[derive(Deserialize)]
struct Reply {
    suggestions: Vec<LlmSuggestion>,
}

#[derive(Deserialize)]
struct LlmSuggestion {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    description: String,
    #[serde(default)]
    claims: Vec<Claim>,
}

#[derive(Deserialize)]
struct Claim {
    metric: String,
    subject: String,
    value: f64,
}

const SYSTEM: &str = "You review workflow automation. Given statistics about a workflow, propose improvements as JSON: \
{\"suggestions\": [{\"type\": \"auto_approval|auto_rejection|parallel_approval|performance|error_handling\", \"title\": \"…\", \
\"description\": \"…\", \"claims\": [{\"metric\": \"approval_rate|failure_rate|p90_seconds|executions\", \"subject\": \"step or workflow name\", \"value\": 0.0}]}]}. \
Every number you rely on must appear in claims, copied from the statistics. Answer with JSON only.";

fn agrees(claimed: f64, actual: f64) -> bool {
    (claimed - actual).abs() <= 0.02_f64.max(actual.abs() * 0.05)
}

/// Asks the model about each workflow; returns the verified suggestions and a report.
pub async fn review(cfg: &LlmConfig, workflows: &[WorkflowHistory]) -> (Vec<Mined>, LlmReport) {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(cfg.timeout_seconds))
        .build()
    {
        Ok(c) => c,
        Err(e) => return (vec![], failed("error", e.to_string())),
    };
    let mut out = Vec::new();
    let mut report = LlmReport {
        status: "ok".into(),
        ..Default::default()
    };
    for w in workflows {
        let (summary, facts) = summarise(w);
        match ask(&client, cfg, &summary).await {
            Ok(reply) => {
                for s in reply.suggestions {
                    report.proposed += 1;
                    match verified(w, &facts, s) {
                        Some(m) => out.push(m),
                        None => report.dropped += 1,
                    }
                }
            }
            Err((status, why)) => {
                report.status = status.into();
                report.message = format!("workflow {:?}: {why}", w.name);
            }
        }
    }
    (out, report)
}

fn failed(status: &str, message: String) -> LlmReport {
    LlmReport {
        status: status.into(),
        message,
        ..Default::default()
    }
}

/// One chat completion: the model's reply parsed, or the report's status and why.
async fn ask(
    client: &reqwest::Client,
    cfg: &LlmConfig,
    summary: &str,
) -> Result<Reply, (&'static str, String)> {
    let body = json!({
        "model": cfg.model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": summary}],
        "response_format": {"type": "json_object"},
        "temperature": 0,
    });
    let mut req = client
        .post(format!("{}/chat/completions", cfg.base_url))
        .json(&body);
    if let Some(k) = &cfg.api_key {
        req = req.bearer_auth(k);
    }
    let timeout_or = |e: &reqwest::Error, other| if e.is_timeout() { "timeout" } else { other };
    let resp = req
        .send()
        .await
        .map_err(|e| (timeout_or(&e, "error"), e.to_string()))?;
    if !resp.status().is_success() {
        let why = format!("the model answered HTTP {}", resp.status());
        return Err(("error", why));
    }
    let v = resp
        .json::<Value>()
        .await
        .map_err(|e| (timeout_or(&e, "malformed"), e.to_string()))?;
    v["choices"][0]["message"]["content"]
        .as_str()
        .and_then(|t| serde_json::from_str::<Reply>(t).ok())
        .ok_or(("malformed", "the reply is not the requested JSON".into()))
}

/// A suggestion of the model kept only when it names a known type and every number it
/// claims agrees with the history's facts.
fn verified(w: &WorkflowHistory, facts: &Facts, s: LlmSuggestion) -> Option<Mined> {
    let kind = SuggestionType::parse(&s.kind.to_ascii_lowercase())?;
    let agree = |c: &Claim| {
        facts
            .get(&(c.metric.clone(), c.subject.clone()))
            .is_some_and(|a| agrees(c.value, *a))
    };
    if s.claims.is_empty() || !s.claims.iter().all(agree) {
        return None;
    }
    let claims: Vec<Value> = s.claims.iter().map(|c| json!({"metric": c.metric, "subject": c.subject, "value": c.value, "verified": true})).collect();
    let n = w.cases.len();
    let fp = hex::encode(
        &Sha256::digest(format!("llm\0{}\0{}\0{}", w.id, kind.as_str(), s.title).as_bytes())[..16],
    );
    Some(Mined {
        kind,
        workflow_id: Some(w.id),
        title: s.title,
        description: s.description,
        // As sure as the evidence it rests on: the share of the history it covers,
        // bounded below (every claim checked out).
        confidence: wilson_lower(n, n + 1).min(0.9),
        frequency: n,
        evidence: json!({"claims": claims, "summary": summarise(w).0, "historyCases": n,
        "impactMethod": {
            "casesAffected": "not estimated (null): the model's suggestion names no rule that selects cases; historyCases is how many cases it was drawn from",
            "hoursSaved": "not estimated (null)",
            "decidedDifferently": "not estimated (null)",
        }}),
        proposed_change: json!({"fromModel": true}),
        impact: json!({"casesAffected": null, "hoursSaved": null, "decidedDifferently": null}),
        fingerprint: fp,
    })
}

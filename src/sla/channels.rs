//! Alert channels besides email, and what each is sent (pure): a generic JSON webhook signed
//! with HMAC-SHA256 the way Stripe signs its webhooks (`t=<unix>,v1=<hex>` over
//! `"<t>.<body>"`), Slack's incoming-webhook message, a PagerDuty Events API v2 event
//! (trigger, then resolve on acknowledgement, deduplicated by breach) and Alertmanager's
//! `POST /api/v2/alerts` list. A channel's secret and the path of its URL (where Slack and
//! others keep a credential) are never returned by the API nor written to a log.
use super::figures;
use crate::entity::{alert_channel, breach};
use crate::error::{AppError, AppResult};
use crate::str_enum;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

str_enum!(
    /// How a channel is spoken to.
    ChannelKind {
        Webhook => "webhook",
        Slack => "slack",
        PagerDuty => "pagerduty",
        Alertmanager => "alertmanager",
    }
);

/// The header that carries a generic webhook's signature.
pub const SIGNATURE_HEADER: &str = "X-Workflow-Intel-Signature";

/// Checks a channel's URL and secret for its kind.
pub fn validate(kind: ChannelKind, url: &str, secret: &str) -> AppResult<()> {
    let bad = |m: String| Err(AppError::BadInput(m));
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(u) => {
            return bad(format!(
                "url must be http or https with a host, got {}",
                u.scheme()
            ));
        }
        Err(e) => return bad(format!("url is not a URL: {e}")),
    }
    match kind {
        ChannelKind::Webhook if secret.len() < 16 => {
            bad("secret: a webhook channel signs with a secret of at least 16 characters".into())
        }
        ChannelKind::PagerDuty if secret.trim().is_empty() => {
            bad("secret: a PagerDuty channel needs its integration's routing key".into())
        }
        _ => Ok(()),
    }
}

/// The URL as the API shows it: scheme, host and port, the rest elided.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}/…", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "…".into(),
    }
}

/// What an alert says, whatever the channel.
#[derive(Clone, Debug)]
pub struct Facts {
    pub breach: breach::Model,
    pub sla_name: String,
    pub workflow_id: Option<uuid::Uuid>,
    pub workflow_name: String,
    pub external_id: Option<String>,
    /// 0: the breach's own alert; n: the n-th escalation level.
    pub level: i32,
    pub resolve: bool,
    pub now: DateTime<Utc>,
}

impl Facts {
    /// One line: what, where, how far over.
    pub fn summary(&self) -> String {
        let b = &self.breach;
        let m = figures::margins(b);
        let what = if self.resolve {
            "acknowledged".to_string()
        } else if self.level > 0 {
            format!("unacknowledged, escalation level {}", self.level)
        } else {
            "breached".to_string()
        };
        format!(
            "[{}] SLA {} {what}: {} took {:.1} s, {:+.1} s over the {} s {} threshold",
            b.severity.to_ascii_uppercase(),
            self.sla_name,
            self.workflow_name,
            b.actual_duration_seconds,
            m.over_threshold_seconds,
            b.threshold_seconds,
            b.severity
        )
    }

    fn details(&self) -> Value {
        let b = &self.breach;
        let m = figures::margins(b);
        json!({
            "breachId": b.id, "severity": b.severity.to_ascii_uppercase(),
            "slaId": b.sla_id, "sla": self.sla_name,
            "workflowId": self.workflow_id, "workflow": self.workflow_name,
            "executionId": b.execution_id, "externalId": self.external_id,
            "thresholdSeconds": b.threshold_seconds,
            "actualDurationSeconds": b.actual_duration_seconds,
            "breachMarginSeconds": m.over_threshold_seconds,
            "breachMarginPercentage": m.over_threshold_percentage,
            "targetMarginSeconds": m.over_target_seconds,
            "detectedAt": b.detected_at, "acknowledged": b.acknowledged,
            "escalationLevel": self.level,
        })
    }
}

/// One HTTP request to send: the body and its extra headers.
#[derive(Debug)]
pub struct Request {
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// What `channel` is sent for `f`.
pub fn request(channel: &alert_channel::Model, kind: ChannelKind, f: &Facts) -> Request {
    let body = match kind {
        ChannelKind::Webhook => webhook(f),
        ChannelKind::Slack => slack(f),
        ChannelKind::PagerDuty => pagerduty(&channel.secret.0, f),
        ChannelKind::Alertmanager => alertmanager(f),
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    if kind == ChannelKind::Webhook {
        headers.push((SIGNATURE_HEADER, sign(&channel.secret.0, f.now, &body)));
    }
    Request { body, headers }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn sign(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let t = at.timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn webhook(f: &Facts) -> Value {
    let event = match (f.resolve, f.level) {
        (true, _) => "sla.breach.acknowledged",
        (false, 0) => "sla.breach.detected",
        (false, _) => "sla.breach.escalated",
    };
    json!({"event": event, "sentAt": f.now, "summary": f.summary(), "breach": f.details()})
}

fn slack(f: &Facts) -> Value {
    let mut fields = vec![
        format!("*Workflow:* {}", f.workflow_name),
        format!("*Execution:* {}", f.external_id.as_deref().unwrap_or("–")),
    ];
    fields.push(format!("*Detected:* {}", f.breach.detected_at.to_rfc3339()));
    json!({
        "text": f.summary(),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f.summary()}},
            {"type": "context", "elements": fields.iter().map(|t| json!({"type": "mrkdwn", "text": t})).collect::<Vec<_>>()},
        ],
    })
}

fn pagerduty(routing_key: &str, f: &Facts) -> Value {
    let dedup = format!("workflow-intel-breach-{}", f.breach.id);
    if f.resolve {
        return json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup});
    }
    json!({
        "routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup,
        "payload": {
            "summary": f.summary(), "source": "workflow-intel",
            "severity": f.breach.severity, "timestamp": f.breach.detected_at,
            "component": f.workflow_name, "group": f.sla_name, "class": "sla-breach",
            "custom_details": f.details(),
        },
    })
}

fn alertmanager(f: &Facts) -> Value {
    let b = &f.breach;
    let mut alert = json!({
        "labels": {"alertname": "WorkflowSlaBreach", "severity": b.severity, "sla": f.sla_name,
                   "workflow": f.workflow_name, "breach_id": b.id.to_string()},
        "annotations": {"summary": f.summary(),
                        "escalation_level": f.level.to_string()},
        "startsAt": b.detected_at,
    });
    if f.resolve {
        alert["endsAt"] = json!(f.now);
    }
    json!([alert])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_hmac_sha256_over_the_timestamp_and_the_body() {
        // RFC 4231 test case 2 ("Jefe"), through the "<t>." prefix.
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let body = b"what do ya want for nothing?";
        let mut msg = b"0.".to_vec();
        msg.extend_from_slice(body);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(&msg);
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sign("Jefe", at, body), format!("t=0,v1={want}"));
        assert_ne!(sign("Jefe", at, body), sign("Jeff", at, body));
    }

    #[test]
    fn urls_show_only_their_host_and_secrets_are_checked_per_kind() {
        assert_eq!(
            shown_url("https://hooks.slack.com/services/T0/B0/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:9093/api/v2/alerts"),
            "http://127.0.0.1:9093/…"
        );
        assert!(validate(ChannelKind::Webhook, "https://x.io/h", "short").is_err());
        assert!(validate(ChannelKind::Webhook, "ftp://x.io/h", "0123456789abcdef").is_err());
        assert!(
            validate(
                ChannelKind::PagerDuty,
                "https://events.pagerduty.com/v2/enqueue",
                ""
            )
            .is_err()
        );
        assert!(validate(ChannelKind::Slack, "https://hooks.slack.com/services/T", "").is_ok());
    }
}

//! Escalation (pure): an SLA's levels, each "after N minutes unacknowledged, notify these
//! recipients through these channels", and the outbox rows a breach gets for them. The rows
//! are written with the breach, due at detection plus each level's delay, so the escalation
//! runs from the same durable outbox as the first alert: once per level, across replicas and
//! restarts, and an acknowledgement cancels the levels still pending.
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most levels an SLA may have.
pub const MAX_LEVELS: usize = 10;
/// The longest delay: 30 days.
pub const MAX_AFTER_MINUTES: i64 = 30 * 24 * 60;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Level {
    pub after_minutes: i64,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub channel_ids: Vec<Uuid>,
}

/// The levels as stored on an SLA (an unreadable value reads as none).
pub fn levels(stored: &serde_json::Value) -> Vec<Level> {
    serde_json::from_value(stored.clone()).unwrap_or_default()
}

/// Checks the levels: at most [`MAX_LEVELS`], delays from 1 minute to 30 days and each later
/// than the one before, each with someone to tell, and recipients that are email addresses.
pub fn validate(levels: &[Level]) -> AppResult<()> {
    let bad = |m: String| Err(AppError::BadInput(m));
    if levels.len() > MAX_LEVELS {
        return bad(format!(
            "escalation: at most {MAX_LEVELS} levels, got {}",
            levels.len()
        ));
    }
    let mut before = 0;
    for (i, l) in levels.iter().enumerate() {
        let at = format!("escalation[{i}]");
        if !(1..=MAX_AFTER_MINUTES).contains(&l.after_minutes) {
            return bad(format!(
                "{at}.afterMinutes must be between 1 and {MAX_AFTER_MINUTES} (30 days), got {}",
                l.after_minutes
            ));
        }
        if l.after_minutes <= before {
            return bad(format!(
                "{at}.afterMinutes ({}) must be later than the level before ({before})",
                l.after_minutes
            ));
        }
        before = l.after_minutes;
        if l.recipients.is_empty() && l.channel_ids.is_empty() {
            return bad(format!(
                "{at} notifies nobody: give recipients or channelIds"
            ));
        }
        if let Some(r) = l.recipients.iter().find(|r| !is_email(r)) {
            return bad(format!("{at}.recipients: {r:?} is not an email address"));
        }
    }
    Ok(())
}

pub fn is_email(r: &str) -> bool {
    r.contains('@') && !r.contains(char::is_whitespace)
}

/// Which alerts a company sends at all: email needs an SMTP server; channels need only
/// alerts to be enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alerting {
    pub email: bool,
    pub channels: bool,
}

impl Alerting {
    pub const NONE: Alerting = Alerting {
        email: false,
        channels: false,
    };
}

/// One outbox row to write with a breach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// `email`, or a channel's id.
    pub target: String,
    pub level: i32,
    pub due: DateTime<Utc>,
}

pub const EMAIL: &str = "email";

/// The rows a breach detected at `detected` gets: its own alert (email, and each of the SLA's
/// channels), then each escalation level's email (when it names recipients) and channels, due
/// after the level's delay.
pub fn plan(
    channel_ids: &[Uuid],
    levels: &[Level],
    alerting: Alerting,
    detected: DateTime<Utc>,
) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut add = |target: String, level: i32, due| {
        let wanted = if target == EMAIL {
            alerting.email
        } else {
            alerting.channels
        };
        if wanted
            && !out
                .iter()
                .any(|p: &Planned| p.target == target && p.level == level)
        {
            out.push(Planned { target, level, due });
        }
    };
    add(EMAIL.into(), 0, detected);
    for c in channel_ids {
        add(c.to_string(), 0, detected);
    }
    for (i, l) in levels.iter().enumerate() {
        let due = detected + chrono::Duration::minutes(l.after_minutes);
        let level = i as i32 + 1;
        if !l.recipients.is_empty() {
            add(EMAIL.into(), level, due);
        }
        for c in &l.channel_ids {
            add(c.to_string(), level, due);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breach_gets_its_alert_now_and_each_level_after_its_delay() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let levels = vec![
            Level {
                after_minutes: 5,
                recipients: vec![],
                channel_ids: vec![b],
            },
            Level {
                after_minutes: 15,
                recipients: vec!["boss@acme.io".into()],
                channel_ids: vec![a, a],
            },
        ];
        validate(&levels).unwrap();
        let all = Alerting {
            email: true,
            channels: true,
        };
        let got: Vec<(String, i32, i64)> = plan(&[a], &levels, all, t)
            .into_iter()
            .map(|p| (p.target, p.level, (p.due - t).num_minutes()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("email".into(), 0, 0),
                (a.to_string(), 0, 0),
                (b.to_string(), 1, 5),
                ("email".into(), 2, 15),
                (a.to_string(), 2, 15),
            ]
        );
        let no_smtp = Alerting {
            email: false,
            channels: true,
        };
        assert!(
            plan(&[a], &levels, no_smtp, t)
                .iter()
                .all(|p| p.target != EMAIL)
        );
        assert!(plan(&[a], &levels, Alerting::NONE, t).is_empty());
    }

    #[test]
    fn levels_must_grow_and_tell_someone() {
        let l = |m: i64| Level {
            after_minutes: m,
            recipients: vec!["a@b.io".into()],
            channel_ids: vec![],
        };
        assert!(
            validate(&[l(5), l(5)])
                .unwrap_err()
                .to_string()
                .contains("later than")
        );
        assert!(validate(&[l(0)]).is_err());
        assert!(
            validate(&[Level {
                after_minutes: 3,
                ..Default::default()
            }])
            .is_err()
        );
        assert!(validate(&vec![l(1); 11]).is_err());
        assert!(validate(&[l(1), l(2)]).is_ok());
    }
}

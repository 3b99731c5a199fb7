//! Alert email that never slips: a stalled mail server holds back only its own message, no
//! transaction stays open across SMTP, and ALERT_SENT is in the log exactly when the send is.
use crate::sla::{Setup, eventually, setup, start};
use crate::smtp::SmtpServer;
use chrono::Duration;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter,
    Statement,
};
use serde_json::{Value, json};
use workflow_intel::config::Config;
use workflow_intel::entity::alert_outbox;
use workflow_intel::faults::{self, Point};

async fn sent_rows(s: &Setup) -> u64 {
    alert_outbox::Entity::find()
        .filter(alert_outbox::Column::Status.eq("sent"))
        .count(&s.app.db)
        .await
        .unwrap()
}

/// ALERT_SENT events recorded: in the log, or (PostgreSQL) queued for it by the send's own
/// transaction. The mailer moves its queued events into the log after that commit
/// (`sla::event_log`), so a check right after the send is seen recorded could otherwise find
/// the event still queued. One statement, so that a move between two reads can neither hide
/// an event nor count it twice.
async fn alert_sent_events(s: &Setup) -> u64 {
    let sql = "SELECT (SELECT count(*) FROM sla_events WHERE kind = 'alert_sent') \
               + (SELECT count(*) FROM sla_event_queue WHERE kind = 'alert_sent') AS n";
    let backend = s.app.db.get_database_backend();
    let row = s
        .app
        .db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() as u64
}

/// Sessions of this database idle inside a transaction for over half a second (PostgreSQL).
async fn idle_in_transaction(s: &Setup) -> i64 {
    if s.app.db.get_database_backend() != DatabaseBackend::Postgres {
        return 0;
    }
    let sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
               AND state = 'idle in transaction' AND now() - state_change > interval '500 milliseconds'";
    let row = s
        .app
        .db
        .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn breach_ids(s: &Setup) -> Vec<(String, String)> {
    let v = s
        .app
        .data(
            &s.token,
            "{ slaBreaches(first: 50) { edges { node { id severity execution { id } } } } }",
            json!({}),
        )
        .await;
    v["slaBreaches"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["id"].as_str().unwrap().to_string(),
                n["execution"]["id"].as_str().unwrap().to_string()
                    + n["severity"].as_str().unwrap(),
            )
        })
        .collect()
}

fn message_id(breach: &str) -> String {
    format!("<breach-{breach}@workflow-intel>")
}

#[tokio::test]
async fn a_mail_server_that_never_answers_holds_back_only_its_own_message() {
    let smtp = SmtpServer::start();
    smtp.hang_at_end_of_data(1);
    let config = Config {
        smtp_url: Some(smtp.url()),
        smtp_timeout_seconds: 2,
        ..Config::default()
    };
    let s = setup(config, json!(["ops@acme.io"])).await;
    // Two executions 2 s apart (the manual clock stays well inside the 60 s claim lease, as
    // real time would during a 2 s timeout).
    let first = start(&s).await;
    s.clock.advance(Duration::seconds(2));
    start(&s).await;
    s.clock.advance(Duration::seconds(239));
    eventually("the first alert's conversation hangs", || async {
        smtp.hanging() == 1
    })
    .await;
    // The second execution's breach while it hangs.
    s.clock.advance(Duration::seconds(2));
    eventually(
        "the second alert delivered beside the hanging one",
        || async { smtp.mails().len() == 1 },
    )
    .await;
    assert_eq!(
        smtp.hanging(),
        1,
        "they went out while the first still hung"
    );
    assert_eq!(
        idle_in_transaction(&s).await,
        0,
        "a transaction was held across SMTP"
    );
    let ids = breach_ids(&s).await;
    let stalled = &ids
        .iter()
        .find(|(_, k)| *k == format!("{first}WARNING"))
        .unwrap()
        .0;
    assert!(
        smtp.mails()
            .iter()
            .all(|m| m.header("Message-ID") != Some(message_id(stalled)))
    );
    // The timeout ends the conversation; the send is retried with backoff.
    let db = s.app.db.clone();
    eventually("the hanging send timed out and was put back", || {
        let db = db.clone();
        async move {
            let rows = alert_outbox::Entity::find().all(&db).await.unwrap();
            rows.iter().any(|r| {
                r.status == "pending"
                    && r.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("SMTP_TIMEOUT_SECONDS"))
            })
        }
    })
    .await;
    smtp.release();
    s.clock.advance(Duration::seconds(10));
    eventually("both recorded sent", || async { sent_rows(&s).await == 2 }).await;
    let ids: Vec<String> = smtp
        .mails()
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    assert!(ids.contains(&message_id(stalled)), "{ids:?}");
    assert_eq!(alert_sent_events(&s).await, 2);
}

#[tokio::test]
async fn alert_sent_is_in_the_log_exactly_when_the_send_is_recorded() {
    let smtp = SmtpServer::start();
    let config = Config {
        smtp_url: Some(smtp.url()),
        ..Config::default()
    };
    let s = setup(config, json!(["ops@acme.io"])).await;
    let v: Value = s
        .app
        .data(&s.token, "{ viewer { companyId } }", json!({}))
        .await;
    let company = uuid::Uuid::parse_str(v["viewer"]["companyId"].as_str().unwrap()).unwrap();
    // The mailer "crashes" after marking the row sent, before the event: nothing of it stays.
    faults::arm(Point::AfterAlertMarkedSent, company);
    let exec = start(&s).await;
    s.clock.advance(Duration::seconds(241));
    eventually("the message reached the server", || async {
        smtp.mails().len() == 1
    })
    .await;
    // The execution ends, so no critical breach adds a second alert.
    let done = workflow_intel::clock::Clock::now(s.clock.as_ref()).to_rfc3339();
    let input = json!({"executionId": exec, "status": "COMPLETED", "completedAt": done});
    s.app
        .data(&s.token, crate::sla::COMPLETE, json!({"input": input}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!((sent_rows(&s).await, alert_sent_events(&s).await), (0, 0));
    // The claim's lease expires; the next attempt sends again (same Message-ID), and records
    // the send and its event together.
    s.clock.advance(Duration::seconds(61));
    eventually("the send recorded", || async { sent_rows(&s).await == 1 }).await;
    assert_eq!(alert_sent_events(&s).await, 1);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].header("Message-ID"), mails[1].header("Message-ID"));
}

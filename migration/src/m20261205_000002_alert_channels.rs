//! Alert channels (a signed JSON webhook, Slack, PagerDuty Events v2, Alertmanager) and
//! escalation: a company's channels, the ones each SLA alerts through and its escalation
//! levels, and on each outbox row its target (`email` or a channel's id), its escalation level
//! (0: the breach's own alert) and its action (`trigger`, or `resolve` on acknowledgement).
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000002_alert_channels"
    }
}

const CHANNELS: &str = "alert_channels";

/// The SLAs' added columns. SQLite alters one column at a time.
fn added() -> Vec<ColumnDef> {
    vec![
        json("alert_channel_ids").default("[]").take(),
        json("escalation").default("[]").take(),
    ]
}

const OUTBOX: &str = "alert_outbox";
/// The rebuilt table's name until the old one is gone (on PostgreSQL a renamed table keeps its
/// primary key's index name, so the new table is made under another name, then renamed).
const NEW: &str = "alert_outbox_rebuilt";
/// The outbox's columns both shapes have.
const COMMON: &str = "id, company_id, created_at, updated_at, breach_id, status, attempts, \
    next_attempt_at, claimed_by, claimed_until, last_error, sent_at";

/// The outbox, with (`many`) or without its target, level and action: with them a breach
/// has many rows, one per (target, level, action); without, one row.
fn outbox(many: bool) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(NEW))
        .col(uuid("id").primary_key())
        .col(uuid("company_id"))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"));
    if many {
        t.col(uuid("breach_id"))
            .col(string("target").default("email"))
            .col(integer("level").default(0))
            .col(string("action").default("trigger"));
    } else {
        t.col(uuid_uniq("breach_id"));
    }
    t.col(string("status"))
        .col(integer("attempts").default(0))
        .col(timestamp_with_time_zone("next_attempt_at"))
        .col(string_null("claimed_by"))
        .col(timestamp_with_time_zone_null("claimed_until"))
        .col(text_null("last_error"))
        .col(timestamp_with_time_zone_null("sent_at"))
        .foreign_key(
            ForeignKey::create()
                .name("fk_alert_outbox_company")
                .from(Alias::new(NEW), Alias::new("company_id"))
                .to(Alias::new("companies"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_alert_outbox_breach_id")
                .from(Alias::new(NEW), Alias::new("breach_id"))
                .to(Alias::new("sla_breaches"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Cascade),
        )
        .take()
}

/// Rebuilds the outbox in the other shape, keeping its rows (the new columns take their
/// defaults; back to one row per breach keeps each breach's own email alert).
async fn rebuild(m: &SchemaManager<'_>, many: bool) -> Result<(), DbErr> {
    let db = m.get_connection();
    m.create_table(outbox(many)).await?;
    let only = if many {
        ""
    } else {
        " WHERE target = 'email' AND level = 0 AND action = 'trigger'"
    };
    db.execute_unprepared(&format!(
        "INSERT INTO {NEW} ({COMMON}) SELECT {COMMON} FROM {OUTBOX}{only}"
    ))
    .await?;
    m.drop_table(Table::drop().table(Alias::new(OUTBOX)).take())
        .await?;
    db.execute_unprepared(&format!("ALTER TABLE {NEW} RENAME TO {OUTBOX}"))
        .await?;
    let status = crate::m20261127_000001_initial::index(
        OUTBOX,
        "status_next",
        &["status", "next_attempt_at"],
        false,
    );
    m.create_index(status).await?;
    if many {
        m.create_index(crate::m20261127_000001_initial::index(
            OUTBOX,
            "one_per_target",
            &["breach_id", "target", "level", "action"],
            true,
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new(CHANNELS))
                .if_not_exists()
                .col(uuid("id").primary_key())
                .col(uuid("company_id"))
                .col(string("name"))
                .col(string("kind"))
                .col(text("url"))
                .col(text("secret"))
                .col(boolean("is_active"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_alert_channels_company_id")
                        .from(Alias::new(CHANNELS), Alias::new("company_id"))
                        .to(Alias::new("companies"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(crate::m20261127_000001_initial::index(
            CHANNELS,
            "company_id",
            &["company_id", "id"],
            false,
        ))
        .await?;
        for mut col in added() {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("workflow_slas"))
                    .add_column(&mut col)
                    .take(),
            )
            .await?;
        }
        rebuild(m, true).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild(m, false).await?;
        for col in added() {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("workflow_slas"))
                    .drop_column(Alias::new(col.get_column_name()))
                    .take(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Alias::new(CHANNELS)).take())
            .await
    }
}

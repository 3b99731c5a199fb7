//! The whole data model: tenancy, catalog, workflows and executions, simulations, SLAs with
//! breaches and their alert outbox, suggestions and blueprint templates.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A tenant-owned table: uuid primary key, company_id with a cascading foreign key, and
/// created_at / updated_at.
fn tenant_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(Alias::new(name))
        .if_not_exists()
        .col(pk_uuid("id"))
        .col(uuid("company_id"))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .foreign_key(
            ForeignKey::create()
                .name(format!("fk_{name}_company"))
                .from(Alias::new(name), Alias::new("company_id"))
                .to(Alias::new("companies"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Cascade),
        )
        .take()
}

fn fk(
    table: &'static str,
    column: &'static str,
    target: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(target), Alias::new("id"))
        .on_delete(on_delete)
        .take()
}

pub(crate) fn index(
    table: &'static str,
    name: &str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ix_{table}_{name}"))
        .table(Alias::new(table))
        .if_not_exists();
    for c in cols {
        idx.col(Alias::new(*c));
    }
    if unique {
        idx.unique();
    }
    idx.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        m.create_table(
            Table::create()
                .table(Alias::new("companies"))
                .if_not_exists()
                .col(pk_uuid("id"))
                .col(string_uniq("name"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;

        m.create_table(
            tenant_table("users")
                .col(string("email"))
                .col(string("name"))
                .col(string("role"))
                .col(boolean("is_active").default(true))
                .take(),
        )
        .await?;
        m.create_index(index(
            "users",
            "company_email",
            &["company_id", "email"],
            true,
        ))
        .await?;

        m.create_table(
            tenant_table("api_tokens")
                .col(uuid("user_id"))
                .col(string_uniq("token_hash"))
                .col(string("name"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(&mut fk("api_tokens", "user_id", "users", Cascade))
                .take(),
        )
        .await?;

        m.create_table(
            tenant_table("action_catalog")
                .col(string("name"))
                .col(string("action_type"))
                .col(text("description").default(""))
                .col(boolean("is_idempotent"))
                .col(string("latency_class"))
                .col(json("side_effects"))
                .col(json_null("input_schema"))
                .col(json_null("output_schema"))
                .col(big_integer("execution_count").default(0))
                .col(big_integer("success_count").default(0))
                .col(double("avg_execution_time_ms").default(0.0))
                .col(double("success_rate").default(0.0))
                .col(boolean("is_active").default(true))
                .take(),
        )
        .await?;
        m.create_index(index(
            "action_catalog",
            "company_type",
            &["company_id", "action_type"],
            true,
        ))
        .await?;

        m.create_table(
            tenant_table("workflows")
                .col(string("name"))
                .col(text("description").default(""))
                .col(string("workflow_type"))
                .col(string("status"))
                .col(json("steps"))
                .col(json_null("input_schema"))
                .col(uuid_null("owner_id"))
                .foreign_key(&mut fk("workflows", "owner_id", "users", SetNull))
                .take(),
        )
        .await?;
        m.create_index(index(
            "workflows",
            "company_status",
            &["company_id", "status"],
            false,
        ))
        .await?;

        m.create_table(
            tenant_table("workflow_executions")
                .col(uuid("workflow_id"))
                .col(string_null("external_id"))
                .col(string("status"))
                .col(json("input_data"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .col(big_integer_null("duration_ms"))
                .col(text_null("error"))
                .foreign_key(&mut fk(
                    "workflow_executions",
                    "workflow_id",
                    "workflows",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "workflow_executions",
            "company_external",
            &["company_id", "external_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "workflow_executions",
            "workflow_started",
            &["workflow_id", "started_at"],
            false,
        ))
        .await?;
        m.create_index(index("workflow_executions", "status", &["status"], false))
            .await?;

        m.create_table(
            tenant_table("step_executions")
                .col(uuid("execution_id"))
                .col(integer_null("step_index"))
                .col(string("step_name"))
                .col(string_null("action_type"))
                .col(string("status"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .col(big_integer_null("duration_ms"))
                .col(string_null("approver"))
                .col(string_null("decision"))
                .col(text_null("error"))
                .foreign_key(&mut fk(
                    "step_executions",
                    "execution_id",
                    "workflow_executions",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "step_executions",
            "execution",
            &["execution_id"],
            false,
        ))
        .await?;

        m.create_table(
            tenant_table("workflow_simulations")
                .col(uuid("workflow_id"))
                .col(json("input_data"))
                .col(string("status"))
                .col(json("execution_path"))
                .col(json("branch_explorations"))
                .col(json("approval_chain"))
                .col(big_integer("predicted_duration_ms"))
                .col(big_integer_null("predicted_duration_p95_ms"))
                .col(json("validation_errors"))
                .col(json("warnings"))
                .col(uuid_null("created_by"))
                .foreign_key(&mut fk(
                    "workflow_simulations",
                    "workflow_id",
                    "workflows",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "workflow_simulations",
            "workflow",
            &["workflow_id"],
            false,
        ))
        .await?;

        m.create_table(
            tenant_table("workflow_slas")
                .col(uuid("workflow_id"))
                .col(string("name"))
                .col(text("description").default(""))
                .col(big_integer("target_duration_seconds"))
                .col(big_integer("warning_threshold_seconds"))
                .col(big_integer("critical_threshold_seconds"))
                .col(integer("slo_window_hours").default(24))
                .col(double("slo_target_percentage").default(99.0))
                .col(json("alert_recipients"))
                .col(boolean("is_active").default(true))
                .foreign_key(&mut fk(
                    "workflow_slas",
                    "workflow_id",
                    "workflows",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index("workflow_slas", "workflow", &["workflow_id"], false))
            .await?;

        m.create_table(
            tenant_table("sla_breaches")
                .col(uuid("sla_id"))
                .col(uuid("execution_id"))
                .col(string("severity"))
                .col(big_integer("threshold_seconds"))
                .col(double("actual_duration_seconds"))
                .col(double("target_duration_seconds"))
                .col(double("breach_margin_seconds"))
                .col(timestamp_with_time_zone("detected_at"))
                .col(boolean("alert_sent").default(false))
                .col(timestamp_with_time_zone_null("alert_sent_at"))
                .col(json("alert_recipients"))
                .col(boolean("acknowledged").default(false))
                .col(uuid_null("acknowledged_by"))
                .col(timestamp_with_time_zone_null("acknowledged_at"))
                .col(text("notes").default(""))
                .foreign_key(&mut fk("sla_breaches", "sla_id", "workflow_slas", Cascade))
                .foreign_key(&mut fk(
                    "sla_breaches",
                    "execution_id",
                    "workflow_executions",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "sla_breaches",
            "sla_execution_severity",
            &["sla_id", "execution_id", "severity"],
            true,
        ))
        .await?;
        m.create_index(index(
            "sla_breaches",
            "company_detected",
            &["company_id", "detected_at"],
            false,
        ))
        .await?;

        // A monotonic cursor over breach events (detected, acknowledged, alert sent): the
        // backstop that lets a listener that lost its connection catch up without loss.
        m.create_table(
            Table::create()
                .table(Alias::new("sla_events"))
                .if_not_exists()
                .col(big_pk_auto("seq"))
                .col(uuid("company_id"))
                .col(uuid("breach_id"))
                .col(string("kind"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("sla_events", "breach_id", "sla_breaches", Cascade))
                .take(),
        )
        .await?;

        m.create_table(
            tenant_table("alert_outbox")
                .col(uuid_uniq("breach_id"))
                .col(string("status"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(string_null("claimed_by"))
                .col(timestamp_with_time_zone_null("claimed_until"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .foreign_key(&mut fk(
                    "alert_outbox",
                    "breach_id",
                    "sla_breaches",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "alert_outbox",
            "status_next",
            &["status", "next_attempt_at"],
            false,
        ))
        .await?;

        m.create_table(
            tenant_table("workflow_suggestions")
                .col(uuid_null("workflow_id"))
                .col(string("title"))
                .col(text("description"))
                .col(string("source"))
                .col(string("suggestion_type"))
                .col(double("confidence_score"))
                .col(big_integer("pattern_frequency"))
                .col(json("evidence"))
                .col(json("proposed_change"))
                .col(json("impact"))
                .col(string("fingerprint"))
                .col(string("status"))
                .col(uuid_null("reviewed_by"))
                .col(timestamp_with_time_zone_null("reviewed_at"))
                .col(text("review_notes").default(""))
                .foreign_key(&mut fk(
                    "workflow_suggestions",
                    "workflow_id",
                    "workflows",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "workflow_suggestions",
            "company_fingerprint",
            &["company_id", "fingerprint"],
            false,
        ))
        .await?;

        m.create_table(
            tenant_table("process_templates")
                .col(string("name"))
                .col(string("version"))
                .col(big_integer("version_major"))
                .col(big_integer("version_minor"))
                .col(big_integer("version_patch"))
                .col(string("template_type"))
                .col(text("description").default(""))
                .col(json("process_steps"))
                .col(json("variables"))
                .col(json("settings"))
                .col(json("graph_spec"))
                .col(boolean("is_public").default(false))
                .col(big_integer("usage_count").default(0))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(uuid_null("created_by"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "process_templates",
            "company_name_version",
            &["company_id", "name", "version"],
            true,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "process_templates",
            "workflow_suggestions",
            "alert_outbox",
            "sla_events",
            "sla_breaches",
            "workflow_slas",
            "workflow_simulations",
            "step_executions",
            "workflow_executions",
            "workflows",
            "action_catalog",
            "api_tokens",
            "users",
            "companies",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().take())
                .await?;
        }
        Ok(())
    }
}

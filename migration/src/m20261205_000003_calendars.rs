//! Business-hours calendars (a time zone, weekly working windows, holidays), and the calendar
//! an SLA counts its time by (none: wall-clock time).
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000003_calendars"
    }
}

const TABLE: &str = "sla_calendars";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new(TABLE))
                .if_not_exists()
                .col(uuid("id").primary_key())
                .col(uuid("company_id"))
                .col(string("name"))
                .col(string("time_zone"))
                .col(json("weekly_hours"))
                .col(json("holidays"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sla_calendars_company_id")
                        .from(Alias::new(TABLE), Alias::new("company_id"))
                        .to(Alias::new("companies"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(crate::m20261127_000001_initial::index(
            TABLE,
            "company_id",
            &["company_id", "id"],
            false,
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflow_slas"))
                .add_column(uuid_null("calendar_id"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("workflow_slas"))
                .drop_column(Alias::new("calendar_id"))
                .take(),
        )
        .await?;
        m.drop_table(Table::drop().table(Alias::new(TABLE)).take())
            .await
    }
}

use sea_orm::entity::prelude::*;

api_object!("Calendar", "sla_calendars", {
    pub name: String,
    /// An IANA time zone name (`Europe/Berlin`); daylight saving follows its rules.
    pub time_zone: String,
    /// `sla::calendar::Window`s.
    #[graphql(skip)]
    pub weekly_hours: Json,
    /// Local dates (`2026-12-25`) with no working hours.
    #[graphql(skip)]
    pub holidays: Json,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

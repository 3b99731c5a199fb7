//! Database migrations for workflow-intel. Every table works on SQLite and PostgreSQL.
pub use sea_orm_migration::prelude::*;

mod m20261127_000001_initial;
mod m20261128_000001_list_indexes;
mod m20261128_000002_workflow_versions;
mod m20261128_000003_simulation_forecast;
mod m20261128_000004_board_indexes;
mod m20261203_000001_step_start_inferred;
mod m20261204_000001_sla_rollups;
mod m20261204_000002_breach_counts;
mod m20261205_000001_breach_margin_against_threshold;
mod m20261205_000002_alert_channels;
mod m20261205_000003_calendars;
mod m20261205_000004_execution_pauses;
mod m20261205_000005_sla_applies_when;
mod m20261205_000006_pause_conditions;
mod m20261206_000001_template_actions;
mod m20261207_000001_sla_rollup_days;
mod m20261208_000001_running_executions_index;
mod m20261209_000001_running_rollups;
mod m20261210_000001_counter_shards;

pub use m20261204_000001_sla_rollups::rebuild_sql as rollup_rebuild_sql;
pub use m20261207_000001_sla_rollup_days::GRAINS as ROLLUP_GRAINS;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial::Migration),
            Box::new(m20261128_000001_list_indexes::Migration),
            Box::new(m20261128_000002_workflow_versions::Migration),
            Box::new(m20261128_000003_simulation_forecast::Migration),
            Box::new(m20261128_000004_board_indexes::Migration),
            Box::new(m20261203_000001_step_start_inferred::Migration),
            Box::new(m20261204_000001_sla_rollups::Migration),
            Box::new(m20261204_000002_breach_counts::Migration),
            Box::new(m20261205_000001_breach_margin_against_threshold::Migration),
            Box::new(m20261205_000002_alert_channels::Migration),
            Box::new(m20261205_000003_calendars::Migration),
            Box::new(m20261205_000004_execution_pauses::Migration),
            Box::new(m20261205_000005_sla_applies_when::Migration),
            Box::new(m20261205_000006_pause_conditions::Migration),
            Box::new(m20261206_000001_template_actions::Migration),
            Box::new(m20261207_000001_sla_rollup_days::Migration),
            Box::new(m20261208_000001_running_executions_index::Migration),
            Box::new(m20261209_000001_running_rollups::Migration),
            Box::new(m20261210_000001_counter_shards::Migration),
        ]
    }
}

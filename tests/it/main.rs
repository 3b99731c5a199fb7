//! The one integration-test binary: a real server on an ephemeral port, driven by real HTTP
//! and WebSocket clients, on SQLite (default) or PostgreSQL (`TEST_DATABASE_URL`).
mod support;

mod suggestions;

mod alerts;
mod api;
mod board;
mod board_page;
mod bpmn_models;
mod browser;
mod calendars;
mod channels;
mod cli;
mod clients;
mod clock;
mod completion_races;
mod conditional;
mod conditions;
mod conformance;
mod demo;
mod discovery;
mod event_log;
mod extremes;
mod figures;
mod hostile;
mod impact;
mod layout;
mod live;
mod n_plus_one;
mod pauses;
mod playground;
mod replicas;
mod rollups;
mod schema_file;
mod simulation;
mod sla;
mod smtp;
mod snapshots;
mod templates;
mod traces;
mod transport;
mod versions;
mod worktime;

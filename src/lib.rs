//! workflow-intel: a GraphQL server that adds intelligence to workflow automation.
//!
//! [`build`] wires the pieces together: config → database → services → schema → router.
pub mod auth;
pub mod catalog;
pub mod conditions;
pub mod config;
pub mod db;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod ids;
pub mod metrics;
pub mod model;
pub mod seed;
pub mod server;
pub mod simulation;
pub mod workflows;

use config::Config;
use metrics::Metrics;
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::sync::Arc;

/// Everything a resolver or background task needs, shared by reference.
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Config,
    pub metrics: Arc<Metrics>,
}

/// A fully wired application, ready to serve.
pub struct App {
    pub state: Arc<AppState>,
    pub schema: graphql::AppSchema,
    pub router: axum::Router,
}

/// Builds the application on a migrated database.
pub fn build(config: Config, db: DatabaseConnection) -> App {
    let state = Arc::new(AppState {
        db,
        config,
        metrics: Arc::new(Metrics::new()),
    });
    let schema = graphql::build_schema(state.clone());
    let router = server::router(schema.clone(), state.clone());
    App {
        state,
        schema,
        router,
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: &App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.router.clone())
        .with_graceful_shutdown(shutdown)
        .await
}

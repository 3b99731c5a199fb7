//! The `workflow-intel` command line.
/// mimalloc: under the request path's many small allocations across threads, glibc's
/// allocator spent about a fifth of the server's CPU (profile in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use workflow_intel::clock::{Clock, SystemClock};
use workflow_intel::config::{Config, LogFormat};
use workflow_intel::history::Destination;
use workflow_intel::model::Role;
use workflow_intel::{auth, db, seed, server};

#[derive(Parser)]
#[command(
    name = "workflow-intel",
    version,
    about = "GraphQL intelligence for workflow automation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the settings' JSON Schema (generated from the code).
    Schema,
    /// Print a workflow-intel.toml with every key at its default.
    Example,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve GraphQL until Ctrl-C.
    Serve {
        /// Address to listen on (overrides BIND_ADDR).
        #[arg(long, alias = "bind-addr")]
        bind: Option<String>,
        /// Database URL (overrides DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Seed a demo company and print an admin token.
        #[arg(long)]
        demo: bool,
    },
    /// Apply all pending migrations and exit.
    Migrate {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the GraphQL schema (SDL).
    ExportSchema,
    /// The settings: their JSON Schema, or an example file with every key.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Import an event log (XES, XES.GZ or CSV) as a workflow's executions.
    ImportLog {
        file: std::path::PathBuf,
        /// The TOML mapping (see examples/).
        #[arg(long)]
        mapping: std::path::PathBuf,
        #[command(flatten)]
        company: CompanyArgs,
        /// Create the company when there is none by that name (in the import's transaction:
        /// a failed import leaves no company behind).
        #[arg(long)]
        create_company: bool,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Mine execution history for suggestions.
    Suggestions {
        #[command(subcommand)]
        command: SuggestionCommand,
    },
    /// Export and import blueprint templates.
    Templates {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// Export workflows.
    Workflows {
        #[command(subcommand)]
        command: WorkflowCommand,
    },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Print a workflow to stdout: as BPMN 2.0 XML with a laid-out diagram (--bpmn), or as a
    /// blueprint document (JSON).
    Export {
        id: uuid::Uuid,
        /// BPMN 2.0 XML instead of a blueprint document.
        #[arg(long)]
        bpmn: bool,
        #[command(flatten)]
        company: CompanyArgs,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum SuggestionCommand {
    /// Look back DAYS days and store new suggestions; prints them, highest confidence first.
    Generate {
        /// How many days back to mine, or `all` for the whole history.
        #[arg(long, default_value = "30", conflicts_with = "since")]
        days: String,
        /// Mine the executions started on or after this date (YYYY-MM-DD, UTC) instead.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 10)]
        min_occurrences: usize,
        #[command(flatten)]
        company: CompanyArgs,
        /// Only this workflow.
        #[arg(long)]
        workflow: Option<uuid::Uuid>,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum TemplateCommand {
    /// Print a template's blueprint document (JSON) to stdout.
    Export {
        id: uuid::Uuid,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Save a workflow as a template version (its steps, a graph drawn from them, and the
    /// catalog actions they use declared).
    FromWorkflow {
        workflow: uuid::Uuid,
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: String,
        /// Publish it in the marketplace.
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        company: CompanyArgs,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Import a blueprint document into a company.
    Import {
        file: std::path::PathBuf,
        #[command(flatten)]
        company: CompanyArgs,
        /// Replace an existing version with a different body.
        #[arg(long)]
        overwrite: bool,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create the user if missing (and the company, with --create-company), and print a new
    /// token once.
    Create {
        #[arg(long)]
        company: String,
        /// Create the company when there is none by that name.
        #[arg(long)]
        create_company: bool,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// List a company's tokens (id, user, created, revoked).
    List {
        #[command(flatten)]
        company: CompanyArgs,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Revoke a token by its id (from `token list`). Servers stop accepting it within
    /// TOKEN_CACHE_SECONDS, and close WebSockets opened with it.
    Revoke {
        id: uuid::Uuid,
        #[arg(long)]
        database_url: Option<String>,
    },
}

/// The company a command works on.
#[derive(clap::Args)]
struct CompanyArgs {
    /// The company, by name. It must exist; with exactly one company it is the default.
    #[arg(long)]
    company: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Editor,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Editor => Role::Editor,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

/// Logs to stderr, and traces to the configured OpenTelemetry collector (kept while the
/// returned value lives).
fn init_tracing(cfg: &Config) -> Option<workflow_intel::telemetry::Telemetry> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"))
    };
    let telemetry = match workflow_intel::telemetry::start(cfg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("traces are off: the OTLP exporter could not be built: {e:#}");
            None
        }
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match cfg.log_format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let traces = telemetry.as_ref().map(|t| {
        workflow_intel::telemetry::layer(t).with_filter(
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
        )
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter()))
        .with(traces)
        .init();
    telemetry
}

/// The server's pools (readers and the writer), migrated.
async fn open_pools(cfg: &Config) -> anyhow::Result<db::Pools> {
    let pools = db::connect_pools(&cfg.database_url)
        .await
        .with_context(|| format!("connecting to {}", cfg.database_url))?;
    db::migrate(&pools.write)
        .await
        .context("applying migrations")?;
    Ok(pools)
}

async fn open(cfg: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let conn = db::connect(&cfg.database_url, None)
        .await
        .with_context(|| format!("connecting to {}", cfg.database_url))?;
    db::migrate(&conn).await.context("applying migrations")?;
    Ok(conn)
}

/// Applies a `--database-url` override, then connects and migrates.
/// The settings with one command-line flag on top, checked like the other layers.
fn flag(cfg: &Config, key: &str, value: String) -> anyhow::Result<Config> {
    cfg.with_flags(&[(key, value)])
        .map_err(|e| anyhow::anyhow!("configuration error: {e}"))
}

async fn open_with(
    cfg: &mut Config,
    database_url: Option<String>,
) -> anyhow::Result<sea_orm::DatabaseConnection> {
    if let Some(u) = database_url {
        *cfg = flag(cfg, "database_url", u)?;
    }
    open(cfg).await
}

/// The caller for command-line work on an existing company (the one named, or the only one):
/// an admin attributed to no user.
async fn company_caller(
    conn: &sea_orm::DatabaseConnection,
    args: &CompanyArgs,
) -> anyhow::Result<auth::AuthContext> {
    let c = auth::resolve_company(conn, args.company.as_deref(), false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no company"))?;
    Ok(auth::AuthContext::command_line(c.id))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Before any SQLite connection (`db/alloc.rs`).
    if !workflow_intel::db::alloc::use_mimalloc_for_sqlite() {
        eprintln!("note: SQLite keeps its own allocator (it had started)");
    }
    let cli = Cli::parse();
    match &cli.command {
        Command::ExportSchema => {
            print!("{}", server::sdl());
            return Ok(());
        }
        Command::Config { command } => {
            match command {
                ConfigCommand::Schema => {
                    println!("{}", serde_json::to_string_pretty(&Config::json_schema())?)
                }
                ConfigCommand::Example => print!("{}", Config::example_toml()),
            }
            return Ok(());
        }
        _ => {}
    }
    let mut cfg = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    let _telemetry = init_tracing(&cfg);
    match cli.command {
        Command::ExportSchema | Command::Config { .. } => unreachable!("handled above"),
        Command::Migrate { database_url } => {
            open_with(&mut cfg, database_url).await?;
            println!("migrations applied to {}", cfg.database_url);
        }
        Command::Token { command } => tokens(command, cfg).await?,
        Command::Templates { command } => templates(command, cfg).await?,
        Command::Workflows { command } => workflows(command, cfg).await?,
        Command::Suggestions { command } => suggestions(command, cfg).await?,
        Command::ImportLog {
            file,
            mapping,
            company,
            create_company,
            database_url,
        } => {
            let conn = open_with(&mut cfg, database_url).await?;
            let into =
                match auth::resolve_company(&conn, company.company.as_deref(), create_company)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                {
                    Some(c) => Destination::Company(auth::AuthContext::command_line(c.id)),
                    None => Destination::NewCompany(company.company.unwrap_or_default()),
                };
            import_log(cfg, conn, &file, &mapping, into).await?;
        }
        Command::Serve {
            bind,
            database_url,
            demo,
        } => {
            if let Some(b) = bind {
                cfg = flag(&cfg, "bind_addr", b)?;
            }
            if let Some(u) = database_url {
                cfg = flag(&cfg, "database_url", u)?;
            }
            serve(cfg, demo).await?;
        }
    }
    Ok(())
}

/// `import-log`: reads the mapping and the file, and imports it all or nothing.
async fn import_log(
    cfg: Config,
    conn: sea_orm::DatabaseConnection,
    file: &std::path::Path,
    mapping: &std::path::Path,
    into: Destination,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(mapping)
        .with_context(|| format!("reading {}", mapping.display()))?;
    let m = workflow_intel::history::mapping::Mapping::parse(&text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = workflow_intel::app::build(cfg, conn);
    eprintln!("reading {} into {:?}", file.display(), m.workflow);
    let done = workflow_intel::history::import_file(&app.state, &into, file, &m, true)
        .await
        .map_err(|e| match e.to_string() {
            m if m.contains("nothing was imported") => anyhow::anyhow!("{m}"),
            m => anyhow::anyhow!("{m}; nothing was imported"),
        })?;
    if let Destination::NewCompany(name) = &into {
        println!("created company {name:?}");
    }
    print_import(&done);
    Ok(())
}

/// What `import-log` did: the discovered structure, the attributes the mapping found (and
/// those it never found), and the counts.
fn print_import(done: &workflow_intel::history::FileImport) {
    if let Some(d) = &done.discovery {
        println!(
            "discovered {} steps ({} process-tree nodes, {} branch rules) in {:.2} s: {}",
            d.steps, d.tree_nodes, d.rules, d.seconds, d.tree
        );
        let c = &d.conformance;
        println!(
            "conformance on the log (token-based replay): fitness {:.3}, precision {:.3}, \
             {} of {} cases fit",
            c.fitness, c.precision, c.fitting_traces, c.traces
        );
        for w in &d.warnings {
            println!("  note: {w}");
        }
    }
    for (attribute, n) in &done.presence {
        if *n == 0 {
            println!(
                "warning: the mapped attribute {attribute:?} occurs in none of the {} cases",
                done.cases_read
            );
        } else {
            println!(
                "attribute {attribute:?}: present in {n} of {} cases",
                done.cases_read
            );
        }
    }
    let r = &done.report;
    println!(
        "workflow {}: {} executions imported, {} already there, {} SLA breaches",
        done.workflow_id, r.imported, r.skipped, r.breaches
    );
}

async fn suggestions(command: SuggestionCommand, mut cfg: Config) -> anyhow::Result<()> {
    let SuggestionCommand::Generate {
        days,
        since,
        min_occurrences,
        company,
        workflow,
        database_url,
    } = command;
    let conn = open_with(&mut cfg, database_url).await?;
    let auth = company_caller(&conn, &company).await?;
    let app = workflow_intel::app::build(cfg, conn);
    let g = workflow_intel::suggestions::service::generate(
        &app.state,
        &auth,
        window(&days, since)?,
        min_occurrences,
        workflow,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    print_generated(&g);
    Ok(())
}

/// `--days N`, `--days all` or `--since DATE` as a window.
fn window(
    days: &str,
    since: Option<chrono::NaiveDate>,
) -> anyhow::Result<workflow_intel::suggestions::service::Window> {
    use workflow_intel::suggestions::service::Window;
    if let Some(d) = since {
        return Ok(Window::Since(d.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    if days.eq_ignore_ascii_case("all") {
        return Ok(Window::All);
    }
    days.trim().parse::<i64>().map(Window::Days).map_err(|_| {
        anyhow::anyhow!("--days takes a whole number of days or \"all\", not {days:?}")
    })
}

fn print_generated(g: &workflow_intel::suggestions::service::Generated) {
    let s = &g.span;
    if let (Some(first), Some(last)) = (s.first_started_at, s.last_started_at) {
        println!(
            "history: {} finished executions started between {} and {}; {} of them before the window were not mined{}",
            s.executions,
            first.format("%Y-%m-%d"),
            last.format("%Y-%m-%d"),
            s.outside_window,
            if s.outside_window > 0 {
                " (widen it with --days N, --since DATE or --days all)"
            } else {
                ""
            }
        );
    }
    for s in &g.created {
        println!(
            "{:.3}  {:<17} {}",
            s.confidence_score,
            s.suggestion_type.to_uppercase(),
            s.title
        );
        println!("       {}", s.description);
    }
    println!(
        "{} new suggestions, {} pending ones refreshed",
        g.created.len(),
        g.updated
    );
    if !g.near_misses.is_empty() {
        println!(
            "strongest decision rules short of the {} bar:",
            workflow_intel::suggestions::miners::RULE_CONFIDENCE
        );
    }
    for m in g.near_misses.iter().take(10) {
        println!(
            "{:.3}  {} {} when {}: {} of {} decisions",
            m.wilson_lower_bound,
            m.step,
            m.decision.as_str(),
            m.rule,
            m.matching,
            m.support
        );
    }
}

/// `serve`: migrate, optionally seed the demo, and serve until a signal.
async fn serve(cfg: Config, demo: bool) -> anyhow::Result<()> {
    let _sqlite_lock = match db::lock_sqlite(&cfg.database_url) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
    };
    let pools = open_pools(&cfg).await?;
    let listener = tokio::net::TcpListener::bind(cfg.bind_addr)
        .await
        .with_context(|| format!("binding {}", cfg.bind_addr))?;
    let addr = listener.local_addr()?;
    let demo_token = match demo {
        true => Some(
            seed::seed_demo(&pools.write)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?,
        ),
        false => None,
    };
    let timing = workflow_intel::Timing::from_config(&cfg);
    let app = workflow_intel::app::build(cfg, pools);
    let _background = app
        .start_background(timing)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let _feeder = match &demo_token {
        Some(t) => Some(start_demo(&app, t).await?),
        None => None,
    };
    tracing::info!(%addr, "serving GraphQL at /graphql");
    print_links(addr, demo_token.as_ref());
    workflow_intel::app::serve(listener, &app, shutdown_signal()).await?;
    Ok(())
}

/// Seeds the demo's history and SLA, and starts its feeder.
async fn start_demo(
    app: &workflow_intel::app::App,
    t: &auth::IssuedToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let admin = seed::demo_auth(t);
    // History first: it predates the demo SLA, so it records no breaches.
    let h = seed::seed_demo_history(&app.state, &admin)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo history: {e}"))?;
    if h.imported > 0 {
        println!(
            "  Demo history: {} past discount requests imported",
            h.imported
        );
    }
    seed::seed_demo_sla(&app.state, &admin)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo SLA: {e}"))?;
    Ok(tokio::spawn(seed::demo_feeder(app.state.clone(), admin)))
}

fn print_links(addr: SocketAddr, demo_token: Option<&auth::IssuedToken>) {
    println!("workflow-intel listening on http://{addr}");
    println!("  GraphQL:    http://{addr}/graphql");
    println!("  Playground: http://{addr}/playground");
    println!("  SLA board:  http://{addr}/board");
    if let Some(t) = demo_token {
        println!("  Demo admin token (shown once): {}", t.token);
        println!(
            "  Playground with the token:     http://{addr}/playground#token={}",
            t.token
        );
        println!(
            "  SLA board with the token:      http://{addr}/board#token={}",
            t.token
        );
        println!(
            "  Try: curl -s http://{addr}/graphql -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"query\":\"{{ workflows {{ edges {{ node {{ name status }} }} }} }}\"}}'",
            t.token
        );
    }
}

async fn tokens(command: TokenCommand, mut cfg: Config) -> anyhow::Result<()> {
    use sea_orm::EntityTrait;
    use workflow_intel::entity::api_token;
    match command {
        TokenCommand::Create {
            company,
            create_company,
            email,
            role,
            database_url,
        } => {
            let conn = open_with(&mut cfg, database_url).await?;
            auth::resolve_company(&conn, Some(&company), create_company)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let t = auth::issue_token(&conn, &company, &email, role.into(), SystemClock.now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", t.token);
            eprintln!("token for {email} ({company}); it is shown only once");
        }
        TokenCommand::List {
            company,
            database_url,
        } => {
            let conn = open_with(&mut cfg, database_url).await?;
            let c = company_caller(&conn, &company).await?;
            let rows = auth::list_tokens(&conn, c.company_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{:<36}  {:<30}  {:<20}  revoked", "id", "user", "created");
            for (t, u) in rows {
                let email = u.map(|u| u.email).unwrap_or_default();
                let revoked = t.revoked_at.map(|r| r.to_rfc3339()).unwrap_or("-".into());
                let created = t.created_at.format("%Y-%m-%dT%H:%M:%SZ");
                println!("{:<36}  {email:<30}  {created:<20}  {revoked}", t.id);
            }
        }
        TokenCommand::Revoke { id, database_url } => {
            let conn = open_with(&mut cfg, database_url).await?;
            let t = api_token::Entity::find_by_id(id)
                .one(&conn)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no token {id}"))?;
            auth::revoke_token(&conn, t.company_id, id, SystemClock.now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("revoked {id}; servers refuse it within their TOKEN_CACHE_SECONDS");
        }
    }
    Ok(())
}

async fn templates(command: TemplateCommand, mut cfg: Config) -> anyhow::Result<()> {
    use sea_orm::EntityTrait;
    use workflow_intel::entity::template;
    use workflow_intel::templates::{blueprint, service};
    match command {
        TemplateCommand::Export { id, database_url } => {
            let conn = open_with(&mut cfg, database_url).await?;
            let t = template::Entity::find_by_id(id)
                .one(&conn)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no template {id}"))?;
            let body = service::body(&t).map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{}", blueprint::export(&body));
        }
        TemplateCommand::Import {
            file,
            company,
            overwrite,
            database_url,
        } => {
            if let Some(u) = database_url {
                cfg = flag(&cfg, "database_url", u)?;
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let conn = open(&cfg).await?;
            let auth = company_caller(&conn, &company).await?;
            let saved = service::import_blueprint(&conn, &auth, &doc, overwrite, SystemClock.now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let t = &saved.template;
            if saved.created {
                println!("imported {} {} as {}", t.name, t.version, t.id);
            } else {
                println!(
                    "{} {} is already there, unchanged ({})",
                    t.name, t.version, t.id
                );
            }
            for w in saved.warnings {
                eprintln!("warning: {w}");
            }
        }
        TemplateCommand::FromWorkflow {
            workflow,
            name,
            version,
            public,
            company,
            database_url,
        } => {
            let conn = open_with(&mut cfg, database_url).await?;
            let auth = company_caller(&conn, &company).await?;
            let now = SystemClock.now();
            let saved =
                service::from_workflow(&conn, &auth, workflow, &name, &version, public, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            let t = &saved.template;
            println!(
                "saved workflow {workflow} as template {} {} ({})",
                t.name, t.version, t.id
            );
            for w in saved.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    Ok(())
}

async fn workflows(command: WorkflowCommand, mut cfg: Config) -> anyhow::Result<()> {
    use workflow_intel::templates::service;
    let WorkflowCommand::Export {
        id,
        bpmn,
        company,
        database_url,
    } = command;
    let conn = open_with(&mut cfg, database_url).await?;
    let auth = company_caller(&conn, &company).await?;
    let text = service::export_workflow(&conn, &auth, id, bpmn).await;
    print!("{}", text.map_err(|e| anyhow::anyhow!("{e}"))?);
    Ok(())
}

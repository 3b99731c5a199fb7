//! Typed settings: defaults, then an optional `workflow-intel.toml`, then environment
//! variables, then CLI flags. Every value is validated at start-up, and an invalid one stops
//! the process with a message naming the variable.
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub bind_addr: SocketAddr,
    pub smtp_url: Option<String>,
    pub sla_alerts_enabled: bool,
    pub sla_alert_recipients: Vec<String>,
    pub default_from_email: String,
    pub prometheus_metrics_enabled: bool,
    pub log_format: LogFormat,
    /// How long an alert-outbox claim lasts before another worker may take it over.
    pub outbox_lease_seconds: i64,
    /// Backstop poll of the breach event log and the outbox, in milliseconds.
    pub poll_interval_ms: u64,
    /// The optional LLM pass over suggestions (OpenAI-compatible chat completions).
    pub llm: Option<LlmConfig>,
    /// How long a verified API token is trusted without a query (revocations and role changes
    /// made on another replica take effect within this bound).
    pub token_cache_seconds: u64,
    /// How long the breach event log (`sla_events`, what `afterSequence` replays) is kept.
    pub event_retention_days: u64,
    /// How long a WebSocket may stay open without `connection_init` (closed with 4408).
    pub ws_init_timeout_seconds: u64,
    /// Seconds between the server's keepalive pings on WebSockets; 0 sends none.
    pub ws_keepalive_seconds: u64,
    /// A request head must be complete within this of its first byte (a new connection:
    /// of being accepted), else the connection is closed (`listener`).
    pub http_header_timeout_seconds: u64,
    /// A request body must arrive in full within this, else 408.
    pub http_body_timeout_seconds: u64,
    /// A kept-alive connection that sends nothing for this long is closed.
    pub http_idle_timeout_seconds: u64,
    /// Connections open at once, WebSockets included; 0: the open-files limit less 256.
    pub http_max_connections: u64,
    /// The bound on one whole SMTP conversation (below the outbox lease).
    pub smtp_timeout_seconds: u64,
    /// Alerts in flight at once, each on its own SMTP connection.
    pub smtp_concurrency: u64,
    /// The bound on one alert channel's HTTP request (webhook, Slack, PagerDuty,
    /// Alertmanager); held below half the outbox lease.
    pub alert_http_timeout_seconds: u64,
    /// What one GraphQL request may ask for.
    pub limits: Limits,
    /// Bytes of query text kept for Apollo's automatic persisted queries; 0 turns them off.
    pub persisted_queries_cache_bytes: u64,
    /// Browser origins (`https://app.example.com`) allowed to call the API and open its
    /// WebSocket from another origin. Empty: same origin only.
    pub cors_allowed_origins: Vec<String>,
    /// How far past the server's clock a reported `startedAt` or `completedAt` may lie (the
    /// reporting system's clock may run a little ahead); later ones are refused.
    pub clock_skew_seconds: u64,
    /// Inductive Miner – infrequent's noise threshold, in percent, for the workflow a log
    /// import discovers: behaviour rarer than this share of its neighbours is left out.
    pub discovery_noise_percent: u64,
    /// Most cases a log import reads into memory to discover a new workflow; a larger log is
    /// discovered from a uniform sample of this many (the import itself keeps every case).
    pub discovery_max_cases: u64,
    /// Most events one case of an imported log may hold.
    pub import_max_events_per_case: u64,
    /// Most bytes one attribute of an imported log may hold.
    pub import_max_attribute_bytes: u64,
}

/// The limits on one GraphQL request (each is a setting, and a refusal names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest field nesting of an operation, not counting `__schema`/`__type` subtrees.
    pub depth: u64,
    /// Largest complexity: one per field selected, fragments counted where they are spread.
    pub complexity: u64,
    /// Most aliases in one document.
    pub aliases: u64,
    /// Most operations in one batched POST.
    pub batch: u64,
    /// Largest request body, and largest WebSocket message, in bytes.
    pub body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: 12,
            complexity: 2_000,
            aliases: 50,
            batch: 10,
            body_bytes: 2 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// Such as `http://localhost:11434/v1` (Ollama) or `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout_seconds: u64,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://workflow-intel.db?mode=rwc";

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DEFAULT_DATABASE_URL.into(),
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            smtp_url: None,
            sla_alerts_enabled: true,
            sla_alert_recipients: Vec::new(),
            default_from_email: "workflow-intel@localhost".into(),
            prometheus_metrics_enabled: true,
            log_format: LogFormat::Pretty,
            outbox_lease_seconds: 60,
            poll_interval_ms: 1000,
            llm: None,
            token_cache_seconds: 5,
            clock_skew_seconds: 60,
            discovery_noise_percent: 20,
            discovery_max_cases: 100_000,
            import_max_events_per_case: 50_000,
            import_max_attribute_bytes: 1 << 20,
            event_retention_days: 7,
            ws_init_timeout_seconds: 3,
            ws_keepalive_seconds: 0,
            http_header_timeout_seconds: 10,
            http_body_timeout_seconds: 30,
            http_idle_timeout_seconds: 60,
            http_max_connections: 0,
            smtp_timeout_seconds: 20,
            smtp_concurrency: 4,
            alert_http_timeout_seconds: 10,
            limits: Limits::default(),
            persisted_queries_cache_bytes: 16 * 1024 * 1024,
            cors_allowed_origins: Vec::new(),
        }
    }
}

/// The optional TOML file: the same settings, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    bind_addr: Option<String>,
    smtp_url: Option<String>,
    sla_alerts_enabled: Option<bool>,
    sla_alert_recipients: Option<Vec<String>>,
    default_from_email: Option<String>,
    prometheus_metrics_enabled: Option<bool>,
    log_format: Option<String>,
    outbox_lease_seconds: Option<i64>,
    poll_interval_ms: Option<u64>,
    token_cache_seconds: Option<u64>,
    clock_skew_seconds: Option<u64>,
    discovery_noise_percent: Option<u64>,
    discovery_max_cases: Option<u64>,
    import_max_events_per_case: Option<u64>,
    import_max_attribute_bytes: Option<u64>,
    event_retention_days: Option<u64>,
    ws_init_timeout_seconds: Option<u64>,
    ws_keepalive_seconds: Option<u64>,
    http_header_timeout_seconds: Option<u64>,
    http_body_timeout_seconds: Option<u64>,
    http_idle_timeout_seconds: Option<u64>,
    http_max_connections: Option<u64>,
    smtp_timeout_seconds: Option<u64>,
    smtp_concurrency: Option<u64>,
    alert_http_timeout_seconds: Option<u64>,
    graphql_max_depth: Option<u64>,
    graphql_max_complexity: Option<u64>,
    graphql_max_aliases: Option<u64>,
    graphql_max_batch: Option<u64>,
    graphql_max_body_bytes: Option<u64>,
    persisted_queries_cache_bytes: Option<u64>,
    cors_allowed_origins: Option<Vec<String>>,
}

/// The plain numeric settings: environment name, file name, then (minimum, maximum).
const NUMBERS: [(&str, &str, u64, u64); 22] = [
    ("SMTP_TIMEOUT_SECONDS", "smtp_timeout_seconds", 1, 3600),
    ("SMTP_CONCURRENCY", "smtp_concurrency", 1, 64),
    (
        "ALERT_HTTP_TIMEOUT_SECONDS",
        "alert_http_timeout_seconds",
        1,
        3600,
    ),
    ("TOKEN_CACHE_SECONDS", "token_cache_seconds", 1, 3600),
    ("CLOCK_SKEW_SECONDS", "clock_skew_seconds", 0, 86_400),
    ("DISCOVERY_NOISE_PERCENT", "discovery_noise_percent", 0, 100),
    (
        "DISCOVERY_MAX_CASES",
        "discovery_max_cases",
        100,
        100_000_000,
    ),
    (
        "IMPORT_MAX_EVENTS_PER_CASE",
        "import_max_events_per_case",
        1,
        100_000_000,
    ),
    (
        "IMPORT_MAX_ATTRIBUTE_BYTES",
        "import_max_attribute_bytes",
        1_024,
        1 << 30,
    ),
    ("EVENT_RETENTION_DAYS", "event_retention_days", 1, 36_500),
    ("WS_INIT_TIMEOUT_SECONDS", "ws_init_timeout_seconds", 1, 600),
    ("WS_KEEPALIVE_SECONDS", "ws_keepalive_seconds", 0, 3600),
    (
        "HTTP_HEADER_TIMEOUT_SECONDS",
        "http_header_timeout_seconds",
        1,
        3600,
    ),
    (
        "HTTP_BODY_TIMEOUT_SECONDS",
        "http_body_timeout_seconds",
        1,
        3600,
    ),
    (
        "HTTP_IDLE_TIMEOUT_SECONDS",
        "http_idle_timeout_seconds",
        1,
        86_400,
    ),
    ("HTTP_MAX_CONNECTIONS", "http_max_connections", 0, 1_000_000),
    ("GRAPHQL_MAX_DEPTH", "graphql_max_depth", 1, 1_000),
    (
        "GRAPHQL_MAX_COMPLEXITY",
        "graphql_max_complexity",
        1,
        1_000_000,
    ),
    ("GRAPHQL_MAX_ALIASES", "graphql_max_aliases", 0, 100_000),
    ("GRAPHQL_MAX_BATCH", "graphql_max_batch", 1, 1_000),
    (
        "GRAPHQL_MAX_BODY_BYTES",
        "graphql_max_body_bytes",
        1_024,
        1 << 30,
    ),
    (
        "PERSISTED_QUERIES_CACHE_BYTES",
        "persisted_queries_cache_bytes",
        0,
        1 << 32,
    ),
];

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(invalid(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

fn parse_email(name: &'static str, v: &str) -> Result<String, ConfigError> {
    let v = v.trim();
    let ok = v
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !v.contains(char::is_whitespace));
    if ok {
        Ok(v.to_string())
    } else {
        Err(invalid(name, format!("{v:?} is not an email address")))
    }
}

fn parse_recipients(name: &'static str, v: &str) -> Result<Vec<String>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_email(name, s))
        .collect()
}

fn parse_database_url(name: &'static str, v: &str) -> Result<String, ConfigError> {
    if v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Ok(v.to_string())
    } else {
        Err(invalid(name, "expected a sqlite:… or postgres://… URL"))
    }
}

fn parse_smtp(name: &'static str, v: &str) -> Result<Option<String>, ConfigError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.starts_with("smtp://") || v.starts_with("smtps://") {
        Ok(Some(v.to_string()))
    } else {
        Err(invalid(
            name,
            "expected smtp://host:port or smtps://host:port",
        ))
    }
}

fn parse_log_format(name: &'static str, v: &str) -> Result<LogFormat, ConfigError> {
    match v.trim() {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        other => Err(invalid(
            name,
            format!("expected pretty or json, got {other:?}"),
        )),
    }
}

fn parse_range(name: &'static str, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            format!("expected a whole number from {min} to {max}, got {v:?}"),
        )),
    }
}

/// A comma-separated list of origins, each `scheme://host[:port]` with nothing after it.
/// `*` is refused: the API takes bearer tokens, and a wildcard would let any site use a token
/// it got hold of.
fn parse_origins(name: &'static str, v: &str) -> Result<Vec<String>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|o| {
            let rest = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains('/') && !host.contains('*') => {
                    Ok(o.to_ascii_lowercase())
                }
                _ => Err(invalid(
                    name,
                    format!(
                        "{o:?} is not an origin like https://app.example.com (no path, no wildcard)"
                    ),
                )),
            }
        })
        .collect()
}

fn parse_bind(name: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(name, format!("{v:?} is not an address like 127.0.0.1:8080")))
}

impl Config {
    /// Loads `workflow-intel.toml` (or the file in `WORKFLOW_INTEL_CONFIG`) when present, then
    /// the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let path = std::env::var("WORKFLOW_INTEL_CONFIG").ok();
        let explicit = path.is_some();
        let path = path.unwrap_or_else(|| "workflow-intel.toml".into());
        let mut cfg = Config::default();
        if Path::new(&path).exists() || explicit {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            cfg.apply_toml(&text).map_err(|e| match e {
                ConfigError::File { reason, .. } => ConfigError::File { path, reason },
                other => other,
            })?;
        }
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// A shorter lease brings the SMTP timeout, unless that was set alongside it, down to half
    /// the lease, so a send can never outlive its claim.
    fn fit_smtp_timeout(&mut self, timeout_given: bool) {
        if !timeout_given && self.smtp_timeout_seconds as i64 >= self.outbox_lease_seconds {
            self.smtp_timeout_seconds = (self.outbox_lease_seconds / 2).max(1) as u64;
        }
    }

    /// Checks settings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.smtp_timeout_seconds as i64 >= self.outbox_lease_seconds {
            return Err(invalid(
                "SMTP_TIMEOUT_SECONDS",
                format!(
                    "{} s is not shorter than OUTBOX_LEASE_SECONDS ({} s): a send could outlive its claim and be sent twice",
                    self.smtp_timeout_seconds, self.outbox_lease_seconds
                ),
            ));
        }
        Ok(())
    }

    pub fn apply_toml(&mut self, text: &str) -> Result<(), ConfigError> {
        let f: FileConfig = toml::from_str(text).map_err(|e| ConfigError::File {
            path: String::new(),
            reason: e.to_string(),
        })?;
        if let Some(v) = f.database_url {
            self.database_url = parse_database_url("database_url", &v)?;
        }
        if let Some(v) = f.bind_addr {
            self.bind_addr = parse_bind("bind_addr", &v)?;
        }
        if let Some(v) = f.smtp_url {
            self.smtp_url = parse_smtp("smtp_url", &v)?;
        }
        if let Some(v) = f.sla_alerts_enabled {
            self.sla_alerts_enabled = v;
        }
        if let Some(v) = f.sla_alert_recipients {
            self.sla_alert_recipients = v
                .iter()
                .map(|s| parse_email("sla_alert_recipients", s))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = f.default_from_email {
            self.default_from_email = parse_email("default_from_email", &v)?;
        }
        if let Some(v) = f.prometheus_metrics_enabled {
            self.prometheus_metrics_enabled = v;
        }
        if let Some(v) = f.log_format {
            self.log_format = parse_log_format("log_format", &v)?;
        }
        if let Some(v) = f.outbox_lease_seconds {
            self.outbox_lease_seconds =
                parse_range("outbox_lease_seconds", &v.to_string(), 1, 86_400)?;
            self.fit_smtp_timeout(f.smtp_timeout_seconds.is_some());
        }
        if let Some(v) = f.poll_interval_ms {
            self.poll_interval_ms =
                parse_range("poll_interval_ms", &v.to_string(), 10, 60_000)? as u64;
        }
        let numbers = [
            f.smtp_timeout_seconds,
            f.smtp_concurrency,
            f.alert_http_timeout_seconds,
            f.token_cache_seconds,
            f.clock_skew_seconds,
            f.discovery_noise_percent,
            f.discovery_max_cases,
            f.import_max_events_per_case,
            f.import_max_attribute_bytes,
            f.event_retention_days,
            f.ws_init_timeout_seconds,
            f.ws_keepalive_seconds,
            f.http_header_timeout_seconds,
            f.http_body_timeout_seconds,
            f.http_idle_timeout_seconds,
            f.http_max_connections,
            f.graphql_max_depth,
            f.graphql_max_complexity,
            f.graphql_max_aliases,
            f.graphql_max_batch,
            f.graphql_max_body_bytes,
            f.persisted_queries_cache_bytes,
        ];
        for ((name, _, _, _), v) in NUMBERS.iter().zip(numbers) {
            if let Some(v) = v {
                self.set_number(name, &v.to_string(), true)?;
            }
        }
        if let Some(v) = f.cors_allowed_origins {
            self.cors_allowed_origins = parse_origins("cors_allowed_origins", &v.join(","))?;
        }
        Ok(())
    }

    fn number_slot(&mut self, env_name: &str) -> Option<&mut u64> {
        Some(match env_name {
            "SMTP_TIMEOUT_SECONDS" => &mut self.smtp_timeout_seconds,
            "SMTP_CONCURRENCY" => &mut self.smtp_concurrency,
            "ALERT_HTTP_TIMEOUT_SECONDS" => &mut self.alert_http_timeout_seconds,
            "TOKEN_CACHE_SECONDS" => &mut self.token_cache_seconds,
            "CLOCK_SKEW_SECONDS" => &mut self.clock_skew_seconds,
            "DISCOVERY_NOISE_PERCENT" => &mut self.discovery_noise_percent,
            "DISCOVERY_MAX_CASES" => &mut self.discovery_max_cases,
            "IMPORT_MAX_EVENTS_PER_CASE" => &mut self.import_max_events_per_case,
            "IMPORT_MAX_ATTRIBUTE_BYTES" => &mut self.import_max_attribute_bytes,
            "EVENT_RETENTION_DAYS" => &mut self.event_retention_days,
            "WS_INIT_TIMEOUT_SECONDS" => &mut self.ws_init_timeout_seconds,
            "WS_KEEPALIVE_SECONDS" => &mut self.ws_keepalive_seconds,
            "HTTP_HEADER_TIMEOUT_SECONDS" => &mut self.http_header_timeout_seconds,
            "HTTP_BODY_TIMEOUT_SECONDS" => &mut self.http_body_timeout_seconds,
            "HTTP_IDLE_TIMEOUT_SECONDS" => &mut self.http_idle_timeout_seconds,
            "HTTP_MAX_CONNECTIONS" => &mut self.http_max_connections,
            "GRAPHQL_MAX_DEPTH" => &mut self.limits.depth,
            "GRAPHQL_MAX_COMPLEXITY" => &mut self.limits.complexity,
            "GRAPHQL_MAX_ALIASES" => &mut self.limits.aliases,
            "GRAPHQL_MAX_BATCH" => &mut self.limits.batch,
            "GRAPHQL_MAX_BODY_BYTES" => &mut self.limits.body_bytes,
            "PERSISTED_QUERIES_CACHE_BYTES" => &mut self.persisted_queries_cache_bytes,
            _ => return None,
        })
    }

    /// Sets one of [`NUMBERS`], checking its range; errors name the variable (in snake_case
    /// when it came from the file).
    fn set_number(
        &mut self,
        env_name: &'static str,
        v: &str,
        file: bool,
    ) -> Result<(), ConfigError> {
        let Some(&(name, file_name, min, max)) = NUMBERS.iter().find(|(n, _, _, _)| *n == env_name)
        else {
            return Ok(());
        };
        let shown = if file { file_name } else { name };
        let n = parse_range(shown, v, min as i64, max as i64)? as u64;
        if let Some(slot) = self.number_slot(name) {
            *slot = n;
        }
        Ok(())
    }

    /// Applies environment variables, read through `get` so tests need not touch the real
    /// environment.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("DATABASE_URL") {
            self.database_url = parse_database_url("DATABASE_URL", &v)?;
        }
        if let Some(v) = get("BIND_ADDR") {
            self.bind_addr = parse_bind("BIND_ADDR", &v)?;
        }
        if let Some(v) = get("SMTP_URL") {
            self.smtp_url = parse_smtp("SMTP_URL", &v)?;
        }
        if let Some(v) = get("SLA_ALERTS_ENABLED") {
            self.sla_alerts_enabled = parse_bool("SLA_ALERTS_ENABLED", &v)?;
        }
        if let Some(v) = get("SLA_ALERT_RECIPIENTS") {
            self.sla_alert_recipients = parse_recipients("SLA_ALERT_RECIPIENTS", &v)?;
        }
        if let Some(v) = get("DEFAULT_FROM_EMAIL") {
            self.default_from_email = parse_email("DEFAULT_FROM_EMAIL", &v)?;
        }
        if let Some(v) = get("PROMETHEUS_METRICS_ENABLED") {
            self.prometheus_metrics_enabled = parse_bool("PROMETHEUS_METRICS_ENABLED", &v)?;
        }
        if let Some(v) = get("LOG_FORMAT") {
            self.log_format = parse_log_format("LOG_FORMAT", &v)?;
        }
        if let Some(v) = get("OUTBOX_LEASE_SECONDS") {
            self.outbox_lease_seconds = parse_range("OUTBOX_LEASE_SECONDS", &v, 1, 86_400)?;
            self.fit_smtp_timeout(get("SMTP_TIMEOUT_SECONDS").is_some());
        }
        if let Some(v) = get("POLL_INTERVAL_MS") {
            self.poll_interval_ms = parse_range("POLL_INTERVAL_MS", &v, 10, 60_000)? as u64;
        }
        for (name, _, _, _) in NUMBERS {
            if let Some(v) = get(name) {
                self.set_number(name, &v, false)?;
            }
        }
        if let Some(v) = get("CORS_ALLOWED_ORIGINS") {
            self.cors_allowed_origins = parse_origins("CORS_ALLOWED_ORIGINS", &v)?;
        }
        if let Some(url) = get("LLM_BASE_URL").filter(|u| !u.trim().is_empty()) {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "LLM_BASE_URL",
                    "expected an http:// or https:// URL",
                ));
            }
            let model = get("LLM_MODEL")
                .filter(|m| !m.trim().is_empty())
                .ok_or_else(|| invalid("LLM_MODEL", "required when LLM_BASE_URL is set"))?;
            let timeout = match get("LLM_TIMEOUT_SECONDS") {
                Some(v) => parse_range("LLM_TIMEOUT_SECONDS", &v, 1, 600)? as u64,
                None => 30,
            };
            self.llm = Some(LlmConfig {
                base_url: url.trim_end_matches('/').to_string(),
                model,
                api_key: get("LLM_API_KEY").filter(|k| !k.is_empty()),
                timeout_seconds: timeout,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (k, v) in [
            ("BIND_ADDR", "nope"),
            ("SLA_ALERTS_ENABLED", "maybe"),
            ("LOG_FORMAT", "xml"),
            ("DATABASE_URL", "mysql://x"),
            ("SMTP_URL", "http://x"),
            ("SLA_ALERT_RECIPIENTS", "a@b.c, not-an-email"),
            ("OUTBOX_LEASE_SECONDS", "0"),
            ("POLL_INTERVAL_MS", "soon"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOWED_ORIGINS", "https://a.io/path"),
            ("GRAPHQL_MAX_DEPTH", "0"),
        ] {
            let err = Config::default().apply_env(env(&[(k, v)])).unwrap_err();
            assert!(err.to_string().contains(k), "{err}");
        }
    }

    #[test]
    fn env_and_toml_apply() {
        let mut c = Config::default();
        c.apply_toml("bind_addr = \"0.0.0.0:9000\"\nlog_format = \"json\"\n")
            .unwrap();
        c.apply_env(env(&[("SLA_ALERT_RECIPIENTS", "a@x.io, b@y.io")]))
            .unwrap();
        assert_eq!(c.bind_addr.port(), 9000);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.sla_alert_recipients, vec!["a@x.io", "b@y.io"]);
        assert!(c.apply_toml("unknown_key = 1").is_err());
    }

    #[test]
    fn a_short_lease_brings_the_smtp_timeout_down_unless_it_was_set() {
        let mut c = Config::default();
        c.apply_env(env(&[("OUTBOX_LEASE_SECONDS", "2")])).unwrap();
        assert_eq!(c.smtp_timeout_seconds, 1);
        c.validate().unwrap();
        let mut c = Config::default();
        c.apply_env(env(&[
            ("OUTBOX_LEASE_SECONDS", "10"),
            ("SMTP_TIMEOUT_SECONDS", "30"),
        ]))
        .unwrap();
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("SMTP_TIMEOUT_SECONDS"), "{err}");
    }
}

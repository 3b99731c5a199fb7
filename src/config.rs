//! Typed settings, declared once: the [`Config`] struct. Each field is one setting: its doc
//! comment is its meaning (in `workflow-intel config schema`, the README table and the example
//! file), `#[default]` its default, and `#[schemars]` its valid range or form.
//!
//! Layers, later ones winning (figment): the defaults, then an optional `workflow-intel.toml`
//! (or the file named by `WORKFLOW_INTEL_CONFIG`) with the fields' names as keys, then
//! environment variables (the same names in upper case), then CLI flags (`--database-url`,
//! `--bind`, through [`Config::with_flags`]). Each merge is checked against the JSON Schema
//! generated from the struct (jsonschema), and an invalid value stops the process with a
//! message naming the variable, key or flag it came from. The flags are clap's; they do not
//! also read the environment (clap's `env`), because figment's layer already does, with the
//! same names, and a second reader would bypass the checks.
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How traces travel to the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OtlpProtocol {
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "http/json")]
    HttpJson,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://workflow-intel.db?mode=rwc";

const EMAIL: &str = r"^[^@\s]+@[^@\s]+$";

#[derive(Clone, Debug, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[schemars(title = "workflow-intel settings")]
pub struct Config {
    /// `sqlite:…` or `postgres://…`
    #[default(DEFAULT_DATABASE_URL.into())]
    #[schemars(pattern(r"^(sqlite:|postgres://|postgresql://)"))]
    pub database_url: String,
    /// listen address
    #[default(SocketAddr::from(([127, 0, 0, 1], 8080)))]
    pub bind_addr: SocketAddr,
    /// `smtp://host:port` or `smtps://user:pass@host:port` for alert email; unset: no email
    #[serde(deserialize_with = "de::optional_text")]
    #[schemars(pattern(r"^$|^smtps?://"))]
    pub smtp_url: Option<String>,
    /// send breach alerts (email, channels, escalation)
    #[default(true)]
    #[serde(deserialize_with = "de::flag")]
    pub sla_alerts_enabled: bool,
    /// addresses added to every alert (a list; in the environment, comma-separated)
    #[serde(deserialize_with = "de::list")]
    #[schemars(inner(pattern(EMAIL)))]
    pub sla_alert_recipients: Vec<String>,
    /// sender of alert email
    #[default("workflow-intel@localhost".into())]
    #[schemars(pattern(EMAIL))]
    pub default_from_email: String,
    /// serve `/metrics`
    #[default(true)]
    #[serde(deserialize_with = "de::flag")]
    pub prometheus_metrics_enabled: bool,
    /// `pretty` or `json` (logs go to stderr; filter with `RUST_LOG`)
    #[default(LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// an OpenTelemetry collector (`http://localhost:4318`, Jaeger's OTLP/HTTP port) to send
    /// traces to: spans per request, per resolver and per SQL statement; unset: no traces
    #[serde(deserialize_with = "de::optional_text")]
    #[schemars(pattern(r"^$|^https?://"))]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// `http/protobuf` or `http/json`, for `OTEL_EXPORTER_OTLP_ENDPOINT`
    #[default(OtlpProtocol::HttpProtobuf)]
    pub otel_exporter_otlp_protocol: OtlpProtocol,
    /// how long an alert claim lasts before another worker may take it over
    #[default(60)]
    #[schemars(range(min = 1, max = 86_400))]
    pub outbox_lease_seconds: i64,
    /// backstop poll of the breach event log and the alert outbox, in milliseconds
    #[default(1000)]
    #[schemars(range(min = 10, max = 60_000))]
    pub poll_interval_ms: u64,
    /// optional LLM pass over suggestions: an OpenAI-compatible API such as
    /// `http://localhost:11434/v1`
    #[serde(deserialize_with = "de::optional_text")]
    #[schemars(pattern(r"^$|^https?://"))]
    pub llm_base_url: Option<String>,
    /// the model name (required with `LLM_BASE_URL`)
    #[serde(deserialize_with = "de::optional_text")]
    pub llm_model: Option<String>,
    /// sent as a bearer token when set
    #[serde(deserialize_with = "de::optional_text")]
    pub llm_api_key: Option<String>,
    /// per request to the model
    #[default(30)]
    #[schemars(range(min = 1, max = 600))]
    pub llm_timeout_seconds: u64,
    /// how long a verified token is trusted without a query: the bound within which a
    /// revocation or role change made elsewhere takes effect
    #[default(5)]
    #[schemars(range(min = 1, max = 3600))]
    pub token_cache_seconds: u64,
    /// how long the breach event log (what `afterSequence` replays) is kept; older events are
    /// deleted hourly
    #[default(7)]
    #[schemars(range(min = 1, max = 36_500))]
    pub event_retention_days: u64,
    /// a WebSocket that sends no `connection_init` within this is closed with 4408
    #[default(3)]
    #[schemars(range(min = 1, max = 600))]
    pub ws_init_timeout_seconds: u64,
    /// seconds between the server's keepalive messages on WebSockets (`ping`; `ka` on the
    /// legacy protocol); 0 sends none
    #[default(0)]
    #[schemars(range(min = 0, max = 3600))]
    pub ws_keepalive_seconds: u64,
    /// a request head must be complete within this of its first byte (a new connection: of
    /// being accepted), else the connection is closed
    #[default(10)]
    #[schemars(range(min = 1, max = 3600))]
    pub http_header_timeout_seconds: u64,
    /// a request body must arrive in full within this, else 408 with code `REQUEST_TIMEOUT`
    /// and the connection is closed
    #[default(30)]
    #[schemars(range(min = 1, max = 3600))]
    pub http_body_timeout_seconds: u64,
    /// a kept-alive connection that sends nothing for this long is closed. A client that
    /// reuses a connection at that moment sees it closed (as with any server's keep-alive
    /// timeout), so a client's pool should drop idle connections sooner
    #[default(60)]
    #[schemars(range(min = 1, max = 86_400))]
    pub http_idle_timeout_seconds: u64,
    /// connections open at once, WebSockets included (0: the open-files limit less 256). At
    /// the cap a new connection closes the oldest one waiting for a request; with none
    /// waiting it is refused
    #[default(0)]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub http_max_connections: u64,
    /// bound on one whole SMTP conversation (connect to the reply to end-of-DATA); must be
    /// shorter than `OUTBOX_LEASE_SECONDS` (when not set, a shorter lease brings it down to
    /// half the lease)
    #[default(20)]
    #[schemars(range(min = 1, max = 3600))]
    pub smtp_timeout_seconds: u64,
    /// alerts in flight at once, each on its own SMTP connection (and, as many again,
    /// channel requests)
    #[default(4)]
    #[schemars(range(min = 1, max = 64))]
    pub smtp_concurrency: u64,
    /// the bound on one alert channel request (webhook, Slack, PagerDuty, Alertmanager);
    /// held under half of `OUTBOX_LEASE_SECONDS`
    #[default(10)]
    #[schemars(range(min = 1, max = 3600))]
    pub alert_http_timeout_seconds: u64,
    /// origins (`https://app.example.com`) whose pages may call the API and open its
    /// WebSocket (a list; in the environment, comma-separated); empty means same origin only.
    /// No wildcard
    #[serde(deserialize_with = "de::list")]
    #[schemars(inner(pattern(r"^https?://[^/*\s]+$")))]
    pub cors_allowed_origins: Vec<String>,
    /// deepest field nesting of an operation (introspection is measured on its own; see
    /// *Limits*)
    #[default(12)]
    #[schemars(range(min = 1, max = 1000))]
    pub graphql_max_depth: u64,
    /// most fields one operation may select, fragments counted where spread
    #[default(2000)]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub graphql_max_complexity: u64,
    /// most aliases in one document
    #[default(50)]
    #[schemars(range(min = 0, max = 100_000))]
    pub graphql_max_aliases: u64,
    /// most operations in one batched POST
    #[default(10)]
    #[schemars(range(min = 1, max = 1000))]
    pub graphql_max_batch: u64,
    /// largest request body, and largest WebSocket message, in bytes
    #[default(2 * 1024 * 1024)]
    #[schemars(range(min = 1024, max = 1_073_741_824))]
    pub graphql_max_body_bytes: u64,
    /// how far past the server's time a reported `startedAt` or `completedAt` may lie before
    /// it is refused as BAD_USER_INPUT
    #[default(60)]
    #[schemars(range(min = 0, max = 86_400))]
    pub clock_skew_seconds: u64,
    /// most cases `import-log` holds in memory to discover a new workflow; a larger log is
    /// discovered from a uniform sample of this many (it says so), and every case is still
    /// imported
    #[default(100_000)]
    #[schemars(range(min = 100, max = 100_000_000))]
    pub discovery_max_cases: u64,
    /// most events one case of an imported log may hold; a longer case stops the import,
    /// named, with nothing written
    #[default(50_000)]
    #[schemars(range(min = 1, max = 100_000_000))]
    pub import_max_events_per_case: u64,
    /// most bytes one attribute of an imported log may hold (in XES, one element; in CSV, one
    /// column, and a line at most four times this plus 64 KiB), checked as the file is read,
    /// before it is buffered; over it stops the import, naming the case
    #[default(1 << 20)]
    #[schemars(range(min = 1024, max = 1_073_741_824))]
    pub import_max_attribute_bytes: u64,
    /// the Inductive Miner – infrequent's noise threshold for the workflow `import-log`
    /// discovers: directly-follows edges weaker than this share of the strongest edge from the
    /// same step are ignored when no cut holds on the full graph (0 keeps all behaviour)
    #[default(20)]
    #[schemars(range(min = 0, max = 100))]
    pub discovery_noise_percent: u64,
    /// query text kept for automatic persisted queries, in bytes (least recently used goes
    /// first); 0 turns them off
    #[default(16 * 1024 * 1024)]
    #[schemars(range(min = 0, max = 4_294_967_296_u64))]
    pub persisted_queries_cache_bytes: u64,
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
        Config::default().limits()
    }
}

/// The optional LLM pass's connection (`LLM_*`).
#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// Such as `http://localhost:11434/v1` (Ollama) or `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout_seconds: u64,
}

/// Where a setting's value came from, to name it in an error: the environment variable, or
/// the file's key.
const ENV_SOURCE: &str = "environment variable";

/// Environment variables as a figment layer, read through `get` (tests need not touch the
/// real environment). Only the settings' own names are read; values parse as figment's
/// `Env` parses them.
struct EnvLayer(Dict);

impl EnvLayer {
    fn read(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut d = Dict::new();
        for key in Config::keys() {
            if let Some(v) = get(&key.to_ascii_uppercase()) {
                let value = v
                    .parse::<Value>()
                    .unwrap_or_else(|_| Value::from(v.clone()));
                d.insert(key, value);
            }
        }
        EnvLayer(d)
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_SOURCE)
            .interpolater(|_: &Profile, k: &[&str]| k.join(".").to_ascii_uppercase())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// Command-line flags as the last layer.
struct FlagLayer(Dict);

const FLAG_SOURCE: &str = "command-line flag";

impl Provider for FlagLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAG_SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

impl Config {
    /// Loads `workflow-intel.toml` (or the file in `WORKFLOW_INTEL_CONFIG`) when present, then
    /// the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let path = std::env::var("WORKFLOW_INTEL_CONFIG").ok();
        let explicit = path.is_some();
        let path = path.unwrap_or_else(|| "workflow-intel.toml".into());
        let text = if Path::new(&path).exists() || explicit {
            Some(
                std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?,
            )
        } else {
            None
        };
        Self::from_layers(text.as_deref(), |k| std::env::var(k).ok()).map_err(|e| match e {
            ConfigError::File { reason, .. } => ConfigError::File { path, reason },
            other => other,
        })
    }

    /// The defaults, then the TOML text, then the environment read through `get`; checked.
    pub fn from_layers(
        toml: Option<&str>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut given = Figment::new();
        if let Some(t) = toml {
            toml::from_str::<toml::Table>(t).map_err(|e| ConfigError::File {
                path: String::new(),
                reason: e.to_string(),
            })?;
            given = given.merge(Toml::string(t));
        }
        given = given.merge(EnvLayer::read(get));
        let figment = Figment::from(Serialized::defaults(Config::default())).merge(given.clone());
        let mut cfg: Config = figment.extract().map_err(|e| named(&figment, e))?;
        if given.contains("outbox_lease_seconds") && !given.contains("smtp_timeout_seconds") {
            cfg.fit_smtp_timeout();
        }
        cfg.check(&figment)?;
        Ok(cfg)
    }

    /// These settings with command-line flags on top (`(key, value)`, the flag `--key` with
    /// dashes), checked like every other layer; an invalid one names the flag.
    pub fn with_flags(&self, flags: &[(&str, String)]) -> Result<Self, ConfigError> {
        let mut d = Dict::new();
        for (k, v) in flags {
            d.insert(k.to_string(), Value::from(v.clone()));
        }
        let figment = Figment::from(Serialized::defaults(self.clone())).merge(FlagLayer(d));
        let cfg: Config = figment.extract().map_err(|e| named(&figment, e))?;
        cfg.check(&figment)?;
        Ok(cfg)
    }

    /// The settings' names (the file's keys; in upper case, the environment's), in order.
    pub fn keys() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default();
        schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The JSON Schema of the settings (`workflow-intel config schema`).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
    }

    /// A shorter lease brings the SMTP timeout (not given alongside it) down to half the
    /// lease, so a send can never outlive its claim.
    fn fit_smtp_timeout(&mut self) {
        if self.smtp_timeout_seconds as i64 >= self.outbox_lease_seconds {
            self.smtp_timeout_seconds = (self.outbox_lease_seconds / 2).max(1) as u64;
        }
    }

    /// Checks the settings against their schema, then against each other.
    fn check(&self, figment: &Figment) -> Result<(), ConfigError> {
        let schema = Self::json_schema();
        let value = serde_json::to_value(self).map_err(|e| ConfigError::Invalid {
            name: "settings".into(),
            reason: e.to_string(),
        })?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| ConfigError::Invalid {
            name: "settings".into(),
            reason: e.to_string(),
        })?;
        if let Some(e) = validator.iter_errors(&value).next() {
            let path = e.instance_path().to_string();
            let key = path.trim_start_matches('/').split('/').next().unwrap_or("");
            return Err(ConfigError::Invalid {
                name: source_name(figment, key),
                reason: e.to_string(),
            });
        }
        self.validate()
    }

    /// Checks settings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name: &str, reason: String| ConfigError::Invalid {
            name: name.into(),
            reason,
        };
        if self.smtp_timeout_seconds as i64 >= self.outbox_lease_seconds {
            return Err(invalid(
                "SMTP_TIMEOUT_SECONDS",
                format!(
                    "{} s is not shorter than OUTBOX_LEASE_SECONDS ({} s): a send could outlive its claim and be sent twice",
                    self.smtp_timeout_seconds, self.outbox_lease_seconds
                ),
            ));
        }
        if self.llm_base_url.is_some() && self.llm_model.is_none() {
            return Err(invalid(
                "LLM_MODEL",
                "required when LLM_BASE_URL is set".into(),
            ));
        }
        Ok(())
    }

    /// What one GraphQL request may ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            depth: self.graphql_max_depth,
            complexity: self.graphql_max_complexity,
            aliases: self.graphql_max_aliases,
            batch: self.graphql_max_batch,
            body_bytes: self.graphql_max_body_bytes,
        }
    }

    /// The LLM pass's connection, when `LLM_BASE_URL` is set.
    pub fn llm(&self) -> Option<LlmConfig> {
        Some(LlmConfig {
            base_url: self
                .llm_base_url
                .as_ref()?
                .trim_end_matches('/')
                .to_string(),
            model: self.llm_model.clone()?,
            api_key: self.llm_api_key.clone(),
            timeout_seconds: self.llm_timeout_seconds,
        })
    }
}

/// Each setting with its description and default, in order.
fn documented() -> Vec<(String, String, serde_json::Value)> {
    let schema = Config::json_schema();
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    Config::keys()
        .into_iter()
        .map(|k| {
            let doc = schema["properties"][&k]["description"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let default = defaults[&k].clone();
            (k, doc, default)
        })
        .collect()
}

impl Config {
    /// The README's table of settings, generated from the struct.
    pub fn markdown_table() -> String {
        let mut out = String::from("| variable | default | meaning |\n|---|---|---|\n");
        for (k, doc, default) in documented() {
            let shown = match &default {
                serde_json::Value::Null => "unset".to_string(),
                serde_json::Value::Array(a) if a.is_empty() => "empty".to_string(),
                serde_json::Value::String(s) => format!("`{s}`"),
                v => format!("`{v}`"),
            };
            let name = k.to_ascii_uppercase();
            out.push_str(&format!("| `{name}` | {shown} | {doc} |\n"));
        }
        out
    }

    /// A `workflow-intel.toml` that sets every key to its default, each under its meaning.
    pub fn example_toml() -> String {
        let mut out = String::from(
            "# workflow-intel.toml: every setting at its default (generated by\n\
             # `workflow-intel config example`). Environment variables (the same names in upper\n\
             # case) win over this file, and CLI flags over both. \"\" leaves a setting unset.\n",
        );
        for (k, doc, default) in documented() {
            out.push('\n');
            let mut line = String::from("#");
            for w in doc.split(' ') {
                if line.len() + w.len() > 92 {
                    out.push_str(&line);
                    out.push('\n');
                    line = String::from("#");
                }
                line.push(' ');
                line.push_str(w);
            }
            out.push_str(&line);
            let value = match default {
                serde_json::Value::Null => "\"\"".to_string(),
                v => v.to_string(),
            };
            out.push_str(&format!("\n{k} = {value}\n"));
        }
        out
    }
}

/// The name to give a setting in an error: its environment variable when the environment
/// set it, else its key.
fn source_name(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(m) => display_name(&m.name, key),
        None => key.to_string(),
    }
}

/// A key as its source spells it: `DATABASE_URL`, `--database-url` or `database_url`.
fn display_name(source: &str, key: &str) -> String {
    match source {
        ENV_SOURCE => key.to_ascii_uppercase(),
        FLAG_SOURCE => format!("--{}", key.replace('_', "-")),
        _ => key.to_string(),
    }
}

/// A figment error as ours, naming where the value came from.
fn named(figment: &Figment, e: figment::Error) -> ConfigError {
    let key = e.path.first().cloned().unwrap_or_default();
    let name = match &e.metadata {
        Some(m) => display_name(&m.name, &key),
        None => source_name(figment, &key),
    };
    match &e.kind {
        figment::error::Kind::UnknownField(f, _) => ConfigError::File {
            path: String::new(),
            reason: format!("unknown setting {f:?}"),
        },
        kind => ConfigError::Invalid {
            name: if name.is_empty() {
                "settings".into()
            } else {
                name
            },
            reason: kind.to_string(),
        },
    }
}

/// The lenient forms a setting may take in the environment.
mod de {
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Bool(bool),
        Int(i64),
        Float(f64),
        Text(String),
    }

    impl Scalar {
        fn text(self) -> String {
            match self {
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(n) => n.to_string(),
                Scalar::Float(x) => x.to_string(),
                Scalar::Text(s) => s,
            }
        }
    }

    /// true/false, or 1/0, yes/no, on/off.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Bool(b) => Ok(b),
            other => match other.text().trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                v => Err(D::Error::custom(format!(
                    "expected true or false, got {v:?}"
                ))),
            },
        }
    }

    /// Text (a number is taken as its digits); empty: unset.
    pub fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Option::<Scalar>::deserialize(d)?.map(|s| s.text().trim().to_string());
        Ok(v.filter(|s| !s.is_empty()))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }

    /// A list, or one comma-separated string (the environment's form).
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let items = match ListOrText::deserialize(d)? {
            ListOrText::List(l) => l,
            ListOrText::Text(t) => t.split(',').map(str::to_string).collect(),
        };
        Ok(items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
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
            ("LLM_BASE_URL", "ftp://x"),
        ] {
            let err = Config::from_layers(None, env(&[(k, v)])).unwrap_err();
            assert!(err.to_string().contains(k), "{k}={v}: {err}");
        }
        let err = Config::from_layers(Some("graphql_max_depth = 0"), env(&[])).unwrap_err();
        assert!(
            err.to_string().contains("graphql_max_depth"),
            "a file's key is named as the file spells it: {err}"
        );
    }

    #[test]
    fn env_wins_over_toml_and_lenient_forms_parse() {
        let c = Config::from_layers(
            Some("bind_addr = \"0.0.0.0:9000\"\nlog_format = \"json\"\nsmtp_concurrency = 8\n"),
            env(&[
                ("SLA_ALERT_RECIPIENTS", "a@x.io, b@y.io"),
                ("SMTP_CONCURRENCY", "9"),
                ("PROMETHEUS_METRICS_ENABLED", "off"),
                ("SMTP_URL", ""),
                ("LLM_BASE_URL", "http://localhost:11434/v1/"),
                ("LLM_MODEL", "llama3"),
                ("LLM_API_KEY", "12345"),
            ]),
        )
        .unwrap();
        assert_eq!(c.bind_addr.port(), 9000);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.sla_alert_recipients, vec!["a@x.io", "b@y.io"]);
        assert_eq!(c.smtp_concurrency, 9);
        assert!(!c.prometheus_metrics_enabled);
        assert_eq!(c.smtp_url, None);
        let llm = c.llm().unwrap();
        assert_eq!(llm.base_url, "http://localhost:11434/v1");
        assert_eq!(llm.api_key.as_deref(), Some("12345"));
        let err = Config::from_layers(Some("unknown_key = 1"), env(&[])).unwrap_err();
        assert!(err.to_string().contains("unknown_key"), "{err}");
        let err = Config::from_layers(None, env(&[("LLM_BASE_URL", "http://x")])).unwrap_err();
        assert!(err.to_string().contains("LLM_MODEL"), "{err}");
    }

    #[test]
    fn flags_win_and_are_checked_like_the_other_layers() {
        let c = Config::from_layers(None, env(&[("DATABASE_URL", "sqlite::memory:")])).unwrap();
        let c = c
            .with_flags(&[("database_url", "postgres://db/x".into())])
            .unwrap();
        assert_eq!(c.database_url, "postgres://db/x");
        let err = c
            .with_flags(&[("database_url", "mysql://x".into())])
            .unwrap_err();
        assert!(err.to_string().contains("--database-url"), "{err}");
    }

    #[test]
    fn a_short_lease_brings_the_smtp_timeout_down_unless_it_was_set() {
        let c = Config::from_layers(None, env(&[("OUTBOX_LEASE_SECONDS", "2")])).unwrap();
        assert_eq!(c.smtp_timeout_seconds, 1);
        let err = Config::from_layers(
            None,
            env(&[
                ("OUTBOX_LEASE_SECONDS", "10"),
                ("SMTP_TIMEOUT_SECONDS", "30"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("SMTP_TIMEOUT_SECONDS"), "{err}");
    }
}

//! Configuration: `config/default.toml` (compiled in) < `config/<profile>.toml` or `--config FILE`
//! < `ANASPOC__SECTION__KEY` environment variables. [`Settings::load`] merges the layers and
//! [`Settings::validate`] refuses anything inconsistent with an error that names the key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

use crate::policy::{Capability, Ladder, LadderError, PolicyConfig};

/// The built-in defaults, so the binary runs without any file next to it.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// The demo profile, compiled in for the same reason.
pub const DEMO_TOML: &str = include_str!("../../config/demo.toml");
/// Prefix of environment overrides: `ANASPOC__DATABASE__URL` sets `database.url`.
pub const ENV_PREFIX: &str = "ANASPOC__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(Box<figment::Error>),
    #[error("configuration file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl ConfigError {
    fn invalid(key: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid { key, problem: problem.into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub search: SearchSettings,
    pub ingest: IngestSettings,
    pub oidc: OidcSettings,
    pub policy: PolicySettings,
    pub limits: LimitsSettings,
    pub log: LogSettings,
    pub audit: AuditSettings,
    pub web: WebSettings,
    pub metrics: MetricsSettings,
    pub health: HealthSettings,
    pub demo: DemoSettings,
    pub import: ImportSettings,
    pub notify: NotifySettings,
    #[serde(default)]
    pub crypto: CryptoSettings,
}

/// `[crypto]`: encryption at rest of stored objects (see README, "Encryption at rest").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoSettings {
    /// Encrypt stored objects (versions and their text) under their organisation's key.
    pub enabled: bool,
    /// The keyring: each organisation's KEKs, sealed under the master key (mode 0600).
    pub keyring_file: String,
    /// A file holding the master key (32 bytes, base64; mode 0600) — or
    /// `ANASPOC__CRYPTO__MASTER_KEY`. Never in a configuration file; never logged.
    pub master_key_file: String,
    #[serde(skip_serializing)]
    pub master_key: Secret,
}

/// E-mail digests of alerts (`[notify]`): off while `smtp_url` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// `smtps://[user:password@]host[:port]` (TLS) or `smtp://…` (STARTTLS, required); set it
    /// from the environment (`ANASPOC__NOTIFY__SMTP_URL`) when it holds a password. Never logged
    /// or serialised.
    #[serde(skip_serializing)]
    pub smtp_url: Secret,
    /// The `From` of digests, e.g. `ANASPOC <no-reply@anaspoc.example>`.
    pub from: String,
    /// How often digests are sent: one e-mail per person per interval at most.
    pub digest_interval_secs: u64,
    /// A PEM file of further CA certificates the SMTP server's certificate may chain to (an
    /// internal CA); the system's roots are trusted too. Empty: the system's roots only.
    pub ca_file: String,
}

/// `anaspoc import`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSettings {
    /// Documents committed per transaction (and per audit append).
    pub batch_size: usize,
    /// Files stored at once.
    pub parallel_files: usize,
    /// Identities an operator may import as (`--as NAME`): each the claims an access token of
    /// that principal would carry, mapped to a principal exactly as a token's are (`[oidc.claims]`,
    /// `[policy.roles]`). In demo mode the demo personas are identities too.
    #[serde(default)]
    pub identities: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    /// How often readiness checks the database, object store and identity provider.
    pub check_interval_ms: u64,
    /// How long each of those checks may take before the component counts as failing.
    pub check_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Bearer token scrapers must send; only from the environment, never logged or serialised.
    #[serde(skip_serializing)]
    pub token: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// Longest a browser session lasts (it also ends when the access token it came with expires).
    pub session_hours: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// PKCS#8 PEM Ed25519 key that signs checkpoints; created (mode 0600) when absent.
    pub signing_key_file: String,
    /// `[audit.alerts]`: the anomaly rules' thresholds.
    #[serde(default)]
    pub alerts: AlertSettings,
}

/// `[audit.alerts]`: the thresholds of the anomaly rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Flag an actor who downloads more than this many documents in one hour.
    pub downloads_per_hour: u32,
    /// Flag an actor refused more than this many times in one hour.
    pub denials_per_hour: u32,
    /// Flag an actor who downloads documents of at least this many organisations in one hour.
    pub originators_per_hour: u32,
    /// Working hours as `HH:MM-HH:MM` in `utc_offset`; reading documents outside them, or on
    /// days not in `working_days`, is flagged. Empty: no working-hours rule.
    pub working_hours: String,
    pub working_days: Vec<String>,
    /// The network's local time, e.g. `+01:00`.
    pub utc_offset: String,
    /// How far back the audit page and `/metrics` look for flags.
    pub lookback_hours: u32,
    /// How often `/metrics`' flag counts are recomputed.
    pub check_interval_secs: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            downloads_per_hour: 50,
            denials_per_hour: 20,
            originators_per_hour: 5,
            working_hours: String::new(),
            working_days: ["Mon", "Tue", "Wed", "Thu", "Fri"].map(String::from).to_vec(),
            utc_offset: "+01:00".into(),
            lookback_hours: 168,
            check_interval_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    pub tls_cert: String,
    pub tls_key: String,
    pub allow_plain_http: bool,
    pub workers: usize,
    /// Proxies whose forwarding header is believed for the client address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header those proxies write.
    pub forwarded_header: ForwardedHeader,
}

/// The header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardedHeader {
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub auto_migrate: bool,
    /// Longest wait for a pooled connection (and for a new one to connect).
    pub acquire_timeout_ms: u64,
    /// Longest a statement may run on PostgreSQL (`statement_timeout`); SQLite waits for its
    /// write lock this long at most (`busy_timeout`).
    pub statement_timeout_ms: u64,
}

/// Where document bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// A directory on this machine (`storage.path`).
    Local,
    /// An S3-compatible service (`storage.bucket`, `endpoint`, `region`).
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub kind: StorageKind,
    pub path: String,
    /// Key prefix inside the store, so several deployments can share a bucket.
    pub prefix: String,
    pub bucket: String,
    pub endpoint: String,
    pub region: String,
    pub allow_http: bool,
    /// S3: time to establish a connection.
    pub connect_timeout_ms: u64,
    /// S3: longest silence while waiting for a response or reading a body (a stalled store,
    /// whatever the object's size).
    pub read_timeout_ms: u64,
    /// S3: retries of a failed or timed-out request, all within `retry_timeout_ms`.
    pub max_retries: usize,
    pub retry_timeout_ms: u64,
    /// After this many consecutive failures the store is not tried for `breaker_cooldown_ms`
    /// (requests answer 503 at once), then one request tries again.
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    pub index_dir: String,
    /// How often this replica's index looks for changes in the feed when nothing woke it
    /// (PostgreSQL wakes it at once with NOTIFY; SQLite relies on this).
    pub follow_poll_ms: u64,
    /// Most changes applied in one index commit.
    pub follow_batch: u64,
    /// `/readyz` fails while the index is more than this many changes …
    pub max_lag_changes: u64,
    /// … or this many seconds behind the database.
    pub max_lag_secs: u64,
    /// Caps of one query (see `search::cost`): characters, terms, and time in milliseconds.
    pub max_query_chars: usize,
    pub max_query_terms: usize,
    pub query_budget_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Run the ingest workers in this process.
    pub workers: bool,
    /// Sandboxed extractions at once.
    pub parallel_extractions: usize,
    /// The `anaspoc` binary that runs `anaspoc extract`; empty = this executable.
    pub extractor: String,
    pub extract_memory_mib: u64,
    pub extract_cpu_secs: u64,
    pub extract_timeout_secs: u64,
    /// Longest text kept from one file.
    pub max_text_bytes: u64,
    /// How extractions are isolated.
    pub sandbox: SandboxKind,
    /// Tesseract's language packs (`*.traineddata`), when not its own directory — e.g. the more
    /// accurate `tessdata_best` packs; empty = tesseract's own. Mounted read-only in the sandbox.
    pub ocr_data_dir: String,
}

impl IngestSettings {
    /// The configured tessdata directory; `None`: tesseract's own.
    pub fn ocr_data_dir(&self) -> Option<&std::path::Path> {
        (!self.ocr_data_dir.trim().is_empty()).then(|| std::path::Path::new(&self.ocr_data_dir))
    }
}

/// The isolation of text extraction from untrusted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxKind {
    /// bubblewrap: no environment, network, data or keys; an unprivileged user; everything
    /// killed at the end (the default; start-up refuses ingest if it does not work).
    Bubblewrap,
    /// Limits only (prlimit, timeout): a hostile file can read what this process can.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub issuer_url: String,
    pub audience: String,
    pub client_id: String,
    /// Only from the environment; never logged or serialised.
    #[serde(skip_serializing)]
    pub client_secret: Secret,
    pub algorithms: Vec<JwsAlgorithm>,
    pub leeway_secs: u64,
    /// Requests to the issuer (discovery, JWKS, token endpoint): connect, and the whole request.
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub jwks_min_refresh_secs: u64,
    pub jwks_max_age_secs: u64,
    pub ca_file: String,
    /// Sent as the `resource` parameter (RFC 8707) in the browser sign-in, for providers that
    /// issue JWT access tokens per resource; empty: none.
    pub resource: String,
    pub claims: ClaimPaths,
}

/// The JWS algorithms an access token may be signed with: asymmetric only. `none` and the
/// symmetric HS* algorithms are not in this list, so no configuration can allow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwsAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// JSON pointers (RFC 6901) into the access token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimPaths {
    pub sub: String,
    pub name: String,
    pub roles: String,
    pub country: String,
    pub organisation: String,
    pub clearance: String,
    /// Where the address of e-mail digests is (optional; absent: no e-mail to that person).
    #[serde(default = "default_email_claim")]
    pub email: String,
}

fn default_email_claim() -> String {
    "/email".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    pub countries: Vec<String>,
    pub levels: Vec<String>,
    pub max_classification: String,
    #[serde(default)]
    pub level_names: BTreeMap<String, String>,
    /// Capabilities per role; an unknown capability is refused when the configuration loads.
    pub roles: BTreeMap<String, BTreeSet<Capability>>,
}

impl PolicySettings {
    /// The policy these settings describe, or the key at fault and why.
    pub fn compile(&self) -> Result<PolicyConfig, ConfigError> {
        if self.countries.is_empty() {
            return Err(ConfigError::invalid("policy.countries", "must list at least one country"));
        }
        for country in &self.countries {
            let well_formed = (2..=3).contains(&country.len()) && country.chars().all(|c| c.is_ascii_uppercase());
            if !well_formed || country == "ALL" {
                return Err(ConfigError::invalid(
                    "policy.countries",
                    format!("`{country}` is not an upper-case country code (ALL is reserved)"),
                ));
            }
        }
        if has_duplicates(&self.countries) {
            return Err(ConfigError::invalid("policy.countries", "lists a country twice"));
        }
        let ladder = Ladder::new(&self.levels, &self.max_classification).map_err(|error| match error {
            LadderError::UnknownMaximum(_) => ConfigError::invalid("policy.max_classification", error.to_string()),
            other => ConfigError::invalid("policy.levels", other.to_string()),
        })?;
        if let Some(level) = self.level_names.keys().find(|l| !self.levels.contains(l)) {
            return Err(ConfigError::invalid("policy.level_names", format!("`{level}` is not one of policy.levels")));
        }
        Ok(PolicyConfig { ladder, countries: self.countries.iter().cloned().collect() })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    pub max_upload_bytes: u64,
    pub auth_failures_per_minute: u32,
    pub searches_per_minute: u32,
    pub downloads_per_minute: u32,
    pub uploads_per_minute: u32,
    /// Handling-code requests and decisions.
    pub requests_per_minute: u32,
    pub denied_audit_window_secs: u64,
    pub denied_audit_individually: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    pub enabled: bool,
    /// Load the sample corpus into an empty demo platform (`anaspoc demo --empty`: off).
    pub seed: bool,
}

/// Where the middle layer comes from.
#[derive(Debug, Clone)]
pub enum Profile {
    /// `config/<name>.toml` if it exists (the `demo` profile is also compiled in).
    Named(String),
    /// `--config FILE`: must exist.
    File(PathBuf),
}

impl Settings {
    /// Merge the three layers; does not validate.
    pub fn load(profile: &Profile) -> Result<Self, ConfigError> {
        Self::figment(profile)?.extract().map_err(|e| ConfigError::Load(Box::new(e)))
    }

    /// Load and validate: what every command uses.
    pub fn load_valid(profile: &Profile) -> Result<Self, ConfigError> {
        let settings = Self::load(profile)?;
        settings.validate()?;
        Ok(settings)
    }

    fn figment(profile: &Profile) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        match profile {
            Profile::File(path) => {
                if !path.is_file() {
                    return Err(ConfigError::MissingFile { path: path.clone() });
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            Profile::Named(name) => {
                let path = Path::new("config").join(format!("{name}.toml"));
                if path.is_file() {
                    figment = figment.merge(Toml::file_exact(path));
                } else if name == "demo" {
                    figment = figment.merge(Toml::string(DEMO_TOML));
                }
            }
        }
        Ok(figment.merge(Env::prefixed(ENV_PREFIX).split("__")))
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| {
            ConfigError::invalid("server.bind", format!("`{}` is not an IP:port address", self.server.bind))
        })
    }

    pub fn tls_enabled(&self) -> bool {
        !self.server.tls_cert.is_empty()
    }

    /// Browsers reach the platform over HTTPS — served here, or terminated by a proxy in front —
    /// so cookies are `Secure` (with the `__Host-` prefix) and HSTS is sent.
    pub fn https(&self) -> bool {
        self.tls_enabled() || url::Url::parse(&self.server.public_url).is_ok_and(|url| url.scheme() == "https")
    }
}

/// A secret string whose `Debug` output is redacted so it cannot end up in a log line.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

fn has_duplicates(items: &[String]) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    !items.iter().all(|item| seen.insert(item))
}

mod validate;

#[cfg(test)]
mod tests;

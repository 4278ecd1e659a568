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

    /// Every rule a running server relies on; the error names the key and what is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_database()?;
        self.validate_storage()?;
        self.validate_oidc()?;
        self.policy.compile()?;
        if self.limits.max_upload_bytes == 0 {
            return Err(ConfigError::invalid("limits.max_upload_bytes", "must be greater than 0"));
        }
        for (key, rate) in [
            ("limits.auth_failures_per_minute", self.limits.auth_failures_per_minute),
            ("limits.searches_per_minute", self.limits.searches_per_minute),
            ("limits.downloads_per_minute", self.limits.downloads_per_minute),
            ("limits.uploads_per_minute", self.limits.uploads_per_minute),
        ] {
            if rate == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if self.limits.denied_audit_window_secs == 0 {
            return Err(ConfigError::invalid("limits.denied_audit_window_secs", "must be greater than 0"));
        }
        for (key, cap) in [
            ("search.max_query_chars", self.search.max_query_chars as u64),
            ("search.max_query_terms", self.search.max_query_terms as u64),
            ("search.query_budget_ms", self.search.query_budget_ms),
        ] {
            if cap == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        for (key, value) in [
            ("health.check_interval_ms", self.health.check_interval_ms),
            ("health.check_timeout_ms", self.health.check_timeout_ms),
            ("search.follow_poll_ms", self.search.follow_poll_ms),
            ("search.follow_batch", self.search.follow_batch),
            ("search.max_lag_changes", self.search.max_lag_changes),
            ("search.max_lag_secs", self.search.max_lag_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if self.ingest.extract_memory_mib < 128
            || self.ingest.extract_cpu_secs == 0
            || self.ingest.extract_timeout_secs == 0
        {
            return Err(ConfigError::invalid(
                "ingest.extract_memory_mib",
                "must be at least 128, with extract_cpu_secs and extract_timeout_secs above 0",
            ));
        }
        if self.audit.signing_key_file.trim().is_empty() {
            return Err(ConfigError::invalid("audit.signing_key_file", "must name a file"));
        }
        if self.log.level.trim().is_empty() {
            return Err(ConfigError::invalid("log.level", "must not be empty"));
        }
        Ok(())
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

    fn validate_server(&self) -> Result<(), ConfigError> {
        let addr = self.bind_addr()?;
        let public = url::Url::parse(&self.server.public_url)
            .map_err(|e| ConfigError::invalid("server.public_url", format!("is not a URL: {e}")))?;
        if !matches!(public.scheme(), "http" | "https") {
            return Err(ConfigError::invalid("server.public_url", "must be an http or https URL"));
        }
        match (self.server.tls_cert.is_empty(), self.server.tls_key.is_empty()) {
            (true, false) => {
                return Err(ConfigError::invalid("server.tls_cert", "is required when server.tls_key is set"));
            }
            (false, true) => {
                return Err(ConfigError::invalid("server.tls_key", "is required when server.tls_cert is set"));
            }
            _ => {}
        }
        for (key, path) in [("server.tls_cert", &self.server.tls_cert), ("server.tls_key", &self.server.tls_key)] {
            if !path.is_empty() && !Path::new(path).is_file() {
                return Err(ConfigError::invalid(key, format!("file `{path}` does not exist")));
            }
        }
        if !self.tls_enabled() && !addr.ip().is_loopback() && !self.server.allow_plain_http {
            return Err(ConfigError::invalid(
                "server.bind",
                format!(
                    "is {addr}, not loopback, and TLS is off: set server.tls_cert/tls_key, or \
                     server.allow_plain_http = true when a TLS-terminating proxy is in front"
                ),
            ));
        }
        if self.demo.enabled && !addr.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "server.bind",
                format!("is {addr}: demo mode (built-in identity provider) only runs on a loopback address"),
            ));
        }
        Ok(())
    }

    fn validate_database(&self) -> Result<(), ConfigError> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::invalid(
                "database.url",
                "must start with sqlite: (embedded) or postgres:// (production)",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid("database.max_connections", "must be greater than 0"));
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<(), ConfigError> {
        match self.storage.kind {
            StorageKind::Local => {
                if self.storage.path.trim().is_empty() {
                    return Err(ConfigError::invalid("storage.path", "is required when storage.kind = \"local\""));
                }
            }
            StorageKind::S3 => {
                if self.storage.bucket.trim().is_empty() {
                    return Err(ConfigError::invalid("storage.bucket", "is required when storage.kind = \"s3\""));
                }
                if self.storage.allow_http && !self.storage.endpoint.is_empty() {
                    let endpoint = url::Url::parse(&self.storage.endpoint)
                        .map_err(|e| ConfigError::invalid("storage.endpoint", format!("is not a URL: {e}")))?;
                    if endpoint.scheme() == "http" && !is_loopback_host(&endpoint) {
                        return Err(ConfigError::invalid(
                            "storage.allow_http",
                            "only permits plain HTTP to a loopback endpoint",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_oidc(&self) -> Result<(), ConfigError> {
        let oidc = &self.oidc;
        if oidc.issuer_url.is_empty() {
            if !self.demo.enabled {
                return Err(ConfigError::invalid(
                    "oidc.issuer_url",
                    "is required (the URL of your OpenID Connect issuer, e.g. a Keycloak realm)",
                ));
            }
        } else {
            let issuer = url::Url::parse(&oidc.issuer_url)
                .map_err(|e| ConfigError::invalid("oidc.issuer_url", format!("is not a URL: {e}")))?;
            if issuer.scheme() != "https" && !(issuer.scheme() == "http" && is_loopback_host(&issuer)) {
                return Err(ConfigError::invalid("oidc.issuer_url", "must use https (plain http only on loopback)"));
            }
        }
        if oidc.audience.trim().is_empty() {
            return Err(ConfigError::invalid("oidc.audience", "is required (the `aud` access tokens must carry)"));
        }
        if oidc.algorithms.is_empty() {
            return Err(ConfigError::invalid("oidc.algorithms", "must list at least one algorithm"));
        }
        if oidc.leeway_secs > 300 {
            return Err(ConfigError::invalid("oidc.leeway_secs", "must be at most 300 seconds"));
        }
        if !oidc.ca_file.is_empty() && !Path::new(&oidc.ca_file).is_file() {
            return Err(ConfigError::invalid("oidc.ca_file", format!("file `{}` does not exist", oidc.ca_file)));
        }
        let claims = &oidc.claims;
        for (key, pointer) in [
            ("oidc.claims.sub", &claims.sub),
            ("oidc.claims.name", &claims.name),
            ("oidc.claims.roles", &claims.roles),
            ("oidc.claims.country", &claims.country),
            ("oidc.claims.organisation", &claims.organisation),
            ("oidc.claims.clearance", &claims.clearance),
        ] {
            if !pointer.starts_with('/') {
                return Err(ConfigError::invalid(
                    key,
                    format!("`{pointer}` is not a JSON pointer (it must start with `/`, e.g. \"/realm_access/roles\")"),
                ));
            }
        }
        Ok(())
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

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests;

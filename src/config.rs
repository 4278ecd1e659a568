//! Configuration: `config/default.toml` (compiled in) < `config/<profile>.toml` or `--config FILE`
//! < `ANASPOC__SECTION__KEY` environment variables. [`Settings::load`] merges the layers and
//! [`Settings::validate`] refuses anything inconsistent with an error that names the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

use crate::auth::Capability;

/// The built-in defaults, so the binary runs without any file next to it.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// The demo profile, compiled in for the same reason.
pub const DEMO_TOML: &str = include_str!("../config/demo.toml");
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
    pub demo: DemoSettings,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub auto_migrate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub kind: String,
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
    /// A batch of index changes is committed (and searchable) at most this long after its first.
    pub commit_interval_ms: u64,
    /// … or as soon as it holds this many documents.
    pub commit_max_docs: usize,
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
    pub algorithms: Vec<String>,
    pub leeway_secs: u64,
    pub jwks_min_refresh_secs: u64,
    pub jwks_max_age_secs: u64,
    pub ca_file: String,
    /// Sent as the `resource` parameter (RFC 8707) in the browser sign-in, for providers that
    /// issue JWT access tokens per resource; empty: none.
    pub resource: String,
    pub claims: ClaimPaths,
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
    pub roles: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    pub max_upload_bytes: u64,
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
        self.validate_policy()?;
        if self.limits.max_upload_bytes == 0 {
            return Err(ConfigError::invalid("limits.max_upload_bytes", "must be greater than 0"));
        }
        if self.search.commit_interval_ms == 0 || self.search.commit_max_docs == 0 {
            return Err(ConfigError::invalid(
                "search.commit_interval_ms",
                "and search.commit_max_docs must be greater than 0",
            ));
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
        match self.storage.kind.as_str() {
            "local" => {
                if self.storage.path.trim().is_empty() {
                    return Err(ConfigError::invalid("storage.path", "is required when storage.kind = \"local\""));
                }
            }
            "s3" => {
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
            other => {
                return Err(ConfigError::invalid(
                    "storage.kind",
                    format!("is `{other}`; expected \"local\" or \"s3\""),
                ));
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
        for alg in &oidc.algorithms {
            if crate::auth::parse_allowed_algorithm(alg).is_none() {
                return Err(ConfigError::invalid(
                    "oidc.algorithms",
                    format!("`{alg}` is not an accepted asymmetric JWS algorithm"),
                ));
            }
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

    fn validate_policy(&self) -> Result<(), ConfigError> {
        let policy = &self.policy;
        if policy.countries.is_empty() {
            return Err(ConfigError::invalid("policy.countries", "must list at least one country"));
        }
        for country in &policy.countries {
            let well_formed = (2..=3).contains(&country.len()) && country.chars().all(|c| c.is_ascii_uppercase());
            if !well_formed || country == "ALL" {
                return Err(ConfigError::invalid(
                    "policy.countries",
                    format!("`{country}` is not an upper-case country code (ALL is reserved)"),
                ));
            }
        }
        if has_duplicates(&policy.countries) {
            return Err(ConfigError::invalid("policy.countries", "lists a country twice"));
        }
        if policy.levels.is_empty() || policy.levels.len() > 16 {
            return Err(ConfigError::invalid("policy.levels", "must list between 1 and 16 levels, lowest first"));
        }
        if has_duplicates(&policy.levels) {
            return Err(ConfigError::invalid("policy.levels", "lists a level twice"));
        }
        if let Some(level) = policy.levels.iter().find(|l| l.trim().is_empty()) {
            return Err(ConfigError::invalid("policy.levels", format!("`{level}` is not a level name")));
        }
        if !policy.levels.contains(&policy.max_classification) {
            return Err(ConfigError::invalid(
                "policy.max_classification",
                format!("`{}` is not one of policy.levels", policy.max_classification),
            ));
        }
        if let Some(level) = policy.level_names.keys().find(|l| !policy.levels.contains(l)) {
            return Err(ConfigError::invalid("policy.level_names", format!("`{level}` is not one of policy.levels")));
        }
        for (role, capabilities) in &policy.roles {
            for capability in capabilities {
                if capability.parse::<Capability>().is_err() {
                    return Err(ConfigError::invalid(
                        "policy.roles",
                        format!(
                            "role `{role}` grants unknown capability `{capability}` \
                             (known: document:read, document:write, audit:read, admin)"
                        ),
                    ));
                }
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
mod tests {
    use super::*;

    fn defaults() -> Settings {
        let mut settings: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().expect("default.toml parses");
        settings.oidc.issuer_url = "https://idp.example/realms/anaspoc".into();
        settings.oidc.audience = "anaspoc".into();
        settings
    }

    fn invalid_key(settings: &Settings) -> &'static str {
        match settings.validate() {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid configuration, got {other:?}"),
        }
    }

    #[test]
    fn defaults_with_an_issuer_are_valid() {
        defaults().validate().expect("valid");
    }

    #[test]
    fn the_demo_profile_is_valid_without_an_issuer() {
        let settings: Settings =
            Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(DEMO_TOML)).extract().expect("demo parses");
        assert!(settings.demo.enabled);
        settings.validate().expect("valid");
    }

    #[test]
    fn serve_without_an_issuer_names_the_key() {
        let mut settings = defaults();
        settings.oidc.issuer_url.clear();
        assert_eq!(invalid_key(&settings), "oidc.issuer_url");
    }

    #[test]
    fn issuer_must_be_https_except_on_loopback() {
        let mut settings = defaults();
        settings.oidc.issuer_url = "http://idp.example/realms/x".into();
        assert_eq!(invalid_key(&settings), "oidc.issuer_url");
        settings.oidc.issuer_url = "http://127.0.0.1:9090".into();
        settings.validate().expect("loopback http is fine for tests");
    }

    #[test]
    fn each_broken_key_is_named() {
        type Breakage = Box<dyn Fn(&mut Settings)>;
        let cases: Vec<(&str, Breakage)> = vec![
            ("server.bind", Box::new(|s| s.server.bind = "localhost".into())),
            ("server.public_url", Box::new(|s| s.server.public_url = "not a url".into())),
            ("server.tls_cert", Box::new(|s| s.server.tls_key = "/etc/key.pem".into())),
            ("database.url", Box::new(|s| s.database.url = "mysql://x".into())),
            ("storage.kind", Box::new(|s| s.storage.kind = "ftp".into())),
            ("storage.bucket", Box::new(|s| s.storage.kind = "s3".into())),
            ("oidc.audience", Box::new(|s| s.oidc.audience = " ".into())),
            ("oidc.algorithms", Box::new(|s| s.oidc.algorithms = vec!["HS256".into()])),
            ("oidc.algorithms", Box::new(|s| s.oidc.algorithms = vec!["none".into()])),
            ("oidc.claims.roles", Box::new(|s| s.oidc.claims.roles = "realm_access.roles".into())),
            ("policy.countries", Box::new(|s| s.policy.countries = vec!["al".into()])),
            ("policy.countries", Box::new(|s| s.policy.countries.push("AL".into()))),
            ("policy.levels", Box::new(|s| s.policy.levels.push("SENSITIVE".into()))),
            ("policy.max_classification", Box::new(|s| s.policy.max_classification = "SECRET".into())),
            (
                "policy.roles",
                Box::new(|s| {
                    s.policy.roles.insert("analyst".into(), vec!["document:delete".into()]);
                }),
            ),
            ("limits.max_upload_bytes", Box::new(|s| s.limits.max_upload_bytes = 0)),
        ];
        for (key, breakage) in cases {
            let mut settings = defaults();
            breakage(&mut settings);
            assert_eq!(invalid_key(&settings), key, "breaking {key}");
        }
    }

    #[test]
    fn plain_http_off_loopback_is_refused_unless_allowed() {
        let mut settings = defaults();
        settings.server.bind = "0.0.0.0:8080".into();
        assert_eq!(invalid_key(&settings), "server.bind");
        settings.server.allow_plain_http = true;
        settings.validate().expect("explicitly allowed behind a TLS proxy");
    }

    #[test]
    fn demo_mode_refuses_a_non_loopback_bind_even_when_allowed() {
        let mut settings = defaults();
        settings.demo.enabled = true;
        settings.server.bind = "0.0.0.0:8080".into();
        settings.server.allow_plain_http = true;
        let err = settings.validate().expect_err("refused");
        assert!(err.to_string().contains("demo mode"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn environment_overrides_files_and_unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file("config/staging.toml", "[database]\nurl = \"postgres://file@db/anaspoc\"\n")?;
            jail.set_env("ANASPOC__DATABASE__MAX_CONNECTIONS", "3");
            let settings = Settings::load(&Profile::Named("staging".into())).expect("loads");
            assert_eq!(settings.database.url, "postgres://file@db/anaspoc");
            assert_eq!(settings.database.max_connections, 3);

            jail.set_env("ANASPOC__DATABASE__URL", "postgres://env@db/anaspoc");
            let settings = Settings::load(&Profile::Named("staging".into())).expect("loads");
            assert_eq!(settings.database.url, "postgres://env@db/anaspoc");

            jail.set_env("ANASPOC__DATABASE__URLL", "typo");
            let err = Settings::load(&Profile::Named("staging".into())).expect_err("typo refused");
            assert!(err.to_string().contains("urll"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Settings::load(&Profile::File("/nonexistent/anaspoc.toml".into())).expect_err("missing");
        assert!(matches!(err, ConfigError::MissingFile { .. }));
    }

    #[test]
    fn the_client_secret_is_never_serialised() {
        let mut settings = defaults();
        settings.oidc.client_secret = Secret("s3cr3t".into());
        let rendered = serde_json::to_string(&settings).expect("serialises");
        assert!(!rendered.contains("s3cr3t"));
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }
}

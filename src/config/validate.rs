//! Every rule a running server relies on, checked once at start: the error names the key and
//! what is wrong with it.

use super::*;

impl Settings {
    /// Every rule a running server relies on; the error names the key and what is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_database()?;
        self.validate_storage()?;
        self.validate_oidc()?;
        self.policy.compile()?;
        self.audit.alerts.rules().map_err(|(key, problem)| ConfigError::invalid(key, problem))?;
        if self.crypto.enabled && self.crypto.master_key.expose().is_empty() && self.crypto.master_key_file.is_empty() {
            return Err(ConfigError::invalid(
                "crypto.master_key_file",
                "encryption needs the master key: a file (mode 0600) or ANASPOC__CRYPTO__MASTER_KEY",
            ));
        }
        if self.audit.alerts.check_interval_secs == 0 {
            return Err(ConfigError::invalid("audit.alerts.check_interval_secs", "must be greater than 0"));
        }
        if !(1..=10_000).contains(&self.import.batch_size) {
            return Err(ConfigError::invalid("import.batch_size", "must be between 1 and 10000"));
        }
        if self.import.parallel_files == 0 {
            return Err(ConfigError::invalid("import.parallel_files", "must be greater than 0"));
        }
        if self.limits.max_upload_bytes == 0 {
            return Err(ConfigError::invalid("limits.max_upload_bytes", "must be greater than 0"));
        }
        for (key, rate) in [
            ("limits.auth_failures_per_minute", self.limits.auth_failures_per_minute),
            ("limits.searches_per_minute", self.limits.searches_per_minute),
            ("limits.downloads_per_minute", self.limits.downloads_per_minute),
            ("limits.uploads_per_minute", self.limits.uploads_per_minute),
            ("limits.requests_per_minute", self.limits.requests_per_minute),
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
            ("database.acquire_timeout_ms", self.database.acquire_timeout_ms),
            ("database.statement_timeout_ms", self.database.statement_timeout_ms),
            ("storage.connect_timeout_ms", self.storage.connect_timeout_ms),
            ("storage.read_timeout_ms", self.storage.read_timeout_ms),
            ("storage.retry_timeout_ms", self.storage.retry_timeout_ms),
            ("storage.breaker_failures", u64::from(self.storage.breaker_failures)),
            ("storage.breaker_cooldown_ms", self.storage.breaker_cooldown_ms),
            ("oidc.connect_timeout_ms", self.oidc.connect_timeout_ms),
            ("oidc.request_timeout_ms", self.oidc.request_timeout_ms),
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
        if let Some(dir) = self.ingest.ocr_data_dir()
            && !dir.is_dir()
        {
            return Err(ConfigError::invalid("ingest.ocr_data_dir", "must be a directory of tesseract language packs"));
        }
        if self.audit.signing_key_file.trim().is_empty() {
            return Err(ConfigError::invalid("audit.signing_key_file", "must name a file"));
        }
        if self.log.level.trim().is_empty() {
            return Err(ConfigError::invalid("log.level", "must not be empty"));
        }
        Ok(())
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

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

//! Configuration tests: defaults, layering, and every broken key named.

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
        ("storage.bucket", Box::new(|s| s.storage.kind = StorageKind::S3)),
        ("oidc.audience", Box::new(|s| s.oidc.audience = " ".into())),
        ("oidc.algorithms", Box::new(|s| s.oidc.algorithms.clear())),
        ("oidc.claims.roles", Box::new(|s| s.oidc.claims.roles = "realm_access.roles".into())),
        ("policy.countries", Box::new(|s| s.policy.countries = vec!["al".into()])),
        ("policy.countries", Box::new(|s| s.policy.countries.push("AL".into()))),
        ("policy.levels", Box::new(|s| s.policy.levels.push("SENSITIVE".into()))),
        ("policy.max_classification", Box::new(|s| s.policy.max_classification = "SECRET".into())),
        ("policy.level_names", Box::new(|s| _ = s.policy.level_names.insert("SECRET".into(), "Secret".into()))),
        ("limits.max_upload_bytes", Box::new(|s| s.limits.max_upload_bytes = 0)),
    ];
    for (key, breakage) in cases {
        let mut settings = defaults();
        breakage(&mut settings);
        assert_eq!(invalid_key(&settings), key, "breaking {key}");
    }
}

/// Values that cannot be represented at all are refused while loading, naming the key.
#[test]
fn unrepresentable_values_are_refused_when_loading() {
    for (fragment, key) in [
        ("[storage]\nkind = \"ftp\"\n", "storage.kind"),
        ("[oidc]\nalgorithms = [\"HS256\"]\n", "oidc.algorithms"),
        ("[oidc]\nalgorithms = [\"none\"]\n", "oidc.algorithms"),
        ("[policy.roles]\nanalyst = [\"document:delete\"]\n", "policy.roles"),
    ] {
        let loaded: Result<Settings, _> =
            Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(fragment)).extract();
        let error = loaded.expect_err(fragment).to_string();
        assert!(error.contains(key), "{fragment}: {error}");
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

#[test]
fn an_ocr_data_dir_that_is_no_directory_is_named() {
    let mut settings = defaults();
    settings.ingest.ocr_data_dir = "/nonexistent/tessdata".into();
    assert_eq!(invalid_key(&settings), "ingest.ocr_data_dir");
    settings.ingest.ocr_data_dir = std::env::temp_dir().display().to_string();
    settings.validate().expect("a directory");
}

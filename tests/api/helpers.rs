//! Test harness: start the real application on port 0 with embedded defaults in a temporary
//! directory, talk to it over HTTP, and reach the real peers the environment names.

use std::sync::Arc;

use anaspoc::auth::demo_idp::DemoIdp;
use anaspoc::config::{Profile, Settings};
use anaspoc::startup::Application;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sea_orm::DatabaseConnection;
use serde_json::Value;

/// Environment variables that switch on tests against real peers.
pub const OIDC_ISSUER_VAR: &str = "ANASPOC_TEST_OIDC_ISSUER";
pub const DATABASE_URL_VAR: &str = "ANASPOC_TEST_DATABASE_URL";
/// S3 endpoint of the S3-compatible peer (bucket in `ANASPOC_TEST_S3_BUCKET`, credentials in
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
pub const S3_ENDPOINT_VAR: &str = "ANASPOC_TEST_S3_ENDPOINT";
pub const S3_BUCKET_VAR: &str = "ANASPOC_TEST_S3_BUCKET";

/// Where a test app keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and the local filesystem (the embedded defaults).
    Embedded,
    /// PostgreSQL and the S3-compatible peer (production's kinds of service).
    Production,
}

/// Run a test body once per backend: `on_both_backends!(name)` turns `async fn name(Backend)`
/// into `name::embedded` and `name::production` tests. The production one needs the
/// PostgreSQL and S3 peers (skipped without them unless `ANASPOC_TEST_REQUIRE_PEERS=1`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name($crate::helpers::Backend::Embedded).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn production() {
                if $crate::helpers::production_peers().is_some() {
                    super::$name($crate::helpers::Backend::Production).await
                }
            }
        }
    )*};
}

/// PostgreSQL admin URL, S3 endpoint and bucket, if all are configured (with the S3 credentials
/// the object store reads from the environment).
pub fn production_peers() -> Option<(String, String, String)> {
    let database = peer(DATABASE_URL_VAR);
    let endpoint = peer(S3_ENDPOINT_VAR);
    let bucket = peer(S3_BUCKET_VAR);
    let credentials = peer("AWS_ACCESS_KEY_ID").and(peer("AWS_SECRET_ACCESS_KEY"));
    credentials?;
    Some((database?, endpoint?, bucket?))
}

/// The peer's URL from `var`, or `None` to skip. With `ANASPOC_TEST_REQUIRE_PEERS=1` (CI) a
/// missing peer fails the test instead of skipping it.
pub fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
        _ => {
            assert!(
                std::env::var("ANASPOC_TEST_REQUIRE_PEERS").as_deref() != Ok("1"),
                "{var} is not set, but ANASPOC_TEST_REQUIRE_PEERS=1 requires this peer"
            );
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

/// Settings for a test instance: the demo profile (built-in identity provider), port 0,
/// everything under `dir`, quiet logs, one worker.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::load(&Profile::Named("demo".into())).expect("demo settings load");
    settings.demo.enabled = true;
    // Tests start empty; tests/api/demo.rs starts the demo with its sample corpus.
    settings.demo.seed = false;
    // The built-in thresholds, not the demo's (whose working hours depend on the clock).
    settings.audit.alerts = anaspoc::audit::AlertSettings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 1;
    settings.database.url = format!("sqlite://{}/anaspoc.db?mode=rwc", dir.display());
    settings.storage.path = dir.join("objects").display().to_string();
    settings.search.index_dir = dir.join("index").display().to_string();
    settings.audit.signing_key_file = dir.join("audit-signing-key.pem").display().to_string();
    // Encrypted at rest, as the demo: the keyring and the master key beside (made here, as an
    // operator would with `anaspoc keys master-key`, so that tests outside demo mode have it).
    assert!(settings.crypto.enabled, "the demo profile encrypts at rest");
    settings.crypto.keyring_file = dir.join("keyring.json").display().to_string();
    let master_key = dir.join("master.key");
    if !master_key.exists() {
        anaspoc::crypto::keyring::MasterKey::create_file(&master_key).expect("master key");
    }
    settings.crypto.master_key_file = master_key.display().to_string();
    // The test binary is not `anaspoc`: point the extraction sandbox at the real one.
    settings.ingest.extractor = env!("CARGO_BIN_EXE_anaspoc").to_owned();
    settings.oidc.jwks_min_refresh_secs = 0;
    settings.log.level = std::env::var("ANASPOC_TEST_LOG").unwrap_or_else(|_| "error".into());
    settings
}

/// What another process needs to share `settings`' data: the database, the object store, the
/// keyring and master key of encryption at rest, the audit signing key (`ANASPOC__…` variables).
pub fn shared_env(settings: &Settings) -> Vec<(&'static str, String)> {
    let storage = &settings.storage;
    let crypto = &settings.crypto;
    let mut env = vec![
        ("ANASPOC__DATABASE__URL", settings.database.url.clone()),
        ("ANASPOC__AUDIT__SIGNING_KEY_FILE", settings.audit.signing_key_file.clone()),
        ("ANASPOC__CRYPTO__ENABLED", crypto.enabled.to_string()),
        ("ANASPOC__CRYPTO__KEYRING_FILE", crypto.keyring_file.clone()),
        ("ANASPOC__CRYPTO__MASTER_KEY_FILE", crypto.master_key_file.clone()),
        ("ANASPOC__CRYPTO__MASTER_KEY", crypto.master_key.expose().to_owned()),
    ];
    if storage.kind == anaspoc::config::StorageKind::S3 {
        env.extend([
            ("ANASPOC__STORAGE__KIND", "s3".to_owned()),
            ("ANASPOC__STORAGE__ENDPOINT", storage.endpoint.clone()),
            ("ANASPOC__STORAGE__BUCKET", storage.bucket.clone()),
            ("ANASPOC__STORAGE__PREFIX", storage.prefix.clone()),
            ("ANASPOC__STORAGE__ALLOW_HTTP", storage.allow_http.to_string()),
        ]);
    } else {
        env.push(("ANASPOC__STORAGE__PATH", storage.path.clone()));
    }
    env
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub demo_idp: Option<Arc<DemoIdp>>,
    pub settings: Settings,
    /// This instance's index position in the change feed (and a way to hold it back).
    pub feed: Arc<anaspoc::search::FeedState>,
    handle: actix_web::dev::ServerHandle,
    database: Option<crate::database::PgDatabase>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Embedded defaults with the built-in identity provider.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Embedded defaults, adjusted by `configure` before start.
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_on_with(Backend::Embedded, configure).await
    }

    /// On `backend` (the production peers must be configured for [`Backend::Production`]).
    pub async fn spawn_on(backend: Backend) -> Self {
        Self::spawn_on_with(backend, |_| {}).await
    }

    pub async fn spawn_on_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(dir.path());
        let mut database = None;
        if backend == Backend::Production {
            let (admin_url, endpoint, bucket) = production_peers().expect("production peers configured");
            let fresh = crate::database::PgDatabase::create(&admin_url).await;
            settings.database.url = fresh.url.clone();
            database = Some(fresh);
            settings.storage.kind = anaspoc::config::StorageKind::S3;
            settings.storage.endpoint = endpoint;
            settings.storage.bucket = bucket;
            settings.storage.allow_http = true;
            // Tests share the bucket; each keeps to its own prefix.
            settings.storage.prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        }
        configure(&mut settings);
        let key = std::path::Path::new(&settings.audit.signing_key_file);
        if settings.database.url.starts_with("postgres") && !key.exists() {
            // Replicas on PostgreSQL sign with one key made beforehand (`anaspoc audit keygen`).
            anaspoc::audit::SigningKey::create(key).expect("signing key");
        }
        Self::start(settings, database, dir).await
    }

    async fn start(settings: Settings, database: Option<crate::database::PgDatabase>, dir: tempfile::TempDir) -> Self {
        anaspoc::telemetry::init(&settings.log);
        let app = Application::build(settings.clone()).await.expect("application starts");
        let base = app.public_url().to_owned();
        let db = app.db().clone();
        let demo_idp = app.demo_idp();
        let feed = app.feed();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        Self { base, client: client(), db, demo_idp, settings, feed, handle, database, _dir: dir }
    }

    /// Another replica of this instance: the same database, object store, signing key and
    /// identity provider (this one's built-in provider), its own search index.
    pub async fn replica(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = self.replica_settings(dir.path());
        configure(&mut settings);
        Self::start(settings, None, dir).await
    }

    /// The settings of a replica of this instance with its index under `dir`.
    pub fn replica_settings(&self, dir: &std::path::Path) -> Settings {
        let mut settings = self.settings.clone();
        settings.server.bind = "127.0.0.1:0".into();
        settings.search.index_dir = dir.join("index").display().to_string();
        if settings.oidc.issuer_url.is_empty() {
            settings.oidc.issuer_url = format!("{}{}", self.base, anaspoc::auth::demo_idp::MOUNT_PATH);
        }
        settings
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn idp(&self) -> &DemoIdp {
        self.demo_idp.as_deref().expect("demo identity provider running")
    }

    /// A token for a demo persona, from the built-in provider's token endpoint over HTTP.
    pub async fn token(&self, persona: &str) -> String {
        let response = self
            .client
            .post(self.url("/demo-idp/token"))
            .form(&[("grant_type", "password"), ("username", persona)])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200, "token for {persona}");
        let body: Value = response.json().await.expect("token json");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    /// A token of the built-in provider for someone who is not a persona.
    pub fn custom_token(&self, sub: &str, org: &str, country: &str, clearance: &str, roles: &[&str]) -> String {
        let idp = self.idp();
        let mut claims = idp.claims_for(&anaspoc::auth::demo_idp::PERSONAS[0]);
        claims["sub"] = serde_json::json!(sub);
        claims["organisation"] = serde_json::json!(org);
        claims["country"] = serde_json::json!(country);
        claims["clearance"] = serde_json::json!(clearance);
        claims["realm_access"]["roles"] = serde_json::json!(roles);
        idp.sign(&claims).expect("sign")
    }

    /// GET `path` with `token` as bearer.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
        if let Some(database) = self.database.take() {
            database.drop_in_background();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("anaspoc-tests")
        .build()
        .expect("client")
}

/// The claims of a JWT, without verifying it (to build forged variants of a real token).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json claims")
}

/// The SubjectPublicKeyInfo PEM of an RSA private key in PKCS#8 PEM (for the HS256 confusion).
pub fn public_key_pem(private_pem: &str) -> String {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let body: String = private_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("pem body");
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).expect("pkcs8 rsa key");
    let spki = pair.public_key().as_der().expect("spki");
    let encoded = STANDARD.encode(spki.as_ref());
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("ascii"));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

/// Assert a 401 problem response that serves nothing but the problem.
pub async fn assert_refused(response: reqwest::Response, case: &str) {
    let status = response.status();
    let challenge =
        response.headers().get("www-authenticate").map(|v| v.to_str().expect("ascii").to_owned()).unwrap_or_default();
    let content_type = response.headers().get("content-type").cloned();
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{case}: body is not JSON: {e}"));
    assert_eq!(status, 401, "{case}: {body}");
    assert!(challenge.starts_with("Bearer"), "{case}: WWW-Authenticate is `{challenge}`");
    assert_eq!(content_type.as_ref().and_then(|v| v.to_str().ok()), Some("application/problem+json"), "{case}");
    let kind = body["type"].as_str().unwrap_or_default();
    assert!(
        kind == "urn:anaspoc:problem:invalid-token" || kind == "urn:anaspoc:problem:unauthenticated",
        "{case}: {body}"
    );
    if kind.ends_with("invalid-token") {
        assert!(challenge.contains("error=\"invalid_token\""), "{case}: {challenge}");
    }
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["detail", "status", "title", "type"], "{case}: only the problem is served");
}

//! Build the application from configuration. `anaspoc serve`, `anaspoc demo` and the integration
//! tests all start the platform through [`Application::build`].

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use sea_orm::DatabaseConnection;
use tracing_actix_web::TracingLogger;

use crate::audit::{self, SigningKey, Trail};
use crate::auth::demo_idp::{self, DemoIdp};
use crate::auth::{
    Authenticator, BrowserSignIn, ClaimMapper, ClientSettings, Denials, Directory, Sessions, TokenValidator, discovery,
};
use crate::caller::TrustedProxies;
use crate::config::{ConfigError, Settings};
use crate::health::{Probes, Readiness};
use crate::ingest::ocr_languages::OcrLanguages;
use crate::ingest::sandbox::Sandbox;
use crate::ingest::{Pipeline, Trigger};
use crate::metrics::{self, Metrics};
use crate::notify;
use crate::search::{self, Follower, QueryCaps, SearchIndex};
use crate::storage::Storage;
use crate::throttle::Throttle;
use crate::{api, db, documents, error};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    IdentityProvider(#[from] discovery::DiscoveryError),
    #[error(transparent)]
    DemoSeed(#[from] crate::demo::SeedError),
    #[error("demo identity provider: {0}")]
    DemoIdp(#[from] demo_idp::KeyError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error("extraction sandbox: {0}")]
    Sandbox(#[from] crate::ingest::sandbox::SandboxError),
    #[error("web interface: {0}")]
    Web(#[from] crate::web::WebError),
    #[error(transparent)]
    Digests(#[from] notify::DigestConfigError),
    #[error(
        "the database holds objects encrypted at rest, which this replica could not read: [crypto] is \
         off here. Set [crypto] enabled = true with the master key and keyring of the other replicas"
    )]
    EncryptionOff,
}

/// Choose aws-lc-rs as the process-wide rustls provider (the only one compiled in). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub struct Application {
    server: Server,
    local_addr: SocketAddr,
    public_url: String,
    db: DatabaseConnection,
    validator: Arc<TokenValidator>,
    demo_idp: Option<web::Data<DemoIdp>>,
    feed: Arc<search::FeedState>,
    readiness: Arc<Readiness>,
}

impl Application {
    /// Validate the settings, bind, connect and migrate the database, wire the services, and
    /// return a server ready to be driven by [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        settings.validate()?;
        install_crypto_provider();

        let addr = settings.bind_addr()?;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr: addr.to_string(), source })?;
        let local_addr =
            listener.local_addr().map_err(|source| StartupError::Bind { addr: addr.to_string(), source })?;
        let public_url = if addr.port() == 0 {
            let scheme = if settings.tls_enabled() { "https" } else { "http" };
            format!("{scheme}://{local_addr}")
        } else {
            settings.server.public_url.trim_end_matches('/').to_owned()
        };

        let db = db::connect(&settings.database).await?;
        if settings.database.auto_migrate {
            db::migrate(&db).await?;
        }

        let demo_idp = if settings.demo.enabled {
            let issuer = format!("{public_url}{}", demo_idp::MOUNT_PATH);
            tracing::warn!(
                %issuer,
                "DEMO MODE: the built-in development identity provider issues tokens to anyone on this \
                 machine. Never expose this instance beyond loopback or load real documents into it."
            );
            Some(web::Data::new(DemoIdp::new(issuer, settings.oidc.audience.clone())?))
        } else {
            None
        };
        let issuer = match (&demo_idp, settings.oidc.issuer_url.is_empty()) {
            (Some(idp), true) => idp.issuer().to_owned(),
            _ => settings.oidc.issuer_url.trim_end_matches('/').to_owned(),
        };
        let policy = Arc::new(settings.policy.compile()?);
        let mapper = ClaimMapper::new(settings.oidc.claims.clone(), &policy, settings.policy.roles.clone());
        let http = discovery::identity_provider_client(&settings.oidc)?;
        let validator = Arc::new(TokenValidator::new(&settings.oidc, issuer, http.clone(), mapper));
        let exposure = match settings.metrics.token.expose() {
            // Demo mode hands tokens to anyone on this machine; its metrics need none either.
            "" if settings.demo.enabled => metrics::Exposure::Open,
            "" => metrics::Exposure::Closed,
            token => metrics::Exposure::Bearer(token.to_owned()),
        };
        let metrics = web::Data::new(Metrics::exposed(exposure));
        let crypto = &settings.crypto;
        let master_key_file = Path::new(&crypto.master_key_file);
        if settings.demo.enabled && crypto.enabled && crypto.master_key.expose().is_empty() && !master_key_file.exists()
        {
            // The demo makes its own master key, beside its data; a deployment is given one.
            crate::crypto::keyring::MasterKey::create_file(master_key_file)
                .map_err(|e| crate::storage::StorageError::Config(e.to_string()))?;
            tracing::info!(file = %master_key_file.display(), "demo: made a master key for encryption at rest");
        }
        let storage = Storage::from_config(&settings)?;
        if !crypto.enabled && db::plaintext::any_sealed(&db).await.map_err(db::DbError::from)? {
            return Err(StartupError::EncryptionOff);
        }
        let audit_log = audit::Log::with_metrics(db.clone(), &metrics).start_group_commit();
        // This replica's index follows the database's change feed; extraction is a job done
        // once per cluster by whichever replica runs workers.
        let search_index = SearchIndex::open(Path::new(&settings.search.index_dir))?;
        let follower =
            Follower::new(db.clone(), storage.clone(), policy.clone(), search_index.clone(), &settings.search)?;
        let feed = follower.state();
        let feed_state = feed.clone();
        feed.register_metrics(&metrics);
        follower.start().await?;
        let trigger = Trigger::new(feed.clone());
        let sandbox = Sandbox::from_settings(&settings.ingest)?;
        // The OCR languages matter where extraction runs: on replicas with workers.
        let ocr = settings.ingest.workers.then(|| ocr_languages(&settings.ingest));
        if let Some(ocr) = &ocr {
            sandbox.check().await?;
            Arc::new(Pipeline::new(
                db.clone(),
                storage.clone(),
                sandbox,
                ocr.clone(),
                trigger.clone(),
                settings.ingest.parallel_extractions,
            ))
            .spawn();
        }

        // Rate limits, and refused sign-ins audited without letting a flood grow the trail.
        // Replicas on PostgreSQL share their buckets there; one process keeps them in memory.
        let throttle = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => Throttle::shared(&settings.limits, db.clone()),
            _ => Throttle::new(&settings.limits),
        };
        throttle.spawn_housekeeping();
        metrics.register("throttled_requests", "Requests refused by a rate limit ([limits])", throttle.refused());
        let denials = Arc::new(Denials::new(
            audit_log.clone(),
            Duration::from_secs(settings.limits.denied_audit_window_secs),
            settings.limits.denied_audit_individually,
        ));
        denials.clone().spawn_flush();

        // What handlers get: services that take the caller and decide, never raw handles.
        let search = search::Service::new(
            search_index.clone(),
            db.clone(),
            audit_log.clone(),
            policy.clone(),
            throttle.clone(),
            QueryCaps::from_settings(&settings.search),
            feed.clone(),
        );
        metrics.register(
            "search_dropped_hits",
            "Search hits the index admitted but the database re-check refused",
            search.dropped_hits(),
        );
        let search = web::Data::new(search);
        let documents = web::Data::new(documents::Service::new(
            db.clone(),
            storage.clone(),
            audit_log.clone(),
            trigger,
            policy.clone(),
            settings.limits.max_upload_bytes,
            throttle.clone(),
        ));
        if settings.demo.enabled && settings.demo.seed {
            crate::demo::seed(&settings, &policy, &db, &documents).await?;
        }
        notify::Alerts::new(
            db.clone(),
            search_index.clone(),
            feed.clone(),
            policy.clone(),
            QueryCaps::from_settings(&settings.search),
        )
        .spawn();
        if let Some(digests) =
            notify::Digests::from_settings(&settings.notify, &public_url, db.clone(), policy.clone())?
        {
            digests.spawn();
        }
        let notify = web::Data::new(notify::Service::new(
            db.clone(),
            audit_log.clone(),
            policy.clone(),
            QueryCaps::from_settings(&settings.search),
        ));
        let signing_key =
            Arc::new(SigningKey::for_database(Path::new(&settings.audit.signing_key_file), &settings.database.url)?);
        let rules = settings
            .audit
            .alerts
            .rules()
            .map_err(|(key, problem)| StartupError::Config(ConfigError::Invalid { key, problem }))?;
        audit::anomalies::spawn_metrics(
            Trail::new(db.clone()),
            rules.clone(),
            &metrics,
            settings.audit.alerts.check_interval_secs,
        );
        let reader = web::Data::new(audit::Reader::new(Trail::new(db.clone()), audit_log.clone(), signing_key, rules));
        let authenticator = web::Data::new(Authenticator::new(validator.clone(), denials.clone(), throttle));
        let directory = Arc::new(Directory::new(db.clone(), audit_log.clone()));
        let sessions = Arc::new(Sessions::new(db.clone(), validator.clone()));
        crate::auth::spawn_purge(db.clone());
        let sign_in = web::Data::new(BrowserSignIn::new(
            ClientSettings {
                issuer: validator.issuer().to_owned(),
                client_id: settings.oidc.client_id.clone(),
                client_secret: Some(settings.oidc.client_secret.expose().to_owned()).filter(|s| !s.is_empty()),
                resource: settings.oidc.resource.clone(),
                public_url: public_url.clone(),
                session_hours: settings.web.session_hours,
                discovery_max_age: Duration::from_secs(settings.oidc.jwks_max_age_secs),
                discovery_min_refresh: Duration::from_secs(settings.oidc.jwks_min_refresh_secs),
            },
            http,
            db.clone(),
            validator.clone(),
            sessions.clone(),
            directory.clone(),
            denials,
        ));
        let readiness = Arc::new(Readiness::new(Probes {
            db: db.clone(),
            storage,
            validator: validator.clone(),
            feed,
            max_lag: Duration::from_secs(settings.search.max_lag_secs),
            max_lag_changes: settings.search.max_lag_changes,
            interval: Duration::from_millis(settings.health.check_interval_ms),
            timeout: Duration::from_millis(settings.health.check_timeout_ms),
            ocr,
            plaintext: settings.crypto.enabled.then(|| crate::health::PlaintextGauge::registered(&metrics)),
        }));
        let readiness_checks = readiness.clone();
        let readiness = web::Data::from(readiness);
        // Behind a TLS-terminating proxy the public URL is https although this process speaks
        // plain HTTP: browsers see HTTPS, so cookies are Secure and HSTS is sent.
        let https = settings.tls_enabled() || url::Url::parse(&public_url).is_ok_and(|url| url.scheme() == "https");
        let web_state = web::Data::new(crate::web::WebState::new(policy.clone(), https)?);
        let trusted_proxies = web::Data::new(TrustedProxies::new(
            settings.server.trusted_proxies.clone(),
            settings.server.forwarded_header,
        ));
        let directory = web::Data::from(directory);
        let sessions = web::Data::from(sessions);
        let spec = web::Data::new(api::openapi::Spec::new(&public_url, validator.issuer(), &policy));

        let server = {
            let demo_idp = demo_idp.clone();
            let http = HttpServer::new(move || {
                let mut app = App::new()
                    .app_data(trusted_proxies.clone())
                    .app_data(authenticator.clone())
                    .app_data(directory.clone())
                    .app_data(sessions.clone())
                    .app_data(sign_in.clone())
                    .app_data(readiness.clone())
                    .app_data(metrics.clone())
                    .app_data(documents.clone())
                    .app_data(search.clone())
                    .app_data(notify.clone())
                    .app_data(reader.clone())
                    .app_data(web_state.clone())
                    .app_data(spec.clone())
                    .app_data(error::query_config())
                    .wrap(from_fn(metrics::record))
                    .wrap(crate::web::security_headers(https))
                    .wrap(from_fn(request_id_header))
                    .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                    .configure(api::operational)
                    .configure(api::v1);
                if let Some(idp) = &demo_idp {
                    app = app.service(DemoIdp::scope(idp.clone(), demo_idp::MOUNT_PATH));
                }
                let app = app.configure(crate::web::routes);
                app.default_service(web::to(error::route_not_found))
            });
            // Streamed responses are written in several packets: without TCP_NODELAY, Nagle and
            // delayed ACKs add ~40 ms to every download.
            let http = http.tcp_nodelay(true);
            let http = if settings.server.workers > 0 { http.workers(settings.server.workers) } else { http };
            let http = if settings.tls_enabled() {
                let tls = tls_config(&settings.server.tls_cert, &settings.server.tls_key)?;
                http.listen_rustls_0_23(listener, tls)
            } else {
                http.listen(listener)
            };
            http.map_err(|source| StartupError::Bind { addr: addr.to_string(), source })?.disable_signals().run()
        };
        tracing::info!(%local_addr, %public_url, tls = settings.tls_enabled(), "anaspoc listening");
        Ok(Self {
            server,
            local_addr,
            public_url,
            db,
            validator,
            demo_idp,
            feed: feed_state,
            readiness: readiness_checks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Base URL of the platform, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn validator(&self) -> Arc<TokenValidator> {
        self.validator.clone()
    }

    /// The built-in identity provider, in demo mode.
    pub fn demo_idp(&self) -> Option<Arc<DemoIdp>> {
        self.demo_idp.clone().map(web::Data::into_inner)
    }

    /// How far this replica's index has followed the change feed (and a way to hold it).
    pub fn feed(&self) -> Arc<search::FeedState> {
        self.feed.clone()
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serve until the server is stopped through its handle.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Readiness checks start with serving: in demo mode the identity provider is this server.
        self.readiness.clone().spawn();
        let validator = self.validator.clone();
        // Load the issuer's keys early so the first request does not pay for discovery; failures
        // are retried on demand (and reported by /readyz).
        tokio::spawn(async move {
            if let Err(error) = validator.keys().ensure_loaded().await {
                tracing::warn!(%error, issuer = validator.issuer(), "issuer keys not loaded yet");
            }
        });
        self.server.await
    }
}

/// Echo the request id of the tracing span as `X-Request-Id`, so a user can quote it.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let request_id = req.extensions().get::<tracing_actix_web::RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(id) = request_id
        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id)
    {
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

fn tls_config(cert_path: &str, key_path: &str) -> Result<rustls::ServerConfig, StartupError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| StartupError::Tls(format!("reading server.tls_cert `{cert_path}`: {e}")))?;
    if certs.is_empty() {
        return Err(StartupError::Tls(format!("server.tls_cert `{cert_path}` holds no certificate")));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| StartupError::Tls(format!("reading server.tls_key `{key_path}`: {e}")))?;
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartupError::Tls(format!("server.tls_cert/tls_key: {e}")))
}

/// The OCR language packs installed, logged at start-up: a missing pack of the network is a
/// warning (its documents are read with the closest installed one, and noted as such).
fn ocr_languages(settings: &crate::config::IngestSettings) -> OcrLanguages {
    let ocr = OcrLanguages::detect(settings.ocr_data_dir());
    let missing = ocr.missing();
    tracing::info!(available = ?ocr.available(), "OCR languages");
    if !missing.is_empty() {
        tracing::warn!(
            ?missing,
            "OCR language packs of the network are missing: documents in those languages are read with the closest \
             installed pack, less accurately (Debian: apt-get install tesseract-ocr-<pack>)"
        );
    }
    ocr
}

//! OpenID Connect discovery through the `openidconnect` crate, with its HTTP calls made by the
//! project's own reqwest client (one TLS stack, one crypto provider).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::core::CoreProviderMetadata;
use openidconnect::{HttpRequest, HttpResponse, IssuerUrl};

use crate::config::OidcSettings;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("issuer URL `{0}` is not valid")]
    IssuerUrl(String),
    #[error("discovery of {issuer} failed: {reason}")]
    Failed { issuer: String, reason: String },
    #[error("HTTP client for the identity provider: {0}")]
    Client(String),
}

/// Transport errors of [`oidc_http_client`].
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    #[error("invalid HTTP response: {0}")]
    Response(String),
}

/// The HTTP client used towards the identity provider: bounded (`oidc.connect_timeout_ms`,
/// `oidc.request_timeout_ms`), no redirects (a
/// redirected discovery or JWKS fetch would let a third party supply keys), optional private CA.
pub fn identity_provider_client(oidc: &OidcSettings) -> Result<reqwest::Client, DiscoveryError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_millis(oidc.connect_timeout_ms))
        .timeout(Duration::from_millis(oidc.request_timeout_ms))
        .user_agent(concat!("anaspoc/", env!("CARGO_PKG_VERSION")));
    if !oidc.ca_file.is_empty() {
        let pem =
            std::fs::read(&oidc.ca_file).map_err(|e| DiscoveryError::Client(format!("reading oidc.ca_file: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| DiscoveryError::Client(format!("parsing oidc.ca_file: {e}")))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| DiscoveryError::Client(e.to_string()))
}

type HttpFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send>>;

/// Adapts a reqwest client to openidconnect's `AsyncHttpClient` (any `Fn(HttpRequest) -> Future`).
pub fn oidc_http_client(client: &reqwest::Client) -> impl Fn(HttpRequest) -> HttpFuture + '_ {
    move |request: HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response =
                client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            let mut builder = openidconnect::http::Response::builder().status(status);
            if let Some(map) = builder.headers_mut() {
                *map = headers;
            }
            builder.body(body).map_err(|e| HttpError::Response(e.to_string()))
        }) as HttpFuture
    }
}

/// Fetch and check the issuer's discovery document (its `issuer` must equal ours exactly).
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<CoreProviderMetadata, DiscoveryError> {
    let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|_| DiscoveryError::IssuerUrl(issuer.to_owned()))?;
    let http = oidc_http_client(client);
    CoreProviderMetadata::discover_async(issuer_url, &http)
        .await
        .map_err(|e| DiscoveryError::Failed { issuer: issuer.to_owned(), reason: error_chain(&e) })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The issuer's discovery document, kept: fetched at most once per `max_age` while it answers,
/// and — when it does not — tried again at most once per `min_refresh`, so that a burst of
/// anonymous sign-ins neither fetches it each time nor hammers an issuer that is down. The same
/// rules as the signing keys (`oidc.jwks_max_age_secs`, `oidc.jwks_min_refresh_secs`).
pub struct DiscoveryCache {
    http: reqwest::Client,
    issuer: String,
    max_age: Duration,
    min_refresh: Duration,
    state: tokio::sync::Mutex<Discovered>,
}

#[derive(Default)]
struct Discovered {
    metadata: Option<(CoreProviderMetadata, std::time::Instant)>,
    failed_at: Option<std::time::Instant>,
}

impl DiscoveryCache {
    pub fn new(http: reqwest::Client, issuer: String, max_age: Duration, min_refresh: Duration) -> Self {
        Self { http, issuer, max_age, min_refresh, state: tokio::sync::Mutex::new(Discovered::default()) }
    }

    pub async fn metadata(&self) -> Result<CoreProviderMetadata, DiscoveryError> {
        let mut state = self.state.lock().await;
        if let Some((metadata, at)) = &state.metadata
            && at.elapsed() < self.max_age
        {
            return Ok(metadata.clone());
        }
        if state.failed_at.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(DiscoveryError::Failed {
                issuer: self.issuer.clone(),
                reason: "unreachable moments ago; not retried yet".into(),
            });
        }
        match discover(&self.http, &self.issuer).await {
            Ok(metadata) => {
                *state = Discovered { metadata: Some((metadata.clone(), std::time::Instant::now())), failed_at: None };
                Ok(metadata)
            }
            Err(error) => {
                state.failed_at = Some(std::time::Instant::now());
                Err(error)
            }
        }
    }
}

//! The issuer's signing keys: discovered once, cached by `kid`, refetched when a token names an
//! unknown `kid` (at most once per `jwks_min_refresh_secs`) or when older than `jwks_max_age_secs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use super::discovery::{self, DiscoveryError};

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("no key with kid `{0}` at the issuer")]
    UnknownKey(String),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("the issuer's keys are not loaded yet")]
    NotLoaded,
    /// The keys last loaded are older than `jwks_max_age_secs` and could not be refreshed: the
    /// issuer may have withdrawn some of them since, so none is trusted any more.
    #[error("the issuer's keys are out of date and the issuer cannot be reached")]
    Stale,
    #[error("fetching the JWKS from {uri} failed: {reason}")]
    Fetch { uri: String, reason: String },
}

/// The key families a JWK can be, to check a token's `alg` against the key it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa,
    Ec,
    Okp,
}

/// One verification key from the issuer's JWKS.
pub struct VerificationKey {
    pub key: DecodingKey,
    pub family: KeyFamily,
    /// The JWK's own `alg`, when it pins one.
    pub algorithm: Option<Algorithm>,
}

#[derive(Default)]
struct KeyState {
    jwks_uri: Option<String>,
    keys: HashMap<String, Arc<VerificationKey>>,
    /// When the keys were last fetched successfully: they are trusted until `max_age` after it.
    loaded_at: Option<Instant>,
    /// When a fetch was last tried, successful or not: no retry before `min_refresh` after it.
    attempted_at: Option<Instant>,
}

impl KeyState {
    fn fresh(&self, max_age: Duration) -> bool {
        self.loaded_at.is_some_and(|at| at.elapsed() < max_age)
    }
}

pub struct JwksCache {
    http: reqwest::Client,
    issuer: String,
    min_refresh: Duration,
    max_age: Duration,
    state: RwLock<KeyState>,
    /// Serialises refreshes so a burst of unknown-kid tokens causes one fetch, not many.
    refresh: Mutex<()>,
    fetches: AtomicU64,
}

impl JwksCache {
    pub fn new(http: reqwest::Client, issuer: String, min_refresh: Duration, max_age: Duration) -> Self {
        Self {
            http,
            issuer,
            min_refresh,
            max_age,
            state: RwLock::new(KeyState::default()),
            refresh: Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many times the JWKS was fetched (for metrics and tests).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Keys loaded and not older than `max_age`, loading them if needed (readiness probe);
    /// rate-limited like any refresh.
    pub async fn ensure_loaded(&self) -> Result<(), JwksError> {
        if self.is_fresh().await {
            return Ok(());
        }
        let _guard = self.refresh.lock().await;
        if self.is_fresh().await {
            return Ok(());
        }
        if !self.may_refresh().await {
            let loaded = self.state.read().await.loaded_at.is_some();
            return Err(if loaded { JwksError::Stale } else { JwksError::NotLoaded });
        }
        self.refresh_now().await
    }

    async fn is_fresh(&self) -> bool {
        self.state.read().await.fresh(self.max_age)
    }

    /// The key named `kid`, fetching the JWKS when needed and allowed. Keys are trusted for
    /// `max_age` after they were last fetched successfully — a failed refresh does not extend
    /// that — and then not at all until the issuer answers again.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerificationKey>, JwksError> {
        if let Some(key) = self.cached(kid).await {
            return Ok(key);
        }
        let _guard = self.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(key) = self.cached(kid).await {
            return Ok(key);
        }
        if self.may_refresh().await
            && let Err(error) = self.refresh_now().await
        {
            // Keep serving with keys still within their age (the issuer may be briefly down).
            tracing::warn!(issuer = %self.issuer, %error, "JWKS refresh failed");
            return self.cached(kid).await.ok_or(if self.is_fresh().await { error } else { JwksError::Stale });
        }
        if !self.is_fresh().await {
            return Err(JwksError::Stale);
        }
        self.cached(kid).await.ok_or_else(|| JwksError::UnknownKey(kid.to_owned()))
    }

    /// Discover (first time) and fetch the JWKS now.
    pub async fn refresh_now(&self) -> Result<(), JwksError> {
        let jwks_uri = match self.state.read().await.jwks_uri.clone() {
            Some(uri) => uri,
            None => {
                let metadata = discovery::discover(&self.http, &self.issuer).await?;
                metadata.jwks_uri().url().to_string()
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch(&jwks_uri).await;
        let mut state = self.state.write().await;
        // Count the attempt even when it fails, so a dead issuer is not hammered.
        state.attempted_at = Some(Instant::now());
        match result {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "loaded the issuer's signing keys");
                state.keys = keys;
                state.jwks_uri = Some(jwks_uri);
                state.loaded_at = state.attempted_at;
                Ok(())
            }
            Err(error) => {
                // Next time, discover again: the jwks_uri may have moved.
                state.jwks_uri = None;
                Err(error)
            }
        }
    }

    /// The key named `kid`, if the keys are within their age (never fetches).
    pub async fn cached(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        let state = self.state.read().await;
        if state.fresh(self.max_age) { state.keys.get(kid).cloned() } else { None }
    }

    async fn may_refresh(&self) -> bool {
        self.state.read().await.attempted_at.is_none_or(|at| at.elapsed() >= self.min_refresh)
    }

    async fn fetch(&self, uri: &str) -> Result<HashMap<String, Arc<VerificationKey>>, JwksError> {
        let failed = |reason: String| JwksError::Fetch { uri: uri.to_owned(), reason };
        let response = self.http.get(uri).send().await.map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let set: JwkSet = response.json().await.map_err(|e| failed(e.to_string()))?;
        Ok(usable_keys(&set))
    }
}

/// Signing keys with a `kid`, of an asymmetric family; encryption and symmetric keys are skipped.
pub fn usable_keys(set: &JwkSet) -> HashMap<String, Arc<VerificationKey>> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let family = match jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyFamily::Rsa,
            AlgorithmParameters::EllipticCurve(_) => KeyFamily::Ec,
            AlgorithmParameters::OctetKeyPair(_) => KeyFamily::Okp,
            // Symmetric (`oct`) and future key types never verify access tokens here.
            _ => continue,
        };
        let algorithm = match jwk.common.key_algorithm {
            None => None,
            Some(alg) => match signing_algorithm(alg) {
                Some(alg) => Some(alg),
                None => continue,
            },
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                keys.insert(kid, Arc::new(VerificationKey { key, family, algorithm }));
            }
            Err(error) => {
                tracing::warn!(%kid, %error, "skipping an unusable key in the issuer's JWKS")
            }
        }
    }
    keys
}

fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

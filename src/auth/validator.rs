//! Strict validation of bearer access tokens (JWT, RFC 9068 profile): asymmetric algorithm from
//! an allow-list, key chosen by `kid` from the issuer's JWKS and matching the algorithm's family,
//! `iss`, `aud`, `exp`/`nbf` with a small leeway, required claims; then claim mapping.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::Value;

use super::AuthError;
use super::claims::ClaimMapper;
use super::jwks::{JwksCache, JwksError, KeyFamily, VerificationKey};
use super::validated_tokens::{self, Validated, ValidatedTokens};
use crate::config::{JwsAlgorithm, OidcSettings};
use crate::policy::Principal;

/// The configured algorithms (asymmetric only: configuration cannot name `none` or HS*) as
/// jsonwebtoken knows them.
fn algorithm(configured: JwsAlgorithm) -> Algorithm {
    match configured {
        JwsAlgorithm::RS256 => Algorithm::RS256,
        JwsAlgorithm::RS384 => Algorithm::RS384,
        JwsAlgorithm::RS512 => Algorithm::RS512,
        JwsAlgorithm::PS256 => Algorithm::PS256,
        JwsAlgorithm::PS384 => Algorithm::PS384,
        JwsAlgorithm::PS512 => Algorithm::PS512,
        JwsAlgorithm::ES256 => Algorithm::ES256,
        JwsAlgorithm::ES384 => Algorithm::ES384,
        JwsAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

fn family_of(algorithm: Algorithm) -> Option<KeyFamily> {
    match algorithm {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Some(KeyFamily::Rsa),
        Algorithm::ES256 | Algorithm::ES384 => Some(KeyFamily::Ec),
        Algorithm::EdDSA => Some(KeyFamily::Okp),
        _ => None,
    }
}

/// Header `typ` values of access tokens; ID tokens and other JWTs are refused.
const ACCEPTED_TYPES: [&str; 3] = ["jwt", "at+jwt", "application/at+jwt"];

pub struct TokenValidator {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway_secs: u64,
    keys: JwksCache,
    mapper: ClaimMapper,
    validated: ValidatedTokens,
}

impl TokenValidator {
    pub fn new(oidc: &OidcSettings, issuer: String, http: reqwest::Client, mapper: ClaimMapper) -> Self {
        let keys = JwksCache::new(
            http,
            issuer.clone(),
            Duration::from_secs(oidc.jwks_min_refresh_secs),
            Duration::from_secs(oidc.jwks_max_age_secs),
        );
        Self {
            issuer,
            audience: oidc.audience.clone(),
            algorithms: oidc.algorithms.iter().copied().map(algorithm).collect(),
            leeway_secs: oidc.leeway_secs,
            keys,
            mapper,
            validated: ValidatedTokens::default(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn keys(&self) -> &JwksCache {
        &self.keys
    }

    /// The principal a valid token stands for, or why it is refused. A token validated before
    /// is answered from memory while its `exp` and the key that verified it last (see
    /// [`ValidatedTokens`]).
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let digest = validated_tokens::digest(token);
        let now = chrono::Utc::now().timestamp();
        if let Some(earlier) = self.validated.get(&digest, now) {
            let current = self.keys.cached(&earlier.kid).await;
            if current.is_some_and(|key| Arc::ptr_eq(&key, &earlier.key)) {
                return Ok(earlier.principal);
            }
            self.validated.forget(&digest);
        }
        let (header, key) = self.header_and_key(token).await?;
        let (principal, claims) = self.verify(token, &header, &key)?;
        if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
            let usable_until = (exp.floor() as i64).saturating_add(self.leeway_secs as i64);
            let kid = header.kid.unwrap_or_default();
            let remembered = Validated { principal: principal.clone(), kid, key, usable_until };
            self.validated.remember(digest, remembered, now);
        }
        Ok(principal)
    }

    /// Map claims kept from a token validated earlier (browser sessions re-map them on every
    /// request, so role and ladder changes in the configuration apply at once).
    pub fn map_claims(&self, claims: &Value) -> Result<Principal, AuthError> {
        self.mapper.map(claims).map_err(|e| AuthError::InvalidToken(e.to_string()))
    }

    /// Like [`TokenValidator::authenticate`], also returning the validated claims.
    pub async fn authenticate_with_claims(&self, token: &str) -> Result<(Principal, Value), AuthError> {
        let (header, key) = self.header_and_key(token).await?;
        self.verify(token, &header, &key)
    }

    /// The token's checked header and the issuer's key it names.
    async fn header_and_key(&self, token: &str) -> Result<(Header, Arc<VerificationKey>), AuthError> {
        let header = self.header(token)?;
        let kid = header.kid.as_deref().unwrap_or_default();
        let key = self.keys.key(kid).await.map_err(|error| match error {
            JwksError::UnknownKey(_) => AuthError::InvalidToken(error.to_string()),
            other => AuthError::IssuerUnavailable(other.to_string()),
        })?;
        Ok((header, key))
    }

    /// The token's header, if it is one this platform takes: an accepted algorithm, an access
    /// token's type, a `kid`. Nothing is verified yet.
    pub fn header(&self, token: &str) -> Result<Header, AuthError> {
        let invalid = |reason: String| AuthError::InvalidToken(reason);
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("header: {e}")))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        if let Some(typ) = &header.typ
            && !ACCEPTED_TYPES.contains(&typ.to_ascii_lowercase().as_str())
        {
            return Err(invalid(format!("token type `{typ}` is not an access token")));
        }
        if header.kid.is_none() {
            return Err(invalid("no `kid` in the header".into()));
        }
        Ok(header)
    }

    /// Verify `token` (whose checked `header` named `key`): the key's family and algorithm,
    /// the signature, issuer, audience, times and required claims; then map the claims.
    pub fn verify(&self, token: &str, header: &Header, key: &VerificationKey) -> Result<(Principal, Value), AuthError> {
        let invalid = |reason: String| AuthError::InvalidToken(reason);
        let kid = header.kid.as_deref().unwrap_or_default();
        if family_of(header.alg) != Some(key.family) || key.algorithm.is_some_and(|a| a != header.alg) {
            return Err(invalid(format!("algorithm {:?} does not match key `{kid}`", header.alg)));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation).map_err(|e| invalid(e.to_string()))?;
        let principal = self.mapper.map(&data.claims).map_err(|e| invalid(e.to_string()))?;
        Ok((principal, data.claims))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn only_asymmetric_algorithms_are_allowed() {
        for name in ["HS256", "HS384", "HS512", "none", "None", "rs256", ""] {
            assert!(serde_json::from_value::<JwsAlgorithm>(serde_json::json!(name)).is_err(), "{name}");
        }
        for name in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
            let configured: JwsAlgorithm = serde_json::from_value(serde_json::json!(name)).expect(name);
            assert!(family_of(algorithm(configured)).is_some(), "{name}");
        }
        let accepted: HashSet<_> = ACCEPTED_TYPES.into_iter().collect();
        assert!(!accepted.contains("id+jwt"));
    }
}

//! Browser sessions: the cookie carries only a random id; the database keeps its SHA-256, the
//! claims of the validated access token (mapped to a principal again on every request, through
//! the same mapper as bearer tokens, so configuration changes apply at once), a CSRF token and
//! the expiry. No token a script could read ever reaches the browser.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AuthError, TokenValidator};
use crate::caller::{Caller, RequestInfo};
use crate::db::sessions as repo;

pub struct Sessions {
    db: DatabaseConnection,
    validator: Arc<TokenValidator>,
}

/// A session found for a request: who, and the token its forms must carry.
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl Sessions {
    pub fn new(db: DatabaseConnection, validator: Arc<TokenValidator>) -> Self {
        Self { db, validator }
    }

    /// Start a session for validated `claims`; returns the cookie value.
    pub async fn start(&self, claims: &Value, expires_at: chrono::DateTime<chrono::Utc>) -> Result<String, AuthError> {
        let id = random_token();
        repo::insert_session(&self.db, hash(&id), claims, random_token(), expires_at).await.map_err(unavailable)?;
        Ok(id)
    }

    pub async fn end(&self, id: &str) -> Result<(), AuthError> {
        repo::delete_session(&self.db, &hash(id)).await.map_err(unavailable)
    }

    /// The live session with cookie value `id`, for `request`; `None` when there is none, it
    /// expired, or the configuration no longer admits its claims (then it is over).
    pub async fn resume(&self, id: &str, request: RequestInfo) -> Result<Option<Session>, AuthError> {
        let Some(row) = repo::live_session(&self.db, &hash(id)).await.map_err(unavailable)? else {
            return Ok(None);
        };
        let claims: Value = serde_json::from_str(&row.principal)
            .map_err(|e| AuthError::Unavailable(format!("a stored session is not JSON: {e}")))?;
        let Ok(principal) = self.validator.map_claims(&claims) else {
            return Ok(None);
        };
        tracing::Span::current().record("principal", principal.sub.as_str());
        Ok(Some(Session { caller: Caller { principal, request }, csrf: row.csrf }))
    }
}

/// Sign-ins not completed within this time are refused (and purged).
pub const SIGN_IN_TTL_MINUTES: i64 = 15;

/// How often expired sessions and abandoned sign-ins are deleted.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Delete expired sessions and abandoned sign-ins, now and every few minutes: anonymous visitors
/// start sign-ins, so their table must not grow without bound. Every replica may run it.
pub fn spawn_purge(db: DatabaseConnection) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            match purge_expired(&db).await {
                Ok((0, 0)) => {}
                Ok((sessions, sign_ins)) => tracing::info!(sessions, sign_ins, "purged expired sessions and sign-ins"),
                Err(error) => tracing::warn!(%error, "purging expired sessions failed"),
            }
        }
    });
}

/// Delete expired sessions and sign-ins older than their time limit; how many of each.
pub async fn purge_expired(db: &DatabaseConnection) -> Result<(u64, u64), AuthError> {
    let abandoned = chrono::Utc::now() - chrono::Duration::minutes(SIGN_IN_TTL_MINUTES);
    repo::purge(db, abandoned).await.map_err(unavailable)
}

/// 256 random bits, URL-safe.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn unavailable(error: sea_orm::DbErr) -> AuthError {
    AuthError::Unavailable(format!("session store: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits, unpadded base64url");
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}

//! The authenticated caller and what they are allowed to do.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use super::{AuthError, TokenValidator};
use crate::error::ApiError;
use crate::policy::Level;

/// What a role grants (configured in `[policy.roles]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Capability {
    #[serde(rename = "document:read")]
    DocumentRead,
    #[serde(rename = "document:write")]
    DocumentWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::DocumentRead,
        Capability::DocumentWrite,
        Capability::AuditRead,
        Capability::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::DocumentRead => "document:read",
            Capability::DocumentWrite => "document:write",
            Capability::AuditRead => "audit:read",
            Capability::Admin => "admin",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown capability `{0}`")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

/// The caller, as established from a validated access token. `GET /api/v1/me` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub sub: String,
    pub name: String,
    pub organisation: String,
    pub country: String,
    pub clearance: Level,
    pub roles: Vec<String>,
    pub capabilities: BTreeSet<Capability>,
}

impl Principal {
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// `Ok` when the caller holds `capability`; otherwise the 403 error to return.
    pub fn require(&self, capability: Capability) -> Result<(), AuthError> {
        if self.has(capability) {
            Ok(())
        } else {
            Err(AuthError::MissingCapability(capability))
        }
    }
}

/// Handlers take a `Principal` argument; the request is refused with 401 before the handler runs
/// unless its bearer token is valid.
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let validator = req.app_data::<web::Data<TokenValidator>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let validator = validator.ok_or_else(|| ApiError::internal("token validator not configured"))?;
            let token = token.ok_or(AuthError::MissingToken)?;
            let principal = validator.authenticate(&token).await?;
            tracing::Span::current().record("principal", principal.sub.as_str());
            Ok(principal)
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

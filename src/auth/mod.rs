//! Identity: who is calling. Bearer access tokens from the configured OpenID Connect issuer are
//! validated strictly ([`validator`]) against its discovered, cached JWKS ([`jwks`]), then mapped
//! to a [`Principal`] by configurable JSON pointers ([`claims`]). The demo identity provider
//! ([`demo_idp`]) is an ordinary issuer reached through the same path.

mod caller;
pub mod claims;
pub mod demo_idp;
pub mod discovery;
pub mod jwks;
mod principal;
pub mod validator;

pub use caller::{Caller, request_info};
pub use claims::ClaimMapper;
pub use principal::{Capability, Principal, UnknownCapability};
pub use validator::{TokenValidator, parse_allowed_algorithm};

/// Why a request is not authenticated or not authorised. Client-facing messages stay generic;
/// the precise reason is logged with the request id.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("invalid access token: {0}")]
    InvalidToken(String),
    #[error("the identity provider cannot be reached: {0}")]
    IssuerUnavailable(String),
    #[error("missing capability {0}")]
    MissingCapability(Capability),
}

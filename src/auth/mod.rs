//! Identity: who is calling. Bearer access tokens from the configured OpenID Connect issuer are
//! validated strictly ([`validator`]) against its discovered, cached JWKS ([`jwks`]), then mapped
//! to a principal by configurable JSON pointers ([`claims`]); [`Authenticator`] turns a request
//! into a [`crate::caller::Caller`]. Browsers sign in through the code flow ([`BrowserSignIn`])
//! into server-side [`Sessions`]; every sign-in lands in the users' [`Directory`]. The demo
//! identity provider ([`demo_idp`]) is an ordinary issuer reached through the same path.

mod authenticator;
mod browser;
pub mod claims;
pub mod demo_idp;
mod denials;
mod directory;
pub mod discovery;
pub mod jwks;
pub mod operator;
mod sessions;
mod validated_tokens;
pub mod validator;

pub use authenticator::Authenticator;
pub use browser::{BrowserSignIn, Callback, ClientSettings, SignedIn, Started};
pub use claims::ClaimMapper;
pub use denials::Denials;
pub use directory::{Directory, Via};
pub use discovery::DiscoveryCache;
pub use sessions::{SIGN_IN_TTL_MINUTES, Session, Sessions, purge_expired, spawn_purge};
pub use validator::TokenValidator;

/// Why a request is not authenticated. Client-facing messages stay generic; the precise reason
/// is logged with the request id.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("invalid access token: {0}")]
    InvalidToken(String),
    #[error("the identity provider cannot be reached: {0}")]
    IssuerUnavailable(String),
    /// A browser sign-in the platform refused (the reason is for the log and the audit trail).
    #[error("sign-in refused: {0}")]
    SignInRefused(String),
    /// Too many failed authentications from this client address (429).
    #[error("too many failed authentications; retry after {} s", .0.seconds())]
    Throttled(crate::throttle::RetryAfter),
    /// Sessions, the directory or the audit trail could not be reached.
    #[error("{0}")]
    Unavailable(String),
}

//! Bearer authentication: a request's `Authorization: Bearer` token becomes a [`Caller`], or the
//! request is refused with 401 before its handler runs — and every refusal is audited
//! (`auth.denied`). Handlers take a `Caller` argument; they never see a token.

use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::denials::Denials;
use super::{AuthError, TokenValidator};
use crate::caller::{Caller, RequestInfo};
use crate::throttle::{Limit, Throttle};

/// Validates bearer tokens and records refusals.
pub struct Authenticator {
    validator: Arc<TokenValidator>,
    denials: Arc<Denials>,
    throttle: Throttle,
}

impl Authenticator {
    pub fn new(validator: Arc<TokenValidator>, denials: Arc<Denials>, throttle: Throttle) -> Self {
        Self { validator, denials, throttle }
    }

    /// The caller `token` stands for, or the refusal (recorded with the `path` asked for). A
    /// client address that keeps failing is answered 429 until its allowance recovers — while a
    /// valid token from it still works.
    pub async fn authenticate(
        &self,
        token: Option<String>,
        request: RequestInfo,
        path: &str,
    ) -> Result<Caller, AuthError> {
        let outcome = match token {
            None => Err(AuthError::MissingToken),
            Some(token) => self.validator.authenticate(&token).await,
        };
        match outcome {
            Ok(principal) => {
                tracing::Span::current().record("principal", principal.sub.as_str());
                Ok(Caller { principal, request })
            }
            Err(error) => {
                let reason = match &error {
                    AuthError::MissingToken => "no bearer token".to_owned(),
                    other => other.to_string(),
                };
                self.denials.record(&request, &reason, path, "bearer").await;
                match self.throttle.check(Limit::AuthFailures, &request.ip).await {
                    Ok(()) => Err(error),
                    Err(retry) => Err(AuthError::Throttled(retry)),
                }
            }
        }
    }
}

impl FromRequest for Caller {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authenticator = req.app_data::<web::Data<Authenticator>>().cloned();
        let token = bearer_token(req);
        let request = RequestInfo::of(req);
        let path = req.path().to_owned();
        Box::pin(async move {
            let authenticator =
                authenticator.ok_or_else(|| AuthError::Unavailable("no authenticator configured".into()))?;
            authenticator.authenticate(token, request, &path).await
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

//! The authenticated caller of a request: the [`Principal`] and the request facts the audit
//! trail records. Handlers take a `Caller` argument; the request is refused with 401 before the
//! handler runs unless its bearer token is valid, and every refusal is audited (`auth.denied`).

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde_json::json;

use super::{AuthError, Principal, TokenValidator};
use crate::audit::{self, Actor, NewEvent, Outcome, RequestInfo};
use crate::error::ApiError;

const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub request: RequestInfo,
}

impl Caller {
    /// `Ok` when the caller holds `capability`; otherwise the 403 error to return.
    pub fn require(&self, capability: super::Capability) -> Result<(), AuthError> {
        self.principal.require(capability)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let validator = req.app_data::<web::Data<TokenValidator>>().cloned();
        let log = req.app_data::<web::Data<audit::Log>>().cloned();
        let token = bearer_token(req);
        let request = request_info(req);
        let path = req.path().to_owned();
        Box::pin(async move {
            let validator = validator.ok_or_else(|| ApiError::internal("token validator not configured"))?;
            let outcome = match token {
                None => Err(AuthError::MissingToken),
                Some(token) => validator.authenticate(&token).await,
            };
            match outcome {
                Ok(principal) => {
                    tracing::Span::current().record("principal", principal.sub.as_str());
                    Ok(Caller { principal, request })
                }
                Err(error) => {
                    if let Some(log) = log {
                        let reason = match &error {
                            AuthError::MissingToken => "no bearer token".to_owned(),
                            other => other.to_string(),
                        };
                        let event =
                            NewEvent::new(Actor::anonymous(), &request, audit::Action::AuthDenied, Outcome::Denied)
                                .details(json!({"reason": reason, "path": path}));
                        if let Err(audit_error) = log.record(event).await {
                            tracing::error!(%audit_error, "could not audit a refused sign-in");
                        }
                    }
                    Err(error.into())
                }
            }
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

/// Request id (of the tracing span), peer address and user agent. The peer address is the TCP
/// peer: forwarded-for headers are not trusted.
pub fn request_info(req: &HttpRequest) -> RequestInfo {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let ip = req.peer_addr().map(|addr| addr.ip().to_string()).unwrap_or_default();
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    RequestInfo { id, ip, user_agent }
}

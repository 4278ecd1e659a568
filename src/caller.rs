//! Who is calling, through which request. Every service method that reads or changes data takes
//! a [`Caller`]: the principal to decide on and the request to record in the audit trail, so a
//! decision and its record always belong together. Only `auth` makes one, from a validated token
//! or a browser session.

use actix_web::{HttpMessage, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::policy::Principal;

const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub request: RequestInfo,
}

/// The HTTP request an audit event belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub id: String,
    pub ip: String,
    pub user_agent: String,
}

impl RequestInfo {
    /// Request id (of the tracing span), peer address and user agent. The peer address is the
    /// TCP peer: forwarded-for headers are not trusted.
    pub fn of(req: &HttpRequest) -> Self {
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
        Self { id, ip, user_agent }
    }
}

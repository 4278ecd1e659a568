//! The one mapping from errors to HTTP: `application/problem+json` (RFC 9457) with a stable
//! `type` per kind of problem. Modules keep their own error enums; [`ApiError`] wraps them and
//! [`ApiError::problem`] is the only place that decides what a client sees. Internal details are
//! logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::documents::DocumentsError;
use crate::notify::NotifyError;
use crate::policy::Reason;
use crate::search::SearchError;
use crate::storage::StorageError;
use crate::throttle::RetryAfter;

/// Base of problem `type` URIs; the suffix is the stable code clients match on.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:anaspoc:problem:";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request field at fault (a form part, JSON key or query parameter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The limit a request went over (a configuration key where it is one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &'static str) -> Self {
        Self {
            kind: format!("{PROBLEM_TYPE_PREFIX}{code}"),
            title,
            status: status.as_u16(),
            detail: None,
            field: None,
            limit: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn limit(mut self, limit: &'static str) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .content_type("application/problem+json")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Documents(#[from] DocumentsError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// Query parameters that do not parse (400).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A body in a media type the route does not take (415).
    #[error("expected {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("not found")]
    NotFound,
}

impl ApiError {
    /// What the client sees. Keep every `type` code stable: clients and tests match on them.
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Auth(AuthError::MissingToken) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required").detail(
                    "Send an access token from the configured identity provider as `Authorization: Bearer <token>`.",
                )
            }
            ApiError::Auth(AuthError::InvalidToken(_)) => {
                Problem::new(StatusCode::UNAUTHORIZED, "invalid-token", "Invalid access token")
                    .detail("The access token is malformed, expired, not yet valid, or not issued for this service.")
            }
            ApiError::Auth(AuthError::IssuerUnavailable(_)) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity-provider-unavailable",
                "Identity provider unavailable",
            )
            .detail("The identity provider's keys could not be retrieved; try again shortly."),
            ApiError::Auth(AuthError::SignInRefused(_)) => {
                Problem::new(StatusCode::FORBIDDEN, "sign-in-refused", "Sign-in refused")
                    .detail("The sign-in could not be completed; start it again.")
            }
            ApiError::Auth(AuthError::Throttled(retry))
            | ApiError::Search(SearchError::Throttled(retry))
            | ApiError::Documents(DocumentsError::Throttled(retry)) => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests")
                    .detail(format!("Slow down: try again in {} s.", retry.seconds()))
            }
            ApiError::Audit(AuditError::Forbidden) => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not permitted")
                .detail("This action needs the `audit:read` capability."),
            ApiError::Audit(AuditError::Invalid { field, problem }) => invalid_field(field, problem),
            ApiError::Audit(AuditError::UnknownParameter(name)) => {
                Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query parameters")
                    .detail(format!("`{name}` is not a parameter of this resource."))
            }
            // A hidden document answers exactly like a missing one: this same problem.
            ApiError::NotFound
            | ApiError::Documents(DocumentsError::NotFound)
            | ApiError::Notify(NotifyError::NotFound) => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Documents(DocumentsError::VersionNotFound(n)) => {
                Problem::new(StatusCode::NOT_FOUND, "version-not-found", "Version not found")
                    .detail(format!("The document has no version {n}."))
                    .field("version")
            }
            ApiError::Documents(DocumentsError::Forbidden(reason)) => {
                let detail = match reason {
                    Reason::NoWriteCapability => "This action needs the `document:write` capability.",
                    Reason::NoReadCapability => "This action needs the `document:read` capability.",
                    Reason::OwnRequest => {
                        "You made this request: another member of the provider organisation decides it."
                    }
                    Reason::OwnDocument => {
                        "Your organisation provided this document: it needs no permission from itself."
                    }
                    _ => "Only the originating organisation can change this document.",
                };
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not permitted").detail(detail)
            }
            ApiError::InvalidQuery(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query parameters")
                    .detail(detail.clone())
            }
            ApiError::UnsupportedMediaType { expected } => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
                    .detail(format!("Send the body as {expected}."))
            }
            ApiError::Search(SearchError::InvalidQuery(problem)) => invalid_field("q", problem),
            ApiError::Search(SearchError::Invalid { field, problem }) => invalid_field(field, problem),
            ApiError::Search(SearchError::TooCostly { limit, problem }) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "query-too-costly", "Query too costly")
                    .detail(format!("q: {problem} (limit `{limit}`)."))
                    .field("q")
                    .limit(limit)
            }
            // A dead database answers alike on every route, search included.
            error if error.dependency_down() => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "dependency-unavailable",
                "Service temporarily unavailable",
            )
            .detail(
                "A service the platform depends on did not answer in time; nothing was changed. Try again shortly.",
            ),
            ApiError::Search(SearchError::CatchingUp) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "search-catching-up", "Search index catching up")
                    .detail("This server's search index is still applying recent changes; try again shortly.")
            }
            ApiError::Search(_) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "search-unavailable", "Search unavailable")
                    .detail("The search could not be completed. Quote the X-Request-Id header when reporting this.")
            }
            ApiError::Documents(DocumentsError::Invalid { field, problem }) => invalid_field(field, problem),
            ApiError::Notify(NotifyError::Invalid { field, problem }) => invalid_field(field, problem),
            ApiError::Documents(DocumentsError::Malformed { field, problem }) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed-request", "Malformed request")
                    .detail(format!("{field}: {problem}"))
                    .field(field)
            }
            ApiError::Documents(DocumentsError::TooLarge { limit }) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "file-too-large", "File too large")
                    .detail(format!("Files may be at most {limit} bytes; nothing was stored."))
                    .field("file")
            }
            ApiError::Documents(DocumentsError::Stale) => {
                Problem::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", "Precondition failed")
                    .detail("The document changed since you read it: read it again (its ETag) and repeat the change.")
            }
            ApiError::Documents(DocumentsError::AlreadyDecided(status)) => {
                Problem::new(StatusCode::CONFLICT, "already-decided", "Already decided")
                    .detail(format!("The request is {status} already: a request is decided once."))
            }
            ApiError::Documents(DocumentsError::Busy) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict")
                .detail("The document kept changing while this change was being applied; try again."),
            ApiError::Documents(DocumentsError::RangeNotSatisfiable { size }) => {
                Problem::new(StatusCode::RANGE_NOT_SATISFIABLE, "range-not-satisfiable", "Range not satisfiable")
                    .detail(format!("The content is {size} bytes long."))
            }
            ApiError::Documents(DocumentsError::Storage(StorageError::KeysDestroyed)) => {
                Problem::new(StatusCode::GONE, "keys-destroyed", "Gone").detail(
                    "The keys of this document's organisation were destroyed: its content can no longer be read.",
                )
            }
            ApiError::Documents(
                DocumentsError::Storage(_) | DocumentsError::Database(_) | DocumentsError::Audit(_),
            )
            | ApiError::Audit(_)
            | ApiError::Notify(
                NotifyError::Database(_) | NotifyError::Audit(_) | NotifyError::Search(_) | NotifyError::Email(_),
            )
            | ApiError::Auth(AuthError::Unavailable(_)) => {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
                    .detail("The request could not be completed. Quote the X-Request-Id header when reporting this.")
            }
        }
    }
}

impl ApiError {
    /// The request failed because the database or the object store is down, stalled or too
    /// slow — not because of the request or a bug: 503, try again.
    fn dependency_down(&self) -> bool {
        let database = |error: &sea_orm::DbErr| crate::db::is_unavailable(error);
        match self {
            ApiError::Documents(DocumentsError::Storage(StorageError::Store(_) | StorageError::Unavailable)) => true,
            ApiError::Documents(DocumentsError::Database(error))
            | ApiError::Search(SearchError::Database(error))
            | ApiError::Audit(AuditError::Database(error))
            | ApiError::Documents(DocumentsError::Audit(AuditError::Database(error)))
            | ApiError::Search(SearchError::Audit(AuditError::Database(error)))
            | ApiError::Notify(NotifyError::Database(error))
            | ApiError::Notify(NotifyError::Audit(AuditError::Database(error))) => database(error),
            _ => false,
        }
    }

    /// How long a rate-limited caller waits (`Retry-After`), or one told to come back later.
    fn retry_after(&self) -> Option<RetryAfter> {
        if self.dependency_down() {
            return Some(RetryAfter(std::time::Duration::from_secs(5)));
        }
        match self {
            ApiError::Auth(AuthError::Throttled(retry))
            | ApiError::Search(SearchError::Throttled(retry))
            | ApiError::Documents(DocumentsError::Throttled(retry)) => Some(*retry),
            ApiError::Search(SearchError::CatchingUp) => Some(RetryAfter(std::time::Duration::from_secs(5))),
            _ => None,
        }
    }
}

fn invalid_field(field: &str, problem: &str) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-field", "Invalid field")
        .detail(format!("{field}: {problem}"))
        .field(field)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem().status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Audit(AuditError::Forbidden | AuditError::Invalid { .. } | AuditError::UnknownParameter(_)) => {}
            ApiError::Audit(error) => tracing::error!(%error, "audit trail failure"),
            ApiError::Search(
                SearchError::InvalidQuery(_)
                | SearchError::Invalid { .. }
                | SearchError::TooCostly { .. }
                | SearchError::Throttled(_),
            ) => {}
            ApiError::Search(SearchError::CatchingUp) => tracing::warn!("search refused: the index is catching up"),
            ApiError::Search(error) => tracing::error!(%error, "search failed"),
            ApiError::Auth(AuthError::Unavailable(reason)) => tracing::error!(%reason, "sign-in services failed"),
            // Crypto-shredded on purpose: an answer (410), not a failure to page anyone about.
            ApiError::Documents(DocumentsError::Storage(StorageError::KeysDestroyed)) => {
                tracing::info!("content of a document whose keys were destroyed asked for")
            }
            ApiError::Documents(
                error @ (DocumentsError::Storage(_) | DocumentsError::Database(_) | DocumentsError::Audit(_)),
            ) => {
                tracing::error!(%error, "document request failed")
            }
            ApiError::Notify(
                error @ (NotifyError::Database(_)
                | NotifyError::Audit(_)
                | NotifyError::Search(_)
                | NotifyError::Email(_)),
            ) => {
                tracing::error!(%error, "saved-search or notification request failed")
            }
            ApiError::Auth(AuthError::IssuerUnavailable(reason)) => {
                tracing::error!(%reason, "identity provider unavailable")
            }
            ApiError::Auth(AuthError::InvalidToken(reason)) => {
                tracing::info!(%reason, "refused an access token")
            }
            other => tracing::debug!(error = %other, "request refused"),
        }
        let mut response = self.problem().response();
        // RFC 6750 §3: a missing token gets a bare challenge; a bad one says invalid_token.
        let challenge = match self {
            ApiError::Auth(AuthError::MissingToken) => Some("Bearer realm=\"anaspoc\""),
            ApiError::Auth(AuthError::InvalidToken(_)) => Some("Bearer realm=\"anaspoc\", error=\"invalid_token\""),
            ApiError::Audit(AuditError::Forbidden) => Some("Bearer realm=\"anaspoc\", error=\"insufficient_scope\""),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(retry) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry.seconds()));
        }
        if let ApiError::Documents(DocumentsError::RangeNotSatisfiable { size }) = self
            && let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        response
    }
}

/// Problem responses for errors raised by actix itself (bad query, unknown route).
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _| {
        let response = ApiError::InvalidQuery(err.to_string()).problem().response();
        actix_web::error::InternalError::from_response(err, response).into()
    })
}

/// Default service: unknown routes answer with a problem document, not an empty body.
pub async fn route_not_found() -> HttpResponse {
    ApiError::NotFound.problem().response()
}

/// Refused bearer tokens answer like every other error: through [`ApiError`].
impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        ApiError::Auth(self.clone()).status_code()
    }

    fn error_response(&self) -> HttpResponse {
        ApiError::Auth(self.clone()).error_response()
    }
}

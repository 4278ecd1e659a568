//! Types that exist only to document the API contract (`openapi/`): the problem responses many
//! routes share, each naming every `type` it can carry, and the multipart forms of uploads. The
//! routes name them in their `#[utoipa::path]` annotations; nothing builds them.
#![allow(dead_code)]

use utoipa::{IntoParams, IntoResponses, ToSchema};

use crate::audit::{Action, Outcome};
use crate::documents::NewDocument;
use crate::error::Problem;

/// Problems every authenticated operation can answer.
#[derive(IntoResponses)]
pub enum Common {
    /// `urn:anaspoc:problem:unauthenticated` (no `Authorization: Bearer` token) or
    /// `urn:anaspoc:problem:invalid-token` (malformed, expired, not for this service).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthenticated(Problem),
    /// `urn:anaspoc:problem:too-many-requests`: slow down for `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Problem),
    /// `urn:anaspoc:problem:internal`: quote the `X-Request-Id` response header.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// `urn:anaspoc:problem:dependency-unavailable` (database or storage) or
    /// `urn:anaspoc:problem:identity-provider-unavailable`: nothing was changed; try again after
    /// `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// A document the caller may not see answers exactly like one that does not exist.
#[derive(IntoResponses)]
pub enum NotFound {
    /// `urn:anaspoc:problem:not-found`: no such document, or one the caller may not see.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// A change refused for the caller, or raced by another change.
#[derive(IntoResponses)]
pub enum Change {
    /// `urn:anaspoc:problem:forbidden`: needs `document:write`, or only the originating
    /// organisation may change the document.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// `urn:anaspoc:problem:conflict`: the document kept changing meanwhile; try again.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `urn:anaspoc:problem:precondition-failed`: `If-Match` names an older revision.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// `urn:anaspoc:problem:invalid-field`: a field's value is not acceptable (`field` names it).
    #[response(status = 422, content_type = "application/problem+json")]
    InvalidField(Problem),
}

/// Uploads: the multipart framing and the file.
#[derive(IntoResponses)]
pub enum Upload {
    /// `urn:anaspoc:problem:malformed-request`: not multipart, parts missing or out of order,
    /// metadata that is not JSON (`field` names the part).
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// `urn:anaspoc:problem:file-too-large`: over `limits.max_upload_bytes`; nothing was stored.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
}

/// The audit routes need `audit:read`.
#[derive(IntoResponses)]
pub enum Audit {
    /// `urn:anaspoc:problem:invalid-query`: a parameter this resource does not take.
    #[response(status = 400, content_type = "application/problem+json")]
    UnknownParameter(Problem),
    /// `urn:anaspoc:problem:forbidden`: the caller lacks `audit:read` (the refusal is audited).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// `urn:anaspoc:problem:invalid-field`: a parameter's value is not acceptable.
    #[response(status = 422, content_type = "application/problem+json")]
    InvalidField(Problem),
}

/// The body of an upload: `metadata` (JSON) first, then `file`.
#[derive(ToSchema)]
pub struct UploadForm {
    metadata: NewDocument,
    /// The document's bytes; the media type is sniffed from them.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The body of a new version: the file alone.
#[derive(ToSchema)]
pub struct VersionForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The filters of the audit trail, shared by its list and its export. Dates take a date
/// (`YYYY-MM-DD`, the whole day) or an RFC 3339 time (`openapi/deployment.rs` says so).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilters {
    /// The acting user's `sub`
    actor: Option<String>,
    /// A document id
    document: Option<String>,
    /// An action, e.g. `document.download`
    action: Option<Action>,
    /// `allowed`, `denied` or `error`
    outcome: Option<Outcome>,
    /// At or after
    from: Option<chrono::NaiveDate>,
    /// At or before
    to: Option<chrono::NaiveDate>,
}

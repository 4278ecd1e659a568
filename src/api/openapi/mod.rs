//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations and the types they take and return (utoipa). Built once at start-up with this
//! deployment's public URL and issuer, served at `GET /api/openapi.json` to anyone (it holds no
//! data, only the contract) and rendered for people at `GET /api/reference` (web/pages).
//!
//! Problem responses are listed per route with every `type` the route can answer; the sets that
//! many routes share are the `IntoResponses` types below.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use sha2::Digest as _;
use utoipa::openapi::Server;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, OpenIdConnect, SecurityScheme};
use utoipa::{IntoResponses, OpenApi, ToSchema};

use super::{audit, documents, me, search};
use crate::documents::NewDocument;
use crate::error::Problem;
use crate::policy::PolicyConfig;

mod deployment;

/// Where the document is served (DESIGN.md).
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where people read it.
pub const REFERENCE_PATH: &str = "/api/reference";

/// Problems every authenticated operation can answer.
#[derive(IntoResponses)]
#[allow(dead_code)] // Variants name responses; they are never built.
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
#[allow(dead_code)]
pub enum NotFound {
    /// `urn:anaspoc:problem:not-found`: no such document, or one the caller may not see.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// A change refused for the caller, or raced by another change.
#[derive(IntoResponses)]
#[allow(dead_code)]
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
#[allow(dead_code)]
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
#[allow(dead_code)]
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
#[allow(dead_code)]
pub struct UploadForm {
    metadata: NewDocument,
    /// The document's bytes; the media type is sniffed from them.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The body of a new version: the file alone.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VersionForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "anaspoc",
        description = "Secure analysis sharing of the Western Balkans Analysis Network. Every route \
            needs an OAuth 2.0 bearer access token from the configured OpenID Connect issuer; what a \
            caller may see follows the document's markings, and a document the caller may not see \
            answers exactly like one that does not exist. Errors are RFC 9457 problem documents \
            (`application/problem+json`) whose `type` is a stable `urn:anaspoc:problem:…` code.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(
        me::me,
        documents::create,
        documents::get,
        documents::update,
        documents::content,
        documents::add_version,
        documents::publish,
        documents::withdraw,
        search::search,
        audit::list,
        audit::export,
        audit::verify,
    ),
    components(schemas(Problem)),
    security(("bearer" = []), ("oidc" = [])),
    tags(
        (name = "identity", description = "Who the caller is"),
        (name = "documents", description = "Upload, read, version, mark and withdraw documents"),
        (name = "search", description = "Full-text search over what the caller may read"),
        (name = "audit", description = "The tamper-evident audit trail (capability `audit:read`)"),
    ),
)]
struct ApiDoc;

/// The document as served, made once at start-up.
pub struct Spec {
    document: Value,
    json: String,
    etag: String,
}

impl Spec {
    /// The contract of this deployment: served from `public_url`, tokens from `issuer_url`, the
    /// markings `policy` accepts.
    pub fn new(public_url: &str, issuer_url: &str, policy: &PolicyConfig) -> Self {
        let mut document = ApiDoc::openapi();
        document.info.version = env!("CARGO_PKG_VERSION").to_owned();
        document.servers = Some(vec![Server::new(public_url.trim_end_matches('/'))]);
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token (RFC 9068) of the configured issuer."))
                    .build(),
            ),
        );
        let discovery = format!("{}/.well-known/openid-configuration", issuer_url.trim_end_matches('/'));
        components.add_security_scheme("oidc", SecurityScheme::OpenIdConnect(OpenIdConnect::new(discovery)));
        let mut document = serde_json::to_value(&document).unwrap_or_default();
        deployment::describe(&mut document, policy);
        let json = document.to_string();
        let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(json.as_bytes())[..16]));
        Self { document, json, etag }
    }

    /// The document itself (the reference page renders it).
    pub fn document(&self) -> &Value {
        &self.document
    }
}

/// `GET /api/openapi.json`: no authentication (it is the contract, not data), cacheable, with
/// an `ETag` so that tools re-fetch it only when a deployment changes it.
pub async fn document(req: HttpRequest, spec: web::Data<Spec>) -> HttpResponse {
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == spec.etag || tag.trim() == "*"));
    let mut response = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, spec.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"));
    if unchanged {
        return response.finish();
    }
    response.content_type("application/json").body(spec.json.clone())
}

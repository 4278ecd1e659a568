//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations and the types they take and return (utoipa). Built once at start-up with this
//! deployment's public URL and issuer, served at `GET /api/openapi.json` to anyone (it holds no
//! data, only the contract) and rendered for people at `GET /api/reference` (web/pages).
//!
//! Problem responses are listed per route with every `type` the route can answer; the sets that
//! many routes share are in `api/contract.rs`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use sha2::Digest as _;
use utoipa::OpenApi;
use utoipa::openapi::Server;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, OpenIdConnect, SecurityScheme};

use super::{audit, documents, me, notifications, requests, saved_searches, search};
use crate::error::Problem;
use crate::policy::PolicyConfig;

mod deployment;

/// Where the document is served (DESIGN.md).
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where people read it.
pub const REFERENCE_PATH: &str = "/api/reference";

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
        requests::create,
        requests::list,
        requests::decide,
        documents::create_derivative,
        search::search,
        saved_searches::create,
        saved_searches::list,
        saved_searches::update,
        saved_searches::delete,
        notifications::list,
        notifications::read,
        notifications::read_all,
        audit::list,
        audit::export,
        audit::verify,
        audit::activity,
        audit::report,
    ),
    components(schemas(Problem)),
    security(("bearer" = []), ("oidc" = [])),
    tags(
        (name = "identity", description = "Who the caller is"),
        (name = "documents", description = "Upload, read, version, mark and withdraw documents"),
        (name = "requests", description = "Handling-code requests to a document's provider, its decisions, and sanitised derivatives"),
        (name = "search", description = "Full-text search over what the caller may read"),
        (name = "notifications", description = "Saved searches, their alerts, and the caller's notifications"),
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

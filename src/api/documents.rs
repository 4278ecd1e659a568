//! Document routes: JSON bodies and multipart framing in, views out. Every decision about
//! documents is the service's; downloads and uploads are the edge's shared HTTP sequences.

use actix_web::http::Method;
use actix_web::http::header::{self, CONTENT_TYPE};
use actix_web::mime;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::Operation;
use crate::caller::Caller;
use crate::document_id::RequestedId;
use crate::documents::{DocumentPatch, DocumentView, DocumentsError, NewDocument, Service};
use crate::edge::{Part, Parts, content_response, etag, precondition, read_text, unexpected};
use crate::error::{ApiError, Problem};

/// Largest JSON body (PATCH).
const MAX_JSON_BYTES: usize = 256 * 1024;

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new(Method::POST, "/documents", || web::to(create)),
        Operation::new(Method::GET, "/documents/{id}", || web::to(get)),
        Operation::new(Method::PATCH, "/documents/{id}", || web::to(update)),
        Operation::new(Method::GET, "/documents/{id}/content", || web::to(content)),
        Operation::new(Method::POST, "/documents/{id}/versions", || web::to(add_version)),
        Operation::new(Method::POST, "/documents/{id}/publish", || web::to(publish)),
        Operation::new(Method::POST, "/documents/{id}/withdraw", || web::to(withdraw)),
        Operation::new(Method::POST, "/documents/{id}/derivatives", || web::to(create_derivative)),
    ]
}

/// `201` body of an upload: the document plus the stored version's facts at top level.
#[derive(Serialize, utoipa::ToSchema)]
struct Created {
    version: i32,
    sha256: String,
    size: i64,
    media_type: String,
    #[serde(flatten)]
    document: DocumentView,
}

impl Created {
    fn response(document: DocumentView) -> HttpResponse {
        let latest = document.versions.last().cloned();
        let location = format!("/api/v1/documents/{}", document.id);
        let body = Created {
            version: latest.as_ref().map_or(0, |v| v.version),
            sha256: latest.as_ref().map(|v| v.sha256.clone()).unwrap_or_default(),
            size: latest.as_ref().map_or(0, |v| v.size),
            media_type: latest.map(|v| v.media_type).unwrap_or_default(),
            document,
        };
        HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .insert_header(etag(&body.document))
            .json(body)
    }
}

/// `POST /api/v1/documents`: parts `metadata` (JSON) then `file`.
#[utoipa::path(
    post,
    path = "/api/v1/documents",
    tag = "documents",
    description = "Upload a document: the `metadata` part (JSON) first, then the `file` part, \
        streamed to storage. Its markings are released from the uploader's country. Needs \
        `document:write`.",
    request_body(content = super::contract::UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored, audited, queued for text extraction", body = Created,
            headers(("Location" = String, description = "The document's URL"), ("ETag" = String, description = "Its revision"))),
        (status = 403, description = "`urn:anaspoc:problem:forbidden`: needs `document:write`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: a metadata field is not acceptable (`field` names it)", body = Problem, content_type = "application/problem+json"),
        super::contract::Upload,
        super::contract::Common,
    ),
)]
async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    service.may_create(&caller).await?;
    upload(caller, req, payload, service, None).await
}

/// `POST /api/v1/documents/{id}/derivatives`: parts `metadata` (JSON) then `file`.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/derivatives",
    tag = "requests",
    description = "Upload a derivative of a document — a sanitised version with its own (usually \
        lower) markings, linked to its source: the `metadata` part (JSON) first, then the `file` \
        part, as an upload. Only the source's provider organisation, with `document:write`. The \
        derivative is a document of its own: its readers see `derived_from` only if they may see \
        the source too.",
    params(("id" = String, Path, description = "The source document's id (a UUID)")),
    request_body(content = super::contract::UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored, audited (with the source's markings), queued for text extraction", body = Created,
            headers(("Location" = String, description = "The derivative's URL"), ("ETag" = String, description = "Its revision"))),
        (status = 403, description = "`urn:anaspoc:problem:forbidden`: needs `document:write` in the source's organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: a metadata field is not acceptable (`field` names it)", body = Problem, content_type = "application/problem+json"),
        super::contract::Upload,
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn create_derivative(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let source = RequestedId::parse(&id);
    service.may_derive(&caller, &source).await?;
    upload(caller, req, payload, service, Some(source)).await
}

/// An upload's parts — `metadata`, then `file` — stored as a new document, or as a derivative
/// of `source`.
async fn upload(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
    source: Option<RequestedId>,
) -> Result<HttpResponse, ApiError> {
    let mut parts = Parts::new(&req, payload, service.max_upload_bytes())?;
    let metadata: NewDocument = match parts.next().await? {
        Some(Part::Text { name, field }) if name == "metadata" => {
            parse_json("metadata", &read_text(&name, field).await?)?
        }
        Some(Part::File(_)) => {
            return Err(
                DocumentsError::malformed("metadata", "the metadata part must come before the file part").into()
            );
        }
        Some(Part::Text { name, .. }) => return Err(unexpected(&name).into()),
        None => return Err(DocumentsError::malformed("metadata", "the metadata part is missing").into()),
    };
    let plan = match &source {
        Some(source) => service.plan_derivative(&caller, source, metadata).await?,
        None => service.plan_create(&caller, metadata).await?,
    };
    let (object, filename) = parts.store_file(&service, &plan).await?;
    let document = service.commit_create(&caller, plan, object, filename.as_deref()).await?;
    Ok(Created::response(document))
}

/// `POST /api/v1/documents/{id}/versions`: part `file`.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/versions",
    tag = "documents",
    description = "Add a version: the `file` part alone. Only the originating organisation.",
    params(("id" = String, Path, description = "The document's id (a UUID)"), ("If-Match" = Option<String>, Header, description = "The `ETag` of the revision this change was made from; a newer revision answers 412")),
    request_body(content = super::contract::VersionForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document with its new version", body = Created,
            headers(("Location" = String), ("ETag" = String))),
        super::contract::Upload,
        super::contract::Change,
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn add_version(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let mut parts = Parts::new(&req, payload, service.max_upload_bytes())?;
    let plan = service.plan_version(&caller, &RequestedId::parse(&id), precondition(&req)).await?;
    let (object, filename) = parts.store_file(&service, &plan).await?;
    let document = service.commit_version(&caller, plan, object, filename.as_deref()).await?;
    Ok(Created::response(document))
}

#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    description = "A document's metadata, markings and versions.",
    params(("id" = String, Path, description = "The document's id (a UUID)")),
    responses(
        (status = 200, description = "The document", body = DocumentView,
            headers(("ETag" = String, description = "Its revision: send it as `If-Match` with a change"))),
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn get(caller: Caller, id: web::Path<String>, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let document = service.get(&caller, &RequestedId::parse(&id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(etag(&document))
        .json(document))
}

#[utoipa::path(
    patch,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    description = "Change metadata or markings; absent fields stay, `null` clears an optional one. \
        Only the originating organisation.",
    params(("id" = String, Path, description = "The document's id (a UUID)"), ("If-Match" = Option<String>, Header, description = "The `ETag` of the revision this change was made from; a newer revision answers 412")),
    request_body(content = DocumentPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed document", body = DocumentView, headers(("ETag" = String))),
        (status = 400, description = "`urn:anaspoc:problem:malformed-request`: the body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`urn:anaspoc:problem:unsupported-media-type`: send `application/json`", body = Problem, content_type = "application/problem+json"),
        super::contract::Change,
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn update(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let patch: DocumentPatch = json_body(&req, payload).await?;
    let document = service.update(&caller, &RequestedId::parse(&id), patch, precondition(&req)).await?;
    Ok(changed(document))
}

/// `POST /api/v1/documents/{id}/publish`: a draft becomes visible to those the markings allow.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/publish",
    tag = "documents",
    description = "Publish a draft: it becomes visible to everyone its markings allow.",
    params(("id" = String, Path, description = "The document's id (a UUID)"), ("If-Match" = Option<String>, Header, description = "The `ETag` of the revision this change was made from; a newer revision answers 412")),
    responses(
        (status = 200, description = "The published document", body = DocumentView, headers(("ETag" = String))),
        super::contract::Change,
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn publish(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    Ok(changed(service.publish(&caller, &RequestedId::parse(&id), precondition(&req)).await?))
}

/// `POST /api/v1/documents/{id}/withdraw`: hidden from everyone outside the originating organisation.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/withdraw",
    tag = "documents",
    description = "Withdraw a document: hidden from everyone outside the originating organisation.",
    params(("id" = String, Path, description = "The document's id (a UUID)"), ("If-Match" = Option<String>, Header, description = "The `ETag` of the revision this change was made from; a newer revision answers 412")),
    responses(
        (status = 200, description = "The withdrawn document", body = DocumentView, headers(("ETag" = String))),
        super::contract::Change,
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn withdraw(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    Ok(changed(service.withdraw(&caller, &RequestedId::parse(&id), precondition(&req)).await?))
}

/// The document after a change, with its new `ETag`.
fn changed(document: DocumentView) -> HttpResponse {
    HttpResponse::Ok().insert_header(etag(&document)).json(document)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentQuery {
    pub version: Option<i32>,
}

/// `GET /api/v1/documents/{id}/content?version=N`: streamed, ETag = SHA-256, single byte ranges.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}/content",
    tag = "documents",
    description = "A version's bytes, streamed (the latest unless `version` is given). The `ETag` \
        is the content's SHA-256; one byte range may be asked for.",
    params(
        ("id" = String, Path, description = "The document's id (a UUID)"),
        ("version" = Option<i32>, Query, description = "A version number (1, 2, …)", minimum = 1),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the caller has"),
    ),
    responses(
        (status = 200, description = "The content", content_type = "*/*", body = Vec<u8>,
            headers(("ETag" = String, description = "SHA-256 of the content"), ("Accept-Ranges" = String), ("Content-Disposition" = String))),
        (status = 206, description = "The asked-for range", content_type = "*/*", body = Vec<u8>,
            headers(("Content-Range" = String), ("ETag" = String))),
        (status = 304, description = "Unchanged since the `If-None-Match` copy"),
        (status = 400, description = "`urn:anaspoc:problem:invalid-query`: a parameter that is not `version`, or not a number", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`urn:anaspoc:problem:keys-destroyed`: the keys of the document's organisation were destroyed (encryption at rest); its content can no longer be read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:anaspoc:problem:not-found` (no such document, or one the caller may not see) or `urn:anaspoc:problem:version-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "`urn:anaspoc:problem:range-not-satisfiable`", body = Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
        super::contract::Common,
    ),
)]
async fn content(
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<ContentQuery>,
    req: HttpRequest,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    content_response(&req, &caller, &RequestedId::parse(&id), query.version, &service).await
}

/// A JSON request body (`application/json`, at most 256 KiB), parsed.
pub(super) async fn json_body<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
    }
    let body = payload.to_bytes_limited(MAX_JSON_BYTES).await.map_err(|_| {
        ApiError::from(DocumentsError::invalid("body", format!("is larger than {MAX_JSON_BYTES} bytes")))
    })?;
    let body = body.map_err(|e| DocumentsError::malformed("body", format!("unreadable body: {e}")))?;
    Ok(parse_json("body", &body)?)
}

/// Deserialize JSON, naming the field at fault: 400 for syntax, 422 for content.
fn parse_json<T: DeserializeOwned>(part: &str, bytes: &[u8]) -> Result<T, DocumentsError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let message = error.inner().to_string();
        if error.inner().is_syntax() || error.inner().is_eof() {
            return DocumentsError::malformed(part, format!("invalid JSON: {message}"));
        }
        let path = error.path().to_string();
        let field = if path == "." { backticked(&message).unwrap_or_else(|| part.to_owned()) } else { path };
        DocumentsError::invalid(field, message)
    })?;
    // One JSON value and nothing after it (`{…}junk` is not a body).
    deserializer.end().map_err(|error| DocumentsError::malformed(part, format!("invalid JSON: {error}")))?;
    Ok(value)
}

/// `unknown field `x`` → `x`.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

//! Document routes: JSON bodies and multipart framing in, views out. Every decision about
//! documents is the service's; downloads and uploads are the edge's shared HTTP sequences.

use actix_web::http::Method;
use actix_web::http::header::{self, CONTENT_TYPE};
use actix_web::mime;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::caller::Caller;
use crate::document_id::RequestedId;
use crate::documents::{DocumentPatch, DocumentView, DocumentsError, NewDocument, Service};
use crate::edge::{Part, Parts, content_response, etag, precondition, read_text, resource, unexpected};
use crate::error::ApiError;

/// Largest JSON body (PATCH).
const MAX_JSON_BYTES: usize = 256 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/documents", vec![(Method::POST, web::to(create))]))
        .service(resource("/documents/{id}", vec![(Method::GET, web::to(get)), (Method::PATCH, web::to(update))]))
        .service(resource("/documents/{id}/content", vec![(Method::GET, web::to(content))]))
        .service(resource("/documents/{id}/versions", vec![(Method::POST, web::to(add_version))]))
        .service(resource("/documents/{id}/{change:publish|withdraw}", vec![(Method::POST, web::to(change_status))]));
}

/// `201` body of an upload: the document plus the stored version's facts at top level.
#[derive(Serialize)]
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
async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    service.may_create(&caller).await?;
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
    let plan = service.plan_create(&caller, metadata).await?;
    let (object, filename) = parts.store_file(&service, &plan).await?;
    let document = service.commit_create(&caller, plan, object, filename.as_deref()).await?;
    Ok(Created::response(document))
}

/// `POST /api/v1/documents/{id}/versions`: part `file`.
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

async fn get(caller: Caller, id: web::Path<String>, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let document = service.get(&caller, &RequestedId::parse(&id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(etag(&document))
        .json(document))
}

async fn update(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
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
    let patch: DocumentPatch = parse_json("body", &body)?;
    let document = service.update(&caller, &RequestedId::parse(&id), patch, precondition(&req)).await?;
    Ok(changed(document))
}

/// The life-cycle changes of `POST /api/v1/documents/{id}/publish` and `/withdraw`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum StatusChange {
    Publish,
    Withdraw,
}

async fn change_status(
    caller: Caller,
    path: web::Path<(String, StatusChange)>,
    req: HttpRequest,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let (id, change) = path.into_inner();
    let (id, expected) = (RequestedId::parse(&id), precondition(&req));
    let document = match change {
        StatusChange::Publish => service.publish(&caller, &id, expected).await?,
        StatusChange::Withdraw => service.withdraw(&caller, &id, expected).await?,
    };
    Ok(changed(document))
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
async fn content(
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<ContentQuery>,
    req: HttpRequest,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    content_response(&req, &caller, &RequestedId::parse(&id), query.version, &service).await
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

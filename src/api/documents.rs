//! Document routes: multipart framing, JSON bodies and HTTP download semantics (ETag, Range,
//! Content-Disposition). Every decision about documents is the service's.

use actix_multipart::{Field, Multipart};
use actix_web::http::Method;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType, EntityTag};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::auth::Caller;
use crate::documents::{DocumentPatch, DocumentView, DocumentsError, NewDocument, Service};
use crate::error::{ApiError, resource};
use crate::storage::ReceivedObject;

/// Largest `metadata` part accepted.
const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Allowance for multipart framing and metadata on top of the file size limit.
const MULTIPART_OVERHEAD: u64 = 128 * 1024;

/// Largest JSON body (PATCH).
const MAX_JSON_BYTES: usize = 256 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/documents", vec![(Method::POST, web::to(create))]))
        .service(resource("/documents/{id}", vec![(Method::GET, web::to(get)), (Method::PATCH, web::to(update))]))
        .service(resource("/documents/{id}/content", vec![(Method::GET, web::to(content))]))
        .service(resource("/documents/{id}/versions", vec![(Method::POST, web::to(add_version))]))
        .service(resource("/documents/{id}/publish", vec![(Method::POST, web::to(publish))]))
        .service(resource("/documents/{id}/withdraw", vec![(Method::POST, web::to(withdraw))]));
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
        HttpResponse::Created().insert_header((header::LOCATION, location)).json(body)
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
    refuse_oversized(&req, service.max_upload_bytes())?;
    let mut parts = Multipart::new(req.headers(), payload);
    let metadata: NewDocument = match next_part(&mut parts).await? {
        Some(field) if part_name(&field) == "metadata" => parse_json("metadata", &read_small(field).await?)?,
        Some(field) if part_name(&field) == "file" => {
            return Err(malformed("metadata", "the metadata part must come before the file part"));
        }
        Some(field) => return Err(unexpected_part(&field)),
        None => return Err(malformed("metadata", "the metadata part is missing")),
    };
    let plan = service.plan_create(&caller, metadata).await?;
    let (object, filename) = receive_file(&service, &mut parts, plan.key()).await?;
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
    refuse_oversized(&req, service.max_upload_bytes())?;
    let plan = service.plan_version(&caller, &id).await?;
    let mut parts = Multipart::new(req.headers(), payload);
    let (object, filename) = receive_file(&service, &mut parts, plan.key()).await?;
    let document = service.commit_version(&caller, plan, object, filename.as_deref()).await?;
    Ok(Created::response(document))
}

/// Stream the `file` part into storage, then make sure nothing follows it.
async fn receive_file(
    service: &Service,
    parts: &mut Multipart,
    key: &crate::storage::ObjectKey,
) -> Result<(ReceivedObject, Option<String>), ApiError> {
    let field = match next_part(parts).await? {
        Some(field) if part_name(&field) == "file" => field,
        Some(field) => return Err(unexpected_part(&field)),
        None => return Err(malformed("file", "the file part is missing")),
    };
    let filename = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_owned);
    let object = service.receive(key, field).await?;
    match next_part(parts).await {
        Ok(None) => Ok((object, filename)),
        Ok(Some(field)) => {
            service.discard(object).await;
            Err(unexpected_part(&field))
        }
        Err(error) => {
            service.discard(object).await;
            Err(error)
        }
    }
}

async fn get(caller: Caller, id: web::Path<String>, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let document = service.get(&caller, &id).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(document))
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
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
    }
    let body = payload.to_bytes_limited(MAX_JSON_BYTES).await.map_err(|_| {
        ApiError::from(DocumentsError::invalid("body", format!("is larger than {MAX_JSON_BYTES} bytes")))
    })?;
    let body = body.map_err(|e| malformed("body", format!("unreadable body: {e}")))?;
    let patch: DocumentPatch = parse_json("body", &body)?;
    let document = service.update(&caller, &id, patch).await?;
    Ok(HttpResponse::Ok().json(document))
}

async fn publish(caller: Caller, id: web::Path<String>, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service.publish(&caller, &id).await?))
}

async fn withdraw(
    caller: Caller,
    id: web::Path<String>,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service.withdraw(&caller, &id).await?))
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
    content_response(&req, &caller, &id, query.version, &service).await
}

/// The download response for `caller` (the web interface serves the same).
pub async fn content_response(
    req: &HttpRequest,
    caller: &Caller,
    id: &str,
    version: Option<i32>,
    service: &Service,
) -> Result<HttpResponse, ApiError> {
    let content = service.content(caller, id, version).await?;
    let version = content.version().clone();
    let etag = EntityTag::new_strong(version.sha256.clone());
    let total = u64::try_from(version.size).unwrap_or(0);

    if if_none_match(req, &etag) {
        return Ok(HttpResponse::NotModified().insert_header(header::ETag(etag)).finish());
    }
    let range = requested_range(req, &etag, total)?;
    let download = service.open(&content, range.clone()).await?;

    let mut response = if range.is_some() { HttpResponse::PartialContent() } else { HttpResponse::Ok() };
    if range.is_some() {
        let served = &download.range;
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{total}", served.start, served.end.saturating_sub(1)),
        ));
    }
    response
        .insert_header((header::CONTENT_TYPE, version.media_type.clone()))
        .insert_header(header::ETag(etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(attachment(&version.filename))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Whatever the bytes are, a browser must not run them in the platform's origin.
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'"))
        .no_chunking(download.range.end - download.range.start);
    Ok(response.streaming(download.stream))
}

/// `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name (RFC 6266).
fn attachment(filename: &str) -> ContentDisposition {
    let ascii: String = filename.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '_' }).collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: filename.as_bytes().to_vec(),
            }),
        ],
    }
}

fn if_none_match(req: &HttpRequest, etag: &EntityTag) -> bool {
    req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.trim() == "*" || v.split(',').filter_map(|t| t.trim().parse::<EntityTag>().ok()).any(|t| t.weak_eq(etag))
    })
}

/// The single byte range asked for, if any and if still current (`If-Range`). Malformed or
/// multi-range headers are ignored (the whole body is served, as RFC 9110 allows).
fn requested_range(req: &HttpRequest, etag: &EntityTag, total: u64) -> Result<Option<std::ops::Range<u64>>, ApiError> {
    let Some(value) = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = req.headers().get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range.parse::<EntityTag>().map_or(true, |tag| !tag.strong_eq(etag))
    {
        return Ok(None);
    }
    let Ok(parsed) = http_range_header::parse_range_header(value) else {
        return Ok(None);
    };
    match parsed.validate(total) {
        Ok(ranges) if ranges.len() == 1 => Ok(ranges.first().map(|r| *r.start()..r.end() + 1)),
        Ok(_) => Ok(None),
        Err(_) => Err(DocumentsError::RangeNotSatisfiable { size: total }.into()),
    }
}

/// 413 before reading a body whose declared length is already too large.
fn refuse_oversized(req: &HttpRequest, limit: u64) -> Result<(), ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit.saturating_add(MULTIPART_OVERHEAD) => {
            Err(DocumentsError::TooLarge { limit }.into())
        }
        _ => Ok(()),
    }
}

async fn next_part(parts: &mut Multipart) -> Result<Option<Field>, ApiError> {
    parts.try_next().await.map_err(|e| malformed("body", format!("malformed multipart body: {e}")))
}

fn part_name(field: &Field) -> &str {
    field.name().unwrap_or_default()
}

async fn read_small(mut field: Field) -> Result<Vec<u8>, ApiError> {
    let name = part_name(&field).to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) =
        field.try_next().await.map_err(|e| malformed(name.clone(), format!("unreadable part: {e}")))?
    {
        if bytes.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(DocumentsError::invalid(name, format!("is larger than {MAX_METADATA_BYTES} bytes")).into());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Deserialize JSON, naming the field at fault: 400 for syntax, 422 for content.
fn parse_json<T: DeserializeOwned>(part: &str, bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let message = error.inner().to_string();
        if error.inner().is_syntax() || error.inner().is_eof() {
            return malformed(part, format!("invalid JSON: {message}"));
        }
        let path = error.path().to_string();
        let field = if path == "." { backticked(&message).unwrap_or_else(|| part.to_owned()) } else { path };
        DocumentsError::invalid(field, message).into()
    })?;
    // One JSON value and nothing after it (`{…}junk` is not a body).
    deserializer.end().map_err(|error| malformed(part, format!("invalid JSON: {error}")))?;
    Ok(value)
}

/// `unknown field `x`` → `x`.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

fn malformed(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
    DocumentsError::malformed(field, problem).into()
}

fn unexpected_part(field: &Field) -> ApiError {
    let name = part_name(field);
    malformed(name, format!("unexpected part `{name}`; send `metadata` (JSON) and then `file`"))
}

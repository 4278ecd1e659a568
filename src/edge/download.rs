//! A document version as an HTTP download: streamed, `ETag` = SHA-256, `If-None-Match`, single
//! byte ranges with `If-Range`, a `Content-Disposition` that survives any file name, and headers
//! that keep a browser from running the bytes in the platform's origin.

use std::ops::Range;

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType, EntityTag};
use actix_web::{HttpRequest, HttpResponse};

use crate::caller::Caller;
use crate::document_id::RequestedId;
use crate::documents::{DocumentsError, Service};
use crate::error::ApiError;

/// The download of `version` (the current one when `None`) of document `id`, for `caller`.
pub async fn content_response(
    req: &HttpRequest,
    caller: &Caller,
    id: &RequestedId,
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
    let download = service.open(caller, &content, range.clone()).await?;

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
fn requested_range(req: &HttpRequest, etag: &EntityTag, total: u64) -> Result<Option<Range<u64>>, ApiError> {
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

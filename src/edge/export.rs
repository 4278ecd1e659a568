//! An audit export as a download: streamed, never cached, named after the moment it was made.

use actix_web::HttpResponse;
use actix_web::http::header;
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};

use crate::audit::{AuditError, Export};

pub fn export_response<S>(export: Export<S>) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, AuditError>> + 'static,
{
    let format = export.format;
    let filename = format!("anaspoc-audit-{}.{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), format.extension());
    let body = export.body.map_err(|error| {
        tracing::error!(%error, "audit export failed mid-stream");
        std::io::Error::other(error.to_string())
    });
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

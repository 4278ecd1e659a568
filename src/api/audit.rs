//! Audit routes (capability `audit:read`): list with filters and a cursor, streamed export as JSON
//! Lines or CSV, and chain verification. The reader refuses and records callers without the
//! capability before their query is even parsed; every call it serves is itself audited.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::audit::{Action, Query, Reader};
use crate::caller::Caller;
use crate::edge::{export_response, resource};
use crate::error::ApiError;

const DEFAULT_LIMIT: u64 = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/audit", vec![(Method::GET, web::to(list))]))
        .service(resource("/audit/export", vec![(Method::GET, web::to(export))]))
        .service(resource("/audit/verify", vec![(Method::GET, web::to(verify))]));
}

/// `GET /api/v1/audit`: newest first, `limit` per page; `next_cursor` fetches the next page.
async fn list(caller: Caller, req: HttpRequest, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let auditor = reader.auditor(&caller, Action::AuditRead, req.query_string()).await?;
    let listed = auditor.list(&Query::parse(req.query_string())?, DEFAULT_LIMIT).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"events": listed.events, "next_cursor": listed.next_cursor})))
}

/// `GET /api/v1/audit/export?format=jsonl|csv`: the (filtered) trail, streamed. An unfiltered
/// JSON Lines export verifies with `tests/audit/verify_chain.py` or `anaspoc audit verify`.
async fn export(caller: Caller, req: HttpRequest, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let auditor = reader.auditor(&caller, Action::AuditExport, req.query_string()).await?;
    Ok(export_response(auditor.export(&Query::parse(req.query_string())?).await?))
}

/// `GET /api/v1/audit/verify`: recompute the chain and check the signed checkpoints.
async fn verify(caller: Caller, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let result = reader.auditor(&caller, Action::AuditVerify, "").await?.verify().await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(result))
}

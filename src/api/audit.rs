//! Audit routes (capability `audit:read`): list with filters and a cursor, streamed export as JSON
//! Lines or CSV, and chain verification. The reader refuses and records callers without the
//! capability before their query is even parsed; every call it serves is itself audited.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::Operation;
use crate::audit::verify::Verification;
use crate::audit::{Action, Activity, ActivityQuery, Event, Query, Reader, Report};
use crate::caller::Caller;
use crate::edge::export_response;
use crate::error::ApiError;

const DEFAULT_LIMIT: u64 = 100;

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new(Method::GET, "/audit", || web::to(list)),
        Operation::new(Method::GET, "/audit/export", || web::to(export)),
        Operation::new(Method::GET, "/audit/verify", || web::to(verify)),
        Operation::new(Method::GET, "/audit/activity", || web::to(activity)),
        Operation::new(Method::GET, "/audit/documents/{id}/report", || web::to(report)),
    ]
}

/// One page of the trail, newest first.
#[derive(Serialize, utoipa::ToSchema)]
struct Page {
    events: Vec<Event>,
    /// Send as `cursor` for the next (older) page; absent on the last.
    next_cursor: Option<String>,
}

/// `GET /api/v1/audit`: newest first, `limit` per page; `next_cursor` fetches the next page.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    description = "Audit events, newest first, filtered. Events name documents by id and \
        markings only, never by title or content. The call is itself audited.",
    params(
        super::contract::AuditFilters,
        ("cursor" = Option<i64>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Events per page (default 100)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "One page of events", body = Page),
        super::contract::Audit,
        super::contract::Common,
    ),
)]
async fn list(caller: Caller, req: HttpRequest, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let auditor = reader.auditor(&caller, Action::AuditRead, req.query_string()).await?;
    let listed = auditor.list(&Query::parse(req.query_string())?, DEFAULT_LIMIT).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Page { events: listed.events, next_cursor: listed.next_cursor }))
}

/// `GET /api/v1/audit/export?format=jsonl|csv`: the (filtered) trail, streamed. An unfiltered
/// JSON Lines export verifies with `tests/audit/verify_chain.py` or `anaspoc audit verify`.
#[utoipa::path(
    get,
    path = "/api/v1/audit/export",
    tag = "audit",
    description = "The (filtered) trail, streamed as JSON Lines or CSV. An unfiltered JSON Lines \
        export verifies offline (`anaspoc audit verify --from-export`).",
    params(
        super::contract::AuditFilters,
        ("format" = Option<String>, Query, description = "`jsonl` (default) or `csv`"),
    ),
    responses(
        (status = 200, description = "The events, oldest first, one per line",
            content((String = "application/jsonl"), (String = "text/csv")),
            headers(("Content-Disposition" = String))),
        super::contract::Audit,
        super::contract::Common,
    ),
)]
async fn export(caller: Caller, req: HttpRequest, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let auditor = reader.auditor(&caller, Action::AuditExport, req.query_string()).await?;
    Ok(export_response(auditor.export(&Query::parse(req.query_string())?).await?))
}

/// `GET /api/v1/audit/verify`: recompute the chain and check the signed checkpoints.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    description = "Recompute the hash chain and check the signed checkpoints.",
    responses(
        (status = 200, description = "`ok` with the head, or `broken` with the first bad link", body = Verification),
        (status = 403, description = "`urn:anaspoc:problem:forbidden`: needs `audit:read`", body = crate::error::Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn verify(caller: Caller, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let result = reader.auditor(&caller, Action::AuditVerify, "").await?.verify().await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(result))
}

/// `GET /api/v1/audit/documents/{id}/report`: who accessed one document.
#[utoipa::path(
    get,
    path = "/api/v1/audit/documents/{id}/report",
    tag = "audit",
    description = "Who viewed, downloaded, received as a search hit or notification, changed, asked \
        about, or was refused the document — grouped by kind of access and by organisation and \
        country, with counts, first and last times, the people, and the markings the document \
        carried at the time. Ids and markings only, never the title or content. Any well-formed \
        id answers (the trail may name documents that no longer exist). The call is audited.",
    params(("id" = uuid::Uuid, Path, description = "The document's id")),
    responses(
        (status = 200, description = "The report", body = Report),
        super::contract::Audit,
        super::contract::Common,
    ),
)]
async fn report(caller: Caller, id: web::Path<String>, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let auditor = reader.auditor(&caller, Action::AuditReport, &format!("document={}", id.as_str())).await?;
    let report = auditor.report(&id).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(report))
}

/// `GET /api/v1/audit/activity`: the numbers behind the audit page's charts, and the flags.
#[utoipa::path(
    get,
    path = "/api/v1/audit/activity",
    tag = "audit",
    description = "Events per day by action and outcome, refusals by organisation and country, \
        the actors with most downloads, and the anomaly flags ([audit.alerts]) — over a window of \
        days (default: the last 14), for everyone or one actor. As JSON, or as one CSV table \
        (`chart,day,action,outcome,organisation,country,actor,count`). The call is audited.",
    params(
        ("actor" = Option<String>, Query, description = "One actor's `sub`: their timeline"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "First day (default: 13 days before `to`)"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Last day (default: now)"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`"),
    ),
    responses(
        (status = 200, description = "The counts and flags", body = Activity,
            content((Activity = "application/json"), (String = "text/csv"))),
        super::contract::Audit,
        super::contract::Common,
    ),
)]
async fn activity(caller: Caller, req: HttpRequest, reader: web::Data<Reader>) -> Result<HttpResponse, ApiError> {
    let auditor = reader.auditor(&caller, Action::AuditActivity, req.query_string()).await?;
    let query = ActivityQuery::parse(req.query_string())?;
    let activity = auditor.activity(&query).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if query.csv {
        return Ok(response
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"audit-activity.csv\""))
            .body(activity.csv()?));
    }
    Ok(response.json(activity))
}

//! Audit routes (capability `audit:read`): list with filters and a cursor, streamed export as JSON
//! Lines or CSV, and chain verification. Every call — allowed or refused — is itself audited.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Action, Filter, NewEvent, Outcome, SigningKey};
use crate::auth::{AuthError, Caller, Capability};
use crate::error::{ApiError, resource};

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/audit", vec![(Method::GET, web::to(list))]))
        .service(resource("/audit/export", vec![(Method::GET, web::to(export))]))
        .service(resource("/audit/verify", vec![(Method::GET, web::to(verify))]));
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub document: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
    pub format: Option<String>,
}

impl AuditQuery {
    pub fn filter(&self) -> Result<Filter, ApiError> {
        let non_empty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let action = non_empty(&self.action);
        if let Some(action) = &action
            && Action::parse(action).is_none()
        {
            return Err(ApiError::invalid("action", format!("`{action}` is not an audit action")));
        }
        let outcome = non_empty(&self.outcome);
        if let Some(outcome) = &outcome
            && Outcome::parse(outcome).is_none()
        {
            return Err(ApiError::invalid("outcome", "must be allowed, denied or error"));
        }
        let time = |field: &'static str, value: Option<String>| match value {
            None => Ok(None),
            Some(v) => audit::normalise_time(&v)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(field, format!("`{v}` is not an RFC 3339 time"))),
        };
        Ok(Filter {
            actor: non_empty(&self.actor),
            document: non_empty(&self.document),
            action,
            outcome,
            from: time("from", non_empty(&self.from))?,
            to: time("to", non_empty(&self.to))?,
        })
    }

    pub fn cursor(&self) -> Result<Option<i64>, ApiError> {
        match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => {
                c.parse().map(Some).map_err(|_| ApiError::invalid("cursor", "is not a cursor from a previous page"))
            }
        }
    }

    fn described(&self) -> serde_json::Value {
        json!({
            "actor": self.actor, "document": self.document, "action": self.action, "outcome": self.outcome,
            "from": self.from, "to": self.to, "cursor": self.cursor, "format": self.format,
        })
    }
}

/// Refuse callers without `audit:read`, recording the attempt.
pub async fn require_auditor(
    caller: &Caller,
    log: &audit::Log,
    action: Action,
    query: &AuditQuery,
) -> Result<(), ApiError> {
    if caller.principal.has(Capability::AuditRead) {
        return Ok(());
    }
    log.record(
        NewEvent::by(&caller.principal, &caller.request, action, Outcome::Denied)
            .details(json!({"reason": "missing capability audit:read", "query": query.described()})),
    )
    .await?;
    Err(AuthError::MissingCapability(Capability::AuditRead).into())
}

/// `GET /api/v1/audit`: newest first, `limit` per page; `next_cursor` fetches the next page.
async fn list(caller: Caller, req: HttpRequest, log: web::Data<audit::Log>) -> Result<HttpResponse, ApiError> {
    let query = audit_query(&caller, &log, Action::AuditRead, &req).await?;
    let (events, next_cursor) = list_events(&caller, &query, &log).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"events": events, "next_cursor": next_cursor})))
}

/// One audited page of events for an auditor (the web interface shows the same).
pub async fn list_events(
    caller: &Caller,
    query: &AuditQuery,
    log: &audit::Log,
) -> Result<(Vec<audit::Event>, Option<String>), ApiError> {
    require_auditor(caller, log, Action::AuditRead, query).await?;
    let filter = query.filter()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let events = log.page(&filter, query.cursor()?, limit).await?;
    let next_cursor = (events.len() as u64 == limit).then(|| events.last().map(|e| e.seq.to_string())).flatten();
    log.record(
        NewEvent::by(&caller.principal, &caller.request, Action::AuditRead, Outcome::Allowed)
            .details(json!({"query": query.described(), "returned": events.len()})),
    )
    .await?;
    Ok((events, next_cursor))
}

/// `GET /api/v1/audit/export?format=jsonl|csv`: the (filtered) trail, streamed. An unfiltered
/// JSON Lines export verifies with `tests/audit/verify_chain.py` or `anaspoc audit verify`.
async fn export(caller: Caller, req: HttpRequest, log: web::Data<audit::Log>) -> Result<HttpResponse, ApiError> {
    let query = audit_query(&caller, &log, Action::AuditExport, &req).await?;
    export_response(&caller, &query, &log).await
}

/// The request's audit query. Parsed by hand rather than by an extractor so that a caller
/// without `audit:read` is refused — and audited — whatever the query string holds.
async fn audit_query(
    caller: &Caller,
    log: &audit::Log,
    action: Action,
    req: &HttpRequest,
) -> Result<AuditQuery, ApiError> {
    match web::Query::<AuditQuery>::from_query(req.query_string()) {
        Ok(query) => Ok(query.into_inner()),
        Err(error) => {
            require_auditor(caller, log, action, &AuditQuery::default()).await?;
            Err(ApiError::InvalidQuery(error.to_string()))
        }
    }
}

pub async fn export_response(caller: &Caller, query: &AuditQuery, log: &audit::Log) -> Result<HttpResponse, ApiError> {
    require_auditor(caller, log, Action::AuditExport, query).await?;
    let filter = query.filter()?;
    let format_name = query.format.as_deref().unwrap_or("jsonl");
    let format =
        audit::export::Format::parse(format_name).ok_or_else(|| ApiError::invalid("format", "must be jsonl or csv"))?;
    log.record(
        NewEvent::by(&caller.principal, &caller.request, Action::AuditExport, Outcome::Allowed)
            .details(json!({"query": query.described()})),
    )
    .await?;
    let filename = format!("anaspoc-audit-{}.{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), format.extension());
    let body = audit::export::export(log.clone(), filter, format).map_err(|e| {
        tracing::error!(error = %e, "audit export failed mid-stream");
        std::io::Error::other(e.to_string())
    });
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

/// `GET /api/v1/audit/verify`: recompute the chain and check the signed checkpoints.
async fn verify(
    caller: Caller,
    log: web::Data<audit::Log>,
    key: web::Data<SigningKey>,
) -> Result<HttpResponse, ApiError> {
    let result = verify_chain(&caller, &log, &key).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(result))
}

pub async fn verify_chain(
    caller: &Caller,
    log: &audit::Log,
    key: &SigningKey,
) -> Result<audit::Verification, ApiError> {
    require_auditor(caller, log, Action::AuditVerify, &AuditQuery::default()).await?;
    let result = audit::verify::verify_database(log, Vec::new(), Some(key.key_id())).await?;
    log.record(
        NewEvent::by(&caller.principal, &caller.request, Action::AuditVerify, Outcome::Allowed)
            .details(serde_json::to_value(&result).unwrap_or_default()),
    )
    .await?;
    Ok(result)
}

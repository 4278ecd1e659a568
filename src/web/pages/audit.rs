//! `GET /audit`: auditors only — filters, the events, export links and chain verification —
//! read through the same audit reader as the API, which refuses and records everyone else.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde_json::{Value, json};

use super::html_page;
use crate::audit::{Action, Query, Reader, Verification};
use crate::edge::export_response;
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

/// Events per page.
const PAGE_LIMIT: u64 = 50;

pub async fn page(
    viewer: Viewer,
    req: HttpRequest,
    state: web::Data<WebState>,
    reader: web::Data<Reader>,
) -> Result<HttpResponse, WebError> {
    let failed = |e| WebError::from_service(e, viewer.lang);
    let asked = req.query_string();
    // `verify` is the page's own switch; everything else is the audit query.
    let verify = url::form_urlencoded::parse(asked.as_bytes()).any(|(k, _)| k == "verify");
    let auditor = reader
        .auditor(&viewer.caller, if verify { Action::AuditVerify } else { Action::AuditRead }, asked)
        .await
        .map_err(failed)?;
    let query = Query::from_pairs(url::form_urlencoded::parse(asked.as_bytes()).filter(|(k, _)| k != "verify"))
        .map_err(failed)?;
    let verification = if verify { Some(auditor.verify().await.map_err(failed)?) } else { None };
    let listed = auditor.list(&query, PAGE_LIMIT).await.map_err(failed)?;

    let filters: Vec<(String, String)> = url::form_urlencoded::parse(asked.as_bytes())
        .filter(|(k, _)| k != "cursor" && k != "verify")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let with = |extra: (&str, &str)| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(filters.iter().map(|(k, v)| (k.as_str(), v.as_str()))).append_pair(extra.0, extra.1);
        serializer.finish()
    };
    let shown = |name: &str| filters.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let verification = verification.map(|v| match v {
        Verification::Ok { count, head_hash, .. } => json!({"ok": true, "count": count, "head": head_hash}),
        Verification::Broken { seq, reason, .. } => json!({"ok": false, "seq": seq, "reason": reason}),
    });
    let rows: Vec<Value> = listed
        .events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "at": e.at,
                // "2026-11-28T23:19:14.562Z" → "2026-11-28 23:19:14.562": readable, one line.
                "at_display": e.at.replacen('T', " ", 1).trim_end_matches('Z'),
                "actor": e.actor.sub,
                "organisation": e.actor.organisation,
                "action": e.action.as_str(),
                "outcome": e.outcome.as_str(),
                "document": e.target.document_id,
                "version": e.target.version,
                "request": e.request.id,
                "ip": e.request.ip,
                "details": e.details.to_string(),
            })
        })
        .collect();
    let html = state.render(
        "audit.html",
        viewer.lang,
        Some(&viewer),
        context! {
            events => rows,
            query => json!({
                "actor": shown("actor"), "document": shown("document"), "action": shown("action"),
                "outcome": shown("outcome"), "from": shown("from"), "to": shown("to"),
            }),
            actions => Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            next => listed.next_cursor.map(|c| format!("/audit?{}", with(("cursor", &c)))),
            export_jsonl => format!("/audit/export?{}", with(("format", "jsonl"))),
            export_csv => format!("/audit/export?{}", with(("format", "csv"))),
            verify_url => format!("/audit?{}", with(("verify", "1"))),
            verification => verification,
        },
    )?;
    Ok(html_page(html))
}

/// `GET /audit/export?format=…`: the API's streamed export, with the session's identity.
pub async fn export(viewer: Viewer, req: HttpRequest, reader: web::Data<Reader>) -> Result<HttpResponse, WebError> {
    let failed = |e| WebError::from_service(e, viewer.lang);
    let asked = req.query_string();
    let auditor = reader.auditor(&viewer.caller, Action::AuditExport, asked).await.map_err(failed)?;
    // The page's links carry its filters and paging; an export is always the whole match.
    let mut query = Query::parse(asked).map_err(failed)?;
    query.before = None;
    query.limit = None;
    Ok(export_response(auditor.export(&query).await.map_err(failed)?))
}

//! `GET /audit`: auditors only — filters, the events, export links and chain verification —
//! read through the same audit reader as the API, which refuses and records everyone else.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde_json::{Value, json};

use super::html_page;
use crate::audit::report::Access;
use crate::audit::{Action, Activity, ActivityQuery, Query, Reader, Verification};
use crate::edge::export_response;
use crate::web::charts;
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
    // The charts and flags of the same filters' window (and actor: their timeline). A window
    // the charts cannot count (over a year, or ending before it starts) leaves the list alone.
    let window = ActivityQuery::from_pairs(
        url::form_urlencoded::parse(asked.as_bytes()).filter(|(k, v)| k != "verify" && !v.is_empty()),
        chrono::Utc::now(),
    )
    .ok();
    let activity = match &window {
        Some(window) => Some(auditor.activity(window).await.map_err(failed)?),
        None => None,
    };
    let panel = activity.as_ref().map(|activity| activity_panel(activity, &state, viewer.lang));

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
            activity => panel,
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

/// What the activity section shows: its window, the CSV link, the flags and the charts.
fn activity_panel(activity: &Activity, state: &WebState, lang: &'static str) -> Value {
    let mut csv = url::form_urlencoded::Serializer::new(String::new());
    if let Some(actor) = &activity.actor {
        csv.append_pair("actor", actor);
    }
    csv.append_pair("from", &activity.from).append_pair("to", &activity.to);
    let flags: Vec<Value> = activity
        .flags
        .iter()
        .map(|flag| {
            json!({
                "rule": state.t(lang, &format!("flag_{}", flag.rule.as_str().replace('-', "_"))),
                "rule_code": flag.rule.as_str(),
                "actor": flag.actor,
                "count": flag.count,
                "threshold": flag.threshold,
                "hour": flag.from.get(..16).unwrap_or(&flag.from).replacen('T', " ", 1),
                "link": flag.link,
            })
        })
        .collect();
    json!({
        "actor": activity.actor,
        "from": activity.from.get(..10),
        "to": activity.to.get(..10),
        "csv": format!("/audit/activity.csv?{}", csv.finish()),
        "flags": flags,
        "charts": charts::activity(activity, |key| state.t(lang, key)),
    })
}

/// `GET /audit/activity.csv`: the numbers behind the page's charts and its flags.
pub async fn activity_csv(
    viewer: Viewer,
    req: HttpRequest,
    reader: web::Data<Reader>,
) -> Result<HttpResponse, WebError> {
    let failed = |e| WebError::from_service(e, viewer.lang);
    let asked = req.query_string();
    let auditor = reader.auditor(&viewer.caller, Action::AuditActivity, asked).await.map_err(failed)?;
    let mut query = ActivityQuery::parse(asked).map_err(failed)?;
    query.csv = true;
    let activity = auditor.activity(&query).await.map_err(failed)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((actix_web::http::header::CONTENT_DISPOSITION, "attachment; filename=\"audit-activity.csv\""))
        .body(activity.csv().map_err(failed)?))
}

/// `GET /audit/documents/{id}`: the per-document access report, for people.
pub async fn report(
    viewer: Viewer,
    id: web::Path<String>,
    state: web::Data<WebState>,
    reader: web::Data<Reader>,
) -> Result<HttpResponse, WebError> {
    let failed = |e| WebError::from_service(e, viewer.lang);
    let auditor = reader
        .auditor(&viewer.caller, Action::AuditReport, &format!("document={}", id.as_str()))
        .await
        .map_err(failed)?;
    let report = auditor.report(&id).await.map_err(failed)?;
    let sections: Vec<Value> = Access::ALL
        .iter()
        .filter_map(|access| {
            let groups: Vec<Value> = report
                .groups
                .iter()
                .filter(|group| group.access == *access)
                .map(|group| {
                    json!({
                        "organisation": group.organisation, "country": group.country, "count": group.count,
                        "first": display_time(&group.first_at), "last": display_time(&group.last_at),
                        "actors": group.actors.iter().map(|a| json!({
                            "sub": a.sub, "name": a.name, "count": a.count,
                        })).collect::<Vec<_>>(),
                        "markings": group.markings.iter().map(markings_line).collect::<Vec<_>>(),
                    })
                })
                .collect();
            (!groups.is_empty()).then(|| {
                json!({
                    "title": state.t(viewer.lang, &format!("access_{}", access.as_str().replace('-', "_"))),
                    "code": access.as_str(),
                    "total": report.totals.get(access.as_str()).copied().unwrap_or_default(),
                    "groups": groups,
                })
            })
        })
        .collect();
    let history: Vec<Value> = report
        .markings_history
        .iter()
        .map(|change| {
            json!({"at": display_time(&change.at), "action": change.action.as_str(), "actor": change.actor,
                   "markings": markings_line(&change.markings)})
        })
        .collect();
    let html = state.render(
        "audit_report.html",
        viewer.lang,
        Some(&viewer),
        context! {
            id => report.document_id,
            originator => report.originator.as_ref().map(|o| json!({"organisation": o.organisation, "country": o.country})),
            history => history,
            sections => sections,
            events => format!("/audit?document={}", report.document_id),
        },
    )?;
    Ok(html_page(html))
}

/// "2026-11-28T23:19:14.562Z" → "2026-11-28 23:19:14": readable, one line.
fn display_time(at: &str) -> String {
    at.get(..19).unwrap_or(at).replacen('T', " ", 1)
}

/// Markings on one line, as auditors read them: `RESTRICTED · TLP:AMBER · H1 · AL, RS`.
fn markings_line(markings: &Value) -> String {
    let text = |key: &str| markings.get(key).and_then(Value::as_str).unwrap_or("?").to_owned();
    let list = |key: &str| {
        markings
            .get(key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
    };
    let mut parts = vec![text("classification"), format!("TLP:{}", text("tlp")), text("handling_code")];
    parts.extend(list("releasable_to"));
    if let Some(recipients) = list("recipients").filter(|r| !r.is_empty()) {
        parts.push(format!("→ {recipients}"));
    }
    parts.join(" · ")
}

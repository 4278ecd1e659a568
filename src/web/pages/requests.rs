//! Handling-code requests in the browser: `GET /requests` — the organisation's incoming box
//! (requests on its documents, with approve/deny and "answer with a derivative") and its
//! outgoing one; `POST /requests/{id}/decision` — the provider's answer. (The document page
//! takes its own request forms.) The same service calls as the API's.

use actix_web::{HttpResponse, web};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Pairs, first, html_page, invalid_form, label, optional, see_other};
use crate::documents::{
    BoxName, DocumentsError, NewDecision, RequestStatus, RequestView, RequestsQuery, Service, Verdict,
};
use crate::policy::Capability;
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

#[derive(Deserialize)]
pub struct BoxQuery {
    #[serde(rename = "box")]
    r#box: Option<BoxName>,
    status: Option<RequestStatus>,
}

/// `GET /requests?box=incoming|outgoing&status=…`: incoming by default for those who provide
/// documents (`document:write`), outgoing for the others.
pub async fn page(
    viewer: Viewer,
    query: web::Query<BoxQuery>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let writer = viewer.caller.principal.has(Capability::DocumentWrite);
    let r#box = query.r#box.unwrap_or(if writer { BoxName::Incoming } else { BoxName::Outgoing });
    Ok(html_page(render(&state, &viewer, &service, r#box, query.status, None).await?))
}

async fn render(
    state: &WebState,
    viewer: &Viewer,
    service: &Service,
    r#box: BoxName,
    status: Option<RequestStatus>,
    error: Option<(String, String, String)>,
) -> Result<String, WebError> {
    let query = RequestsQuery { r#box, status, limit: None };
    let items = service.requests(&viewer.caller, query).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    let items: Vec<Value> = items.into_iter().map(|request| shown(state, viewer, request)).collect();
    let (error_request, error_field, error_text) = match error {
        Some((request, field, text)) => (Some(request), Some(field), Some(text)),
        None => (None, None, None),
    };
    state.render(
        "requests.html",
        viewer.lang,
        Some(viewer),
        context! {
            incoming => r#box == BoxName::Incoming,
            writer => viewer.caller.principal.has(Capability::DocumentWrite),
            status => status.map(RequestStatus::as_str),
            requests => items,
            error_request => error_request,
            error_field => error_field,
            error_text => error_text,
        },
    )
}

/// A request as the page shows it: names of countries in the reader's language, times in UTC.
pub(super) fn shown(state: &WebState, viewer: &Viewer, request: RequestView) -> Value {
    let kind = request.kind.as_str();
    json!({
        "id": request.id,
        "kind": kind,
        "kind_key": kind.replace('-', "_"),
        "status": request.status.as_str(),
        "document_id": request.document_id,
        "document_title": request.document_title,
        "justification": request.justification,
        "case_reference": request.case_reference,
        "recipient": request.recipient.map(|r| format!("{} ({})", r.organisation, label(state, viewer.lang, "country", &r.country))),
        "requester": format!("{} — {} ({})", request.requester.name, request.requester.organisation,
            label(state, viewer.lang, "country", &request.requester.country)),
        "created_at": request.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        "decided_at": request.decided_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        "decided_by": request.decided_by,
        "decision_note": request.decision_note,
        "derivative_id": request.derivative_id,
    })
}

/// `POST /requests/{id}/decision`: approve or deny, with the note.
pub async fn decide(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let lang = viewer.lang;
    let decision = match first(&pairs, "decision") {
        Some("approve") => Verdict::Approve,
        Some("deny") => Verdict::Deny,
        _ => return Err(WebError::BadForm { lang }),
    };
    let decision = NewDecision {
        decision,
        note: first(&pairs, "note").unwrap_or_default().to_owned(),
        derivative_id: optional(&pairs, "derivative_id"),
    };
    match service.decide_request(&viewer.caller, &id, decision).await {
        Ok(_) => Ok(see_other("/requests?box=incoming")),
        Err(DocumentsError::Invalid { field, problem }) => {
            let error = Some((id.into_inner(), field, problem));
            let html = render(&state, &viewer, &service, BoxName::Incoming, None, error).await?;
            Ok(invalid_form(html))
        }
        Err(other) => Err(WebError::from_service(other, lang)),
    }
}

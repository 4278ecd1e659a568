//! `GET /documents/{id}`: banners, markings in words, versions, its source and derivatives, the
//! permissions the reader's organisation holds; for readers of other organisations the forms
//! that ask the provider (`requests.rs` takes them); for the originator organisation the forms
//! that change it: edit, new version, publish, withdraw, derive. Downloads go through the same
//! response as the API's.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::multipart_form::{Refusal, form_fields, parts_of, settle};
use super::{
    Pairs, allowed_levels, comma_list, first, html_page, invalid_form, label, level_class, optional, releasability,
    see_other, tlp_class,
};
use crate::document_id::RequestedId;
use crate::documents::{DocumentPatch, DocumentView, DocumentsError, NewRequest, Precondition, Recipient, Service};
use crate::edge::content_response;
use crate::policy::{HandlingCode, Tlp};
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

pub async fn page(
    viewer: Viewer,
    id: web::Path<String>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let view = service.get(&viewer.caller, &RequestedId::parse(&id)).await.map_err(|e| failed(e, &viewer))?;
    Ok(html_page(render(&state, &viewer, view, None, None)?))
}

/// A change the service refused as invalid: the page again, with the message next to the field.
async fn refused_change(
    state: &WebState,
    viewer: &Viewer,
    service: &Service,
    id: &RequestedId,
    (field, problem): (String, String),
    form: Option<Value>,
) -> Result<HttpResponse, WebError> {
    let view = service.get(&viewer.caller, id).await.map_err(|e| failed(e, viewer))?;
    Ok(invalid_form(render(state, viewer, view, Some((field, problem)), form)?))
}

fn render(
    state: &WebState,
    viewer: &Viewer,
    view: DocumentView,
    error: Option<(String, String)>,
    form: Option<Value>,
) -> Result<String, WebError> {
    let markings = &view.markings;
    let released = markings.releasable_to().codes();
    let countries: Vec<Value> =
        released.iter().map(|code| json!({"code": code, "name": label(state, viewer.lang, "country", code)})).collect();
    let editable_countries: Vec<Value> = state
        .countries
        .iter()
        .map(|code| {
            json!({
                "code": code,
                "name": label(state, viewer.lang, "country", code),
                "checked": released.contains(code),
            })
        })
        .collect();
    let code = markings.handling_code().as_str();
    let document = json!({
        "id": view.id,
        "title": view.title,
        "summary": view.summary,
        "language": view.language,
        "tags": view.tags,
        "classification": markings.classification().name(),
        "classification_class": level_class(markings.classification()),
        "tlp": markings.tlp().as_str(),
        "tlp_class": tlp_class(markings.tlp()),
        "handling_code": code,
        "handling_meaning": state.catalogues().get(viewer.lang, &format!("handling_meaning.{code}")),
        "handling_note": markings.handling_note(),
        "releasable_all": released == ["ALL"],
        "countries": countries,
        "recipients": markings.recipients().iter().collect::<Vec<_>>(),
        "originator_org": view.originator_org,
        "originator_country": label(state, viewer.lang, "country", &view.originator_country),
        "status": view.status.as_str(),
        "published_at": view.published_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        "versions": view.versions.iter().rev().map(|v| json!({
            "version": v.version,
            "size": v.size,
            "sha256": v.sha256,
            "media_type": v.media_type,
            "filename": v.filename,
            "created_by": v.created_by,
            "created_at": v.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            "ingest": v.ingest.state,
            "ingest_error": v.ingest.error,
            "ingest_note": v.ingest.note,
        })).collect::<Vec<_>>(),
        "can_change": view.can_change,
        "revision": view.revision,
        "requestable": view.requestable.iter().map(|kind| json!({
            "kind": kind.as_str(),
            "key": kind.as_str().replace('-', "_"),
            "needs_recipient": kind.needs_recipient(),
        })).collect::<Vec<_>>(),
        "derived_from": view.derived_from,
        "derivatives": view.derivatives.iter().map(|d| json!({
            "id": d.id,
            "title": d.title,
            "classification": d.markings.classification().name(),
            "classification_class": level_class(d.markings.classification()),
            "tlp": d.markings.tlp().as_str(),
            "tlp_class": tlp_class(d.markings.tlp()),
            "handling_code": d.markings.handling_code().as_str(),
            "status": d.status.as_str(),
        })).collect::<Vec<_>>(),
        "permissions": view.permissions.into_iter().map(|p| super::requests::shown(state, viewer, p)).collect::<Vec<_>>(),
    });
    let network: Vec<Value> = state
        .countries
        .iter()
        .map(|code| json!({"code": code, "name": label(state, viewer.lang, "country", code)}))
        .collect();
    state.render(
        "document.html",
        viewer.lang,
        Some(viewer),
        context! {
            document => document,
            levels => allowed_levels(state, viewer),
            tlps => Tlp::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            codes => HandlingCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            edit_countries => editable_countries,
            network => network,
            error_field => error.as_ref().map(|(f, _)| f.clone()),
            error_text => error.map(|(_, t)| t),
            form => form,
        },
    )
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    version: Option<i32>,
}

/// `GET /documents/{id}/download?version=N`: the API's download, with the session's identity.
pub async fn download(
    viewer: Viewer,
    id: web::Path<String>,
    query: web::Query<DownloadQuery>,
    req: HttpRequest,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    content_response(&req, &viewer.caller, &RequestedId::parse(&id), query.version, &service)
        .await
        .map_err(|e| WebError::from_service(e, viewer.lang))
}

/// `POST /documents/{id}/edit`: title, summary, tags and markings.
pub async fn edit(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let patch = DocumentPatch {
        title: first(&pairs, "title").map(str::to_owned),
        summary: Some(optional(&pairs, "summary")),
        language: None,
        tags: Some(comma_list(first(&pairs, "tags"))),
        classification: first(&pairs, "classification").map(str::to_owned),
        tlp: first(&pairs, "tlp").map(str::to_owned),
        handling_code: first(&pairs, "handling_code").map(str::to_owned),
        handling_note: Some(optional(&pairs, "handling_note")),
        releasable_to: Some(releasability(&pairs)),
        recipients: Some(comma_list(first(&pairs, "recipients"))),
    };
    let id = RequestedId::parse(&id);
    match service.update(&viewer.caller, &id, patch, expected(&pairs)).await {
        Ok(view) => Ok(see_other(&format!("/documents/{}", view.id))),
        Err(DocumentsError::Invalid { field, problem }) => {
            refused_change(&state, &viewer, &service, &id, (field, problem), Some(super::form_echo(&pairs))).await
        }
        // Changed meanwhile: the page as it is now, saying so (what was typed is not reapplied).
        Err(DocumentsError::Stale) => refused_change(&state, &viewer, &service, &id, changed_meanwhile(), None).await,
        Err(other) => Err(failed(other, &viewer)),
    }
}

/// `POST /documents/{id}/versions`: a new version (multipart: `csrf`, then `file`) — the same
/// upload sequence as the API's, so a missing file or a part after it is refused the same way.
pub async fn new_version(
    viewer: Viewer,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let id = RequestedId::parse(&id);
    let mut parts = parts_of(&req, payload, service.max_upload_bytes(), viewer.lang)?;
    let stored = async {
        let (pairs, file) = form_fields(&viewer, &mut parts).await?;
        let file = file.ok_or_else(|| DocumentsError::invalid("file", "choose a file"))?;
        let plan = service.plan_version(&viewer.caller, &id, expected(&pairs)).await?;
        let (object, filename) = parts.store_last(file, &service, &plan).await?;
        Ok::<_, Refusal>(service.commit_version(&viewer.caller, plan, object, filename.as_deref()).await?)
    }
    .await;
    match settle(stored, viewer.lang)? {
        Ok(view) => Ok(see_other(&format!("/documents/{}", view.id))),
        Err(problem) => refused_change(&state, &viewer, &service, &id, problem, None).await,
    }
}

/// `POST /documents/{id}/requests`: one of the request forms ("Ask the provider"); the box
/// of outgoing requests after it.
pub async fn ask(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let lang = viewer.lang;
    let kind = first(&pairs, "kind").unwrap_or_default();
    let Ok(kind) = kind.parse() else {
        return Err(WebError::BadForm { lang });
    };
    let recipient = optional(&pairs, "recipient_organisation").map(|organisation| Recipient {
        organisation,
        country: first(&pairs, "recipient_country").unwrap_or_default().to_owned(),
    });
    let new = NewRequest {
        kind,
        justification: first(&pairs, "justification").unwrap_or_default().to_owned(),
        case_reference: optional(&pairs, "case_reference"),
        recipient,
    };
    let id = RequestedId::parse(&id);
    match service.request(&viewer.caller, &id, new).await {
        Ok(_) => Ok(see_other("/requests?box=outgoing")),
        Err(DocumentsError::Invalid { field, problem }) => {
            let view = service.get(&viewer.caller, &id).await.map_err(|e| WebError::from_service(e, lang))?;
            let html =
                super::document::render(&state, &viewer, view, Some((field, problem)), Some(super::form_echo(&pairs)))?;
            Ok(invalid_form(html))
        }
        Err(other) => Err(WebError::from_service(other, lang)),
    }
}

/// The revision the page showed, as a change's expectation (no field: none).
fn expected(pairs: &Pairs) -> Precondition {
    first(pairs, "revision")
        .and_then(|r| r.parse().ok())
        .map_or(Precondition::None, |revision| Precondition::Revisions(vec![revision]))
}

/// The "changed meanwhile" message, shown where a field's error would be.
fn changed_meanwhile() -> (String, String) {
    ("revision".into(), "changed meanwhile".into())
}

#[derive(Deserialize)]
pub struct ChangeForm {
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    csrf: String,
    /// The revision the page showed.
    revision: Option<i32>,
}

/// The life-cycle changes a button asks for.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusChange {
    Publish,
    Withdraw,
}

/// `POST /documents/{id}/publish` and `/withdraw`.
pub async fn change_status(
    viewer: Viewer,
    path: web::Path<(String, StatusChange)>,
    form: web::Form<ChangeForm>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (id, change) = path.into_inner();
    let id = RequestedId::parse(&id);
    let expected = form.revision.map_or(Precondition::None, |revision| Precondition::Revisions(vec![revision]));
    let changed = match change {
        StatusChange::Publish => service.publish(&viewer.caller, &id, expected).await,
        StatusChange::Withdraw => service.withdraw(&viewer.caller, &id, expected).await,
    };
    match changed {
        Ok(view) => Ok(see_other(&format!("/documents/{}", view.id))),
        Err(DocumentsError::Stale) => refused_change(&state, &viewer, &service, &id, changed_meanwhile(), None).await,
        Err(other) => Err(failed(other, &viewer)),
    }
}

fn failed(error: DocumentsError, viewer: &Viewer) -> WebError {
    WebError::from_service(error, viewer.lang)
}

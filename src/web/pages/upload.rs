//! `GET /upload`: a form that can only be filled in validly (levels up to the platform maximum
//! and the user's clearance, countries from the configuration, RED → recipients, H3 → note);
//! `POST /upload`: the same plan → stream → commit as the API, with errors next to the field.
//! `GET /upload?derive={id}[&request={id}]`: the same form for a derivative of a document, filled
//! in from the source's markings for the provider to lower — and, answering a sanitised-version
//! request, with the note that approves it once the derivative is stored.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::multipart_form::{Refusal, form_fields, parts_of, settle};
use super::{
    Pairs, allowed_levels, comma_list, first, form_echo, html_page, invalid_form, label, optional, releasability,
    see_other,
};
use crate::document_id::RequestedId;
use crate::documents::{DocumentsError, NewDecision, NewDocument, Service, Verdict};
use crate::policy::{HandlingCode, Tlp};
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

/// Languages an uploader can name; left empty, the language is detected from the text.
const DOCUMENT_LANGUAGES: [&str; 7] = ["sq", "sr", "sr-Latn", "bs", "hr", "mk", "en"];

/// What a derivative form derives from, and the request it answers.
#[derive(Deserialize)]
pub struct DeriveQuery {
    derive: Option<String>,
    request: Option<String>,
}

pub async fn form(
    viewer: Viewer,
    query: web::Query<DeriveQuery>,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let failed = |e| WebError::from_service(e, viewer.lang);
    service.may_create(&viewer.caller).await.map_err(failed)?;
    let Some(source) = &query.derive else {
        return Ok(html_page(render(&state, &viewer, None, None)?));
    };
    let source = RequestedId::parse(source);
    service.may_derive(&viewer.caller, &source).await.map_err(failed)?;
    let view = service.get(&viewer.caller, &source).await.map_err(failed)?;
    let suffix = state.catalogues().get(viewer.lang, "derivative_title_suffix");
    let markings = &view.markings;
    // The source's markings as a filled-in form, for the provider to lower.
    let prefilled = json!({
        "title": format!("{} {suffix}", view.title),
        "language": view.language,
        "classification": markings.classification().name(),
        "tlp": markings.tlp().as_str(),
        "recipients": markings.recipients().iter().cloned().collect::<Vec<_>>().join(", "),
        "handling_code": markings.handling_code().as_str(),
        "handling_note": markings.handling_note(),
        "releasable_to": markings.releasable_to().codes(),
        "tags": view.tags.join(", "),
        "derive": view.id,
        "request": query.request,
    });
    Ok(html_page(render(&state, &viewer, None, Some(prefilled))?))
}

fn render(
    state: &WebState,
    viewer: &Viewer,
    error: Option<(String, String)>,
    form: Option<Value>,
) -> Result<String, WebError> {
    let countries: Vec<Value> = state
        .countries
        .iter()
        .map(|code| json!({"code": code, "name": label(state, viewer.lang, "country", code)}))
        .collect();
    state.render(
        "upload.html",
        viewer.lang,
        Some(viewer),
        context! {
            levels => allowed_levels(state, viewer),
            tlps => Tlp::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            codes => HandlingCode::ALL.iter().map(|c| json!({
                "code": c.as_str(),
                "meaning": state.catalogues().get(viewer.lang, &format!("handling_meaning.{}", c.as_str())),
            })).collect::<Vec<_>>(),
            countries => countries,
            document_languages => DOCUMENT_LANGUAGES.iter().map(|code| json!({
                "code": code,
                "name": label(state, viewer.lang, "language", code),
            })).collect::<Vec<_>>(),
            own_country => viewer.caller.principal.country.clone(),
            error_field => error.as_ref().map(|(f, _)| f.clone()),
            error_text => error.map(|(_, t)| t),
            form => form,
        },
    )
}

pub async fn submit(
    viewer: Viewer,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let mut pairs = Pairs::new();
    let mut parts = parts_of(&req, payload, service.max_upload_bytes(), viewer.lang)?;
    let stored = async {
        let (fields, file) = form_fields(&viewer, &mut parts).await?;
        pairs = fields;
        let tlp = first(&pairs, "tlp").unwrap_or_default().to_owned();
        let new = NewDocument {
            title: first(&pairs, "title").unwrap_or_default().to_owned(),
            summary: optional(&pairs, "summary"),
            language: optional(&pairs, "language"),
            classification: first(&pairs, "classification").unwrap_or_default().to_owned(),
            handling_code: first(&pairs, "handling_code").unwrap_or_default().to_owned(),
            handling_note: optional(&pairs, "handling_note"),
            releasable_to: releasability(&pairs),
            recipients: if tlp == "RED" { comma_list(first(&pairs, "recipients")) } else { Vec::new() },
            tlp,
            tags: comma_list(first(&pairs, "tags")),
            publish: first(&pairs, "publish").is_some(),
        };
        let file = file.ok_or_else(|| DocumentsError::invalid("file", "choose a file"))?;
        let source = first(&pairs, "derive").map(RequestedId::parse);
        // Answering a request: its note is checked before any byte is stored.
        let answering = match first(&pairs, "request").filter(|id| !id.is_empty()) {
            Some(request) => match first(&pairs, "note").map(str::trim).filter(|note| !note.is_empty()) {
                Some(note) => Some((request.to_owned(), note.to_owned())),
                None => return Err(DocumentsError::invalid("note", "must not be empty").into()),
            },
            None => None,
        };
        let plan = match &source {
            Some(source) => service.plan_derivative(&viewer.caller, source, new).await?,
            None => service.plan_create(&viewer.caller, new).await?,
        };
        let (object, filename) = parts.store_last(file, &service, &plan).await?;
        let stored = service.commit_create(&viewer.caller, plan, object, filename.as_deref()).await?;
        if let Some((request, note)) = answering {
            let approval = NewDecision { decision: Verdict::Approve, note, derivative_id: Some(stored.id.clone()) };
            service.decide_request(&viewer.caller, &request, approval).await?;
        }
        Ok::<_, Refusal>(stored)
    }
    .await;
    match settle(stored, viewer.lang)? {
        Ok(view) => Ok(see_other(&format!("/documents/{}", view.id))),
        Err(problem) => Ok(invalid_form(render(&state, &viewer, Some(problem), Some(form_echo(&pairs)))?)),
    }
}

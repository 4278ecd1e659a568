//! `GET /upload`: a form that can only be filled in validly (levels up to the platform maximum
//! and the user's clearance, countries from the configuration, RED → recipients, H3 → note);
//! `POST /upload`: the same plan → stream → commit as the API, with errors next to the field.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde_json::{Value, json};

use super::multipart_form::{Refusal, form_fields, parts_of, settle};
use super::{
    Pairs, allowed_levels, comma_list, first, form_echo, html_page, invalid_form, label, optional, releasability,
    see_other,
};
use crate::documents::{DocumentsError, NewDocument, Service};
use crate::policy::{HandlingCode, Tlp};
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

/// Languages an uploader can name; left empty, the language is detected from the text.
const DOCUMENT_LANGUAGES: [&str; 7] = ["sq", "sr", "sr-Latn", "bs", "hr", "mk", "en"];

pub async fn form(
    viewer: Viewer,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    service.may_create(&viewer.caller).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    Ok(html_page(render(&state, &viewer, None, None)?))
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
        let plan = service.plan_create(&viewer.caller, new).await?;
        let (object, filename) = parts.store_last(file, &service, &plan).await?;
        Ok::<_, Refusal>(service.commit_create(&viewer.caller, plan, object, filename.as_deref()).await?)
    }
    .await;
    match settle(stored, viewer.lang)? {
        Ok(view) => Ok(see_other(&format!("/documents/{}", view.id))),
        Err(problem) => Ok(invalid_form(render(&state, &viewer, Some(problem), Some(form_echo(&pairs)))?)),
    }
}

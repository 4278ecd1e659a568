//! The pages, one file each: search, document (with its forms), upload, audit, and the language
//! switch. Each calls the same service as the API with the viewer's `Caller`, so the policy and
//! the audit trail are the same; forms that change anything carry the session's CSRF token.
//! What they share — responses, labels, form fields — is here.

pub mod api_reference;
pub mod audit;
pub mod document;
pub mod language;
mod multipart_form;
pub mod notifications;
pub mod requests;
pub mod saved_searches;
pub mod search;
pub mod upload;

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::{Value, json};

use super::WebState;
use super::session::Viewer;
use crate::policy::{Level, Tlp};

fn html_page(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(html)
}

/// A form page again, with the message next to the field at fault.
fn invalid_form(html: String) -> HttpResponse {
    HttpResponse::UnprocessableEntity()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(html)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

fn label(state: &WebState, lang: &str, facet: &str, value: &str) -> String {
    match facet {
        "country" => catalogue_name(state, lang, &format!("countries.{value}"), value),
        "language" => catalogue_name(state, lang, &format!("languages.{value}"), value),
        _ => value.to_owned(),
    }
}

/// The catalogue's name for a code, or the code itself when the catalogue has none (a language
/// tag such as `en-GB` that the catalogues do not list).
fn catalogue_name(state: &WebState, lang: &str, key: &str, code: &str) -> String {
    let name = state.catalogues().get(lang, key);
    if name == key { code.to_owned() } else { name.to_owned() }
}

/// CSS class of a classification banner (colours in static/app.css, AA contrast).
fn level_class(level: &Level) -> String {
    format!("level-{}", level.name().to_ascii_lowercase())
}

fn tlp_class(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "tlp-clear",
        Tlp::Green => "tlp-green",
        Tlp::Amber => "tlp-amber",
        Tlp::AmberStrict => "tlp-amber-strict",
        Tlp::Red => "tlp-red",
    }
}

/// Levels the form offers: up to the platform maximum and the user's clearance (the service
/// still checks what is submitted).
fn allowed_levels(state: &WebState, viewer: &Viewer) -> Vec<String> {
    let ladder = &state.policy.ladder;
    let ceiling = ladder.max_classification().clone().min(viewer.caller.principal.clearance.clone());
    ladder.levels().iter().filter(|l| **l <= ceiling).map(|l| l.name().to_owned()).collect()
}

/// Form pairs (a field may repeat: the releasability checkboxes).
type Pairs = Vec<(String, String)>;

fn first<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// An optional text field: absent or blank is `None`.
fn optional(pairs: &Pairs, name: &str) -> Option<String> {
    first(pairs, name).filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

fn comma_list(value: Option<&str>) -> Vec<String> {
    value.unwrap_or_default().split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// Releasability from the form: "ALL" ticked wins.
fn releasability(pairs: &Pairs) -> Vec<String> {
    let chosen: Vec<String> = pairs.iter().filter(|(k, _)| k == "releasable_to").map(|(_, v)| v.clone()).collect();
    if chosen.iter().any(|c| c == "ALL") { vec!["ALL".into()] } else { chosen }
}

/// The submitted fields, to fill the form in again (without the CSRF token).
fn form_echo(pairs: &Pairs) -> Value {
    let mut echo = serde_json::Map::new();
    for (key, value) in pairs.iter().filter(|(k, _)| k != "csrf") {
        if key == "releasable_to" {
            let entry = echo.entry(key.clone()).or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(json!(value));
            }
        } else {
            echo.insert(key.clone(), json!(value));
        }
    }
    Value::Object(echo)
}

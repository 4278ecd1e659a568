//! `GET /saved-searches`: the viewer's saved searches, each with its alert switch, a link that
//! runs it and a delete button; `POST /saved-searches` (the search page's "Save this search"),
//! `POST /saved-searches/{id}/alert` and `/delete`. The same service calls as the API's.

use actix_web::{HttpResponse, web};
use minijinja::context;
use serde_json::{Value, json};

use super::{Pairs, first, html_page, see_other};
use crate::notify::{NewSavedSearch, NotifyError, SavedSearchPatch, SavedSearchView, SearchFilters, Service};
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

pub async fn page(
    viewer: Viewer,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let saved = service.saved_searches(&viewer.caller).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    let saved: Vec<Value> = saved.iter().map(shown).collect();
    let html = state.render("saved_searches.html", viewer.lang, Some(&viewer), context! { saved => saved })?;
    Ok(html_page(html))
}

/// A saved search as the page lists it, with the search page's URL that runs it.
fn shown(saved: &SavedSearchView) -> Value {
    let filters = &saved.filters;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("q", &saved.q);
    for (name, values) in [
        ("classification", &filters.classification),
        ("tlp", &filters.tlp),
        ("country", &filters.country),
        ("language", &filters.language),
        ("tag", &filters.tag),
    ] {
        for value in values {
            query.append_pair(name, value);
        }
    }
    let described: Vec<String> =
        [&filters.classification, &filters.tlp, &filters.country, &filters.language, &filters.tag]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
    json!({
        "id": saved.id,
        "name": saved.name,
        "q": saved.q,
        "filters": described.join(", "),
        "alert": saved.alert,
        "run": format!("/?{}", query.finish()),
    })
}

/// `POST /saved-searches`: the search page's words and filters, named.
pub async fn create(
    viewer: Viewer,
    form: web::Form<Pairs>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let all = |name: &str| pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let new = NewSavedSearch {
        name: first(&pairs, "name").unwrap_or_default().to_owned(),
        q: first(&pairs, "q").unwrap_or_default().to_owned(),
        filters: SearchFilters {
            classification: all("classification"),
            tlp: all("tlp"),
            country: all("country"),
            language: all("language"),
            tag: all("tag"),
        },
        alert: first(&pairs, "alert").is_some(),
    };
    settle(service.save_search(&viewer.caller, new).await.map(drop), &viewer)
}

/// `POST /saved-searches/{id}/alert`: switch its alert on (`alert=1`) or off.
pub async fn alert(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let patch = SavedSearchPatch { alert: Some(first(&pairs, "alert") == Some("1")), ..SavedSearchPatch::default() };
    settle(service.change_saved_search(&viewer.caller, &id, patch).await.map(drop), &viewer)
}

/// `POST /saved-searches/{id}/delete`.
pub async fn delete(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    settle(service.delete_saved_search(&viewer.caller, &id).await, &viewer)
}

/// Back to the list, or an error page (a name or words the service refused: 422 with the reason).
fn settle(result: Result<(), NotifyError>, viewer: &Viewer) -> Result<HttpResponse, WebError> {
    result.map(|()| see_other("/saved-searches")).map_err(|e| WebError::from_service(e, viewer.lang))
}

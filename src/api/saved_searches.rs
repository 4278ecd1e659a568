//! Saved searches: a principal's named searches, with or without an alert. Owner only — to
//! anyone else a saved search answers like a missing one. The service is `notify`.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::Operation;
use super::documents::json_body;
use crate::caller::Caller;
use crate::error::{ApiError, Problem};
use crate::notify::{NewSavedSearch, SavedSearchPatch, SavedSearchView, Service};

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new(Method::POST, "/saved-searches", || web::to(create)),
        Operation::new(Method::GET, "/saved-searches", || web::to(list)),
        Operation::new(Method::PATCH, "/saved-searches/{id}", || web::to(update)),
        Operation::new(Method::DELETE, "/saved-searches/{id}", || web::to(delete)),
    ]
}

/// The caller's saved searches.
#[derive(Serialize, utoipa::ToSchema)]
struct SavedSearchList {
    /// Oldest first.
    items: Vec<SavedSearchView>,
}

#[utoipa::path(
    post,
    path = "/api/v1/saved-searches",
    operation_id = "create_saved_search",
    tag = "notifications",
    description = "Save a search (words and filters as in `GET /api/v1/search`). With `alert`, the \
        owner is notified when a document they may read comes to match it. Audited.",
    request_body(content = NewSavedSearch, content_type = "application/json"),
    responses(
        (status = 201, description = "Saved", body = SavedSearchView, headers(("Location" = String))),
        (status = 400, description = "`urn:anaspoc:problem:malformed-request`: the body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`urn:anaspoc:problem:unsupported-media-type`: send `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: an empty name, words a search would refuse (`search.max_query_chars`, `search.max_query_terms`), or more than 100 saved searches", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let new: NewSavedSearch = json_body(&req, payload).await?;
    let saved = service.save_search(&caller, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/saved-searches/{}", saved.id)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(saved))
}

#[utoipa::path(
    get,
    path = "/api/v1/saved-searches",
    operation_id = "list_saved_searches",
    tag = "notifications",
    description = "The caller's saved searches.",
    responses(
        (status = 200, description = "Oldest first", body = SavedSearchList),
        super::contract::Common,
    ),
)]
async fn list(caller: Caller, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let items = service.saved_searches(&caller).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(SavedSearchList { items }))
}

#[utoipa::path(
    patch,
    path = "/api/v1/saved-searches/{id}",
    operation_id = "update_saved_search",
    tag = "notifications",
    description = "Change a saved search of the caller's (name, words, filters, alert); absent fields stay. Audited.",
    params(("id" = String, Path, description = "The saved search's id")),
    request_body(content = SavedSearchPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = SavedSearchView),
        (status = 400, description = "`urn:anaspoc:problem:malformed-request`: the body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:anaspoc:problem:not-found`: no saved search of the caller's by this id", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`urn:anaspoc:problem:unsupported-media-type`: send `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn update(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let patch: SavedSearchPatch = json_body(&req, payload).await?;
    let saved = service.change_saved_search(&caller, &id, patch).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(saved))
}

#[utoipa::path(
    delete,
    path = "/api/v1/saved-searches/{id}",
    operation_id = "delete_saved_search",
    tag = "notifications",
    description = "Delete a saved search of the caller's and every notification it made. Audited.",
    params(("id" = String, Path, description = "The saved search's id")),
    responses(
        (status = 204, description = "Deleted, nothing left"),
        (status = 404, description = "`urn:anaspoc:problem:not-found`: no saved search of the caller's by this id", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn delete(caller: Caller, id: web::Path<String>, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    service.delete_saved_search(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! Notifications: what a principal should look at, decided again as it is read. The service is
//! `notify`.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::Operation;
use crate::caller::Caller;
use crate::error::{ApiError, Problem};
use crate::notify::{NotificationList, NotificationsQuery, Service};

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new(Method::GET, "/notifications", || web::to(list)),
        Operation::new(Method::POST, "/notifications/{id}/read", || web::to(read)),
        Operation::new(Method::POST, "/notifications/read-all", || web::to(read_all)),
    ]
}

#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    operation_id = "list_notifications",
    tag = "notifications",
    description = "The caller's notifications, newest first. A document the caller may no longer \
        see shows as `available: false` with nothing of it; `unread` counts only what the caller \
        may still see. Audited with the documents shown.",
    params(NotificationsQuery),
    responses(
        (status = 200, description = "One page", body = NotificationList),
        (status = 400, description = "`urn:anaspoc:problem:invalid-query`: a parameter that is not one of these or does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: `limit` out of range or a `cursor` not from a previous page", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn list(caller: Caller, req: HttpRequest, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    // Parsed after the caller is known: an unauthenticated request answers 401 whatever it asks.
    let query = web::Query::<NotificationsQuery>::from_query(req.query_string())
        .map_err(|error| ApiError::InvalidQuery(error.to_string()))?;
    let page = service.notifications(&caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(page))
}

#[utoipa::path(
    post,
    path = "/api/v1/notifications/{id}/read",
    operation_id = "read_notification",
    tag = "notifications",
    description = "Mark one of the caller's notifications read.",
    params(("id" = String, Path, description = "The notification's id")),
    responses(
        (status = 204, description = "Read"),
        (status = 404, description = "`urn:anaspoc:problem:not-found`: no notification of the caller's by this id", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn read(caller: Caller, id: web::Path<String>, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    service.mark_read(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v1/notifications/read-all",
    operation_id = "read_all_notifications",
    tag = "notifications",
    description = "Mark all the caller's notifications read.",
    responses(
        (status = 204, description = "All read"),
        super::contract::Common,
    ),
)]
async fn read_all(caller: Caller, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    service.mark_all_read(&caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

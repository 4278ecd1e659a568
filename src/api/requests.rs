//! Handling-code requests: a reader asks a document's provider for permission (H1: judicial use,
//! H2: dissemination) or for a sanitised version; the provider decides once. Every decision
//! about who may do what is the documents service's (`documents/requests.rs`). Derivatives are
//! uploads: `POST /documents/{id}/derivatives` is in `documents.rs`.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::Operation;
use super::documents::json_body;
use crate::caller::Caller;
use crate::document_id::RequestedId;
use crate::documents::{NewDecision, NewRequest, RequestView, RequestsQuery, Service};
use crate::error::{ApiError, Problem};

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new(Method::POST, "/documents/{id}/requests", || web::to(create)),
        Operation::new(Method::GET, "/requests", || web::to(list)),
        Operation::new(Method::POST, "/requests/{id}/decision", || web::to(decide)),
    ]
}

/// A request box.
#[derive(Serialize, utoipa::ToSchema)]
struct RequestList {
    /// Newest first.
    items: Vec<RequestView>,
}

#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/requests",
    operation_id = "create_request",
    tag = "requests",
    description = "Ask the document's provider organisation for permission — `judicial-use` of an \
        H1 document, `dissemination` of an H2 one to a named `recipient` — or for a \
        `sanitised-version` of a document under any code. Anyone who may see the document and \
        belongs to another organisation may ask; the request is audited with the document's \
        markings and seen only by the two organisations (and auditors, as audit events).",
    params(("id" = String, Path, description = "The document's id (a UUID)")),
    request_body(content = NewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The request, pending", body = RequestView,
            headers(("Location" = String, description = "Where its box lists it"))),
        (status = 400, description = "`urn:anaspoc:problem:malformed-request`: the body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`urn:anaspoc:problem:forbidden`: the caller's own organisation provided the document", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`urn:anaspoc:problem:unsupported-media-type`: send `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: `kind` does not fit the document's handling code, `recipient` is missing for a dissemination, or another field is not acceptable (`field` names it)", body = Problem, content_type = "application/problem+json"),
        super::contract::NotFound,
        super::contract::Common,
    ),
)]
async fn create(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let new: NewRequest = json_body(&req, payload).await?;
    let request = service.request(&caller, &RequestedId::parse(&id), new).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/v1/requests?box=outgoing"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(request))
}

#[utoipa::path(
    get,
    path = "/api/v1/requests",
    operation_id = "list_requests",
    tag = "requests",
    description = "A request box of the caller's organisation, newest first: `incoming` — requests \
        on its documents (needs `document:write`) — or `outgoing` — its own requests. A request's \
        `document_title` is given while the caller may see the document.",
    params(RequestsQuery),
    responses(
        (status = 200, description = "The box", body = RequestList),
        (status = 400, description = "`urn:anaspoc:problem:invalid-query`: `box` missing, or a parameter that is not one of these or does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`urn:anaspoc:problem:forbidden`: the incoming box needs `document:write`, the outgoing one `document:read`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: `limit` out of range", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn list(caller: Caller, req: HttpRequest, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    // Parsed after the caller is known: an unauthenticated request answers 401 whatever it asks.
    let query = web::Query::<RequestsQuery>::from_query(req.query_string())
        .map_err(|error| ApiError::InvalidQuery(error.to_string()))?;
    let items = service.requests(&caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(RequestList { items }))
}

#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/decision",
    operation_id = "decide_request",
    tag = "requests",
    description = "Approve or deny a pending request, once, with a written note. Only members of \
        the provider organisation with `document:write`, never the requester. Approving a \
        `sanitised-version` request names the derivative that answers it (`derivative_id`, \
        made with `POST /api/v1/documents/{id}/derivatives`). Audited with the document's markings.",
    params(("id" = String, Path, description = "The request's id (a UUID)")),
    request_body(content = NewDecision, content_type = "application/json"),
    responses(
        (status = 200, description = "The decided request", body = RequestView),
        (status = 400, description = "`urn:anaspoc:problem:malformed-request`: the body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`urn:anaspoc:problem:forbidden`: the caller made the request, lacks `document:write`, or belongs to the requesting organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:anaspoc:problem:not-found`: no such request, or one the caller's organisation is not party to", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:anaspoc:problem:already-decided`: the request was decided (or closed by a withdrawal) before", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`urn:anaspoc:problem:unsupported-media-type`: send `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field`: `note` empty, or `derivative_id` missing, not a derivative of the document, or given where no derivative belongs", body = Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn decide(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let decision: NewDecision = json_body(&req, payload).await?;
    let request = service.decide_request(&caller, &id, decision).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(request))
}

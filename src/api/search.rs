//! `GET /api/v1/search`: the query string is a [`SearchRequest`]; the search service does the rest.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::Operation;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::search::{SearchRequest, Service};

pub fn operations() -> Vec<Operation> {
    vec![Operation::new(Method::GET, "/search", || web::to(search))]
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    description = "Full-text search in the network's languages over the documents the caller may \
        read — hits, totals and facets never count anything else. Lists are comma-separated.",
    params(
        ("q" = Option<String>, Query, description = "Words, `\"phrases\"`, `AND`/`OR`/`NOT`, `title:`; empty: everything visible"),
        ("classification" = Option<String>, Query, description = "Classification levels"),
        ("tlp" = Option<String>, Query, description = "TLP labels"),
        ("country" = Option<String>, Query, description = "Originating countries"),
        ("language" = Option<String>, Query, description = "Languages (ISO 639-1)"),
        ("tag" = Option<String>, Query, description = "Tags"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "Published on or after (YYYY-MM-DD or RFC 3339)"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "Published on or before (YYYY-MM-DD or RFC 3339)"),
        ("sort" = Option<String>, Query, description = "`relevance` (default) or `date`"),
        ("limit" = Option<i64>, Query, description = "Hits per page", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page of hits, with facets", body = crate::search::SearchResponse),
        (status = 422, description = "`urn:anaspoc:problem:invalid-field` (a parameter that does not parse or is not one of these) or `urn:anaspoc:problem:query-too-costly` (over `search.max_query_chars` or `search.max_query_terms`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`urn:anaspoc:problem:search-catching-up` (this replica's index is applying recent changes), `urn:anaspoc:problem:search-unavailable`, `urn:anaspoc:problem:dependency-unavailable` or `urn:anaspoc:problem:identity-provider-unavailable`; try again after `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
        super::contract::Common,
    ),
)]
async fn search(caller: Caller, req: HttpRequest, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let response = service.search(&caller, SearchRequest::parse(req.query_string())?).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(response))
}

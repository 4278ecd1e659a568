//! `GET /api/v1/search`: the query string is a [`SearchRequest`]; the search service does the rest.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::caller::Caller;
use crate::edge::resource;
use crate::error::ApiError;
use crate::search::{SearchRequest, Service};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/search", vec![(Method::GET, web::to(search))]));
}

async fn search(caller: Caller, req: HttpRequest, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let response = service.search(&caller, SearchRequest::parse(req.query_string())?).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(response))
}

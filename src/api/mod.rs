//! HTTP routes: thin handlers that authenticate, call a service and shape the response.

mod audit;
mod documents;
mod health;
mod me;
mod search;

use actix_web::http::Method;
use actix_web::web;

use crate::edge::resource;

/// Operational endpoints outside `/api/v1` (no authentication).
pub fn operations(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz", vec![(Method::GET, web::to(health::healthz))]))
        .service(resource("/readyz", vec![(Method::GET, web::to(health::readyz))]))
        .service(resource("/metrics", vec![(Method::GET, web::to(health::metrics))]));
}

/// The JSON API under `/api/v1`.
pub fn v1(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(resource("/me", vec![(Method::GET, web::to(me::me))]))
            .configure(documents::routes)
            .configure(audit::routes)
            .configure(search::routes),
    );
}

//! HTTP routes: thin handlers that authenticate, call a service and shape the response.

pub mod audit;
pub mod documents;
mod health;
mod me;
pub mod search;

use actix_web::web;

/// Operational endpoints outside `/api/v1` (no authentication).
pub fn operations(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(crate::metrics::endpoint));
}

/// The JSON API under `/api/v1`.
pub fn v1(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/me", web::get().to(me::me))
            .configure(documents::routes)
            .configure(audit::routes)
            .configure(search::routes),
    );
}

//! HTTP routes: thin handlers that authenticate, call a service and shape the response.
//!
//! Every `/api/v1` operation is one row of [`operations`]: the scope is built from that table,
//! and the OpenAPI document (`openapi.rs`) is checked against it both ways by the tests, so an
//! undocumented route or a documented route that does not exist fails CI.

mod audit;
mod contract;
mod documents;
mod health;
mod me;
mod notifications;
pub mod openapi;
mod requests;
mod saved_searches;
mod search;

use actix_web::http::Method;
use actix_web::{Route, web};

use crate::edge::resource;

/// Prefix of the JSON API.
pub const V1: &str = "/api/v1";

/// One operation of the JSON API: method, path under [`V1`] and its handler.
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    route: fn() -> Route,
}

impl Operation {
    fn new(method: Method, path: &'static str, route: fn() -> Route) -> Self {
        Self { method, path, route }
    }
}

/// Every operation of `/api/v1`, in the order of the reference.
pub fn operations() -> Vec<Operation> {
    let mut all = vec![Operation::new(Method::GET, "/me", || web::to(me::me))];
    all.extend(documents::operations());
    all.extend(requests::operations());
    all.extend(search::operations());
    all.extend(saved_searches::operations());
    all.extend(notifications::operations());
    all.extend(audit::operations());
    all
}

/// Operational endpoints outside `/api/v1` (no authentication).
pub fn operational(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz", vec![(Method::GET, web::to(health::healthz))]))
        .service(resource("/readyz", vec![(Method::GET, web::to(health::readyz))]))
        .service(resource("/metrics", vec![(Method::GET, web::to(health::metrics))]))
        .service(resource(openapi::DOCUMENT_PATH, vec![(Method::GET, web::to(openapi::document))]));
}

/// The JSON API under `/api/v1`: one resource per path, its methods from [`operations`] (other
/// methods answer 405 with `Allow`).
pub fn v1(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope(V1);
    let mut by_path: Vec<(&'static str, Vec<(Method, Route)>)> = Vec::new();
    for operation in operations() {
        let route = (operation.route)();
        match by_path.iter_mut().find(|(path, _)| *path == operation.path) {
            Some((_, routes)) => routes.push((operation.method, route)),
            None => by_path.push((operation.path, vec![(operation.method, route)])),
        }
    }
    for (path, routes) in by_path {
        scope = scope.service(resource(path, routes));
    }
    cfg.service(scope);
}

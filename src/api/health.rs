//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::health::Readiness;

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve requests (see [`Readiness`]): 200 or 503, with each component's state.
pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.check().await;
    if report.is_ready() { HttpResponse::Ok().json(report) } else { HttpResponse::ServiceUnavailable().json(report) }
}

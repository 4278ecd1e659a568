//! The operational endpoints: liveness, readiness and metrics.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::health::Readiness;
use crate::metrics::{Exposure, Metrics};

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve requests (see [`Readiness`]): 200 or 503, with each component's state.
pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.report().await;
    if report.is_ready() { HttpResponse::Ok().json(report) } else { HttpResponse::ServiceUnavailable().json(report) }
}

/// `GET /metrics`, as [`Exposure`] allows: 404 when closed (as if there were none), 401 without
/// the right bearer token.
pub async fn metrics(req: HttpRequest, metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.exposure() {
        Exposure::Closed => return crate::error::route_not_found().await,
        Exposure::Bearer(token) => {
            let sent = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            let same = sent.len() == token.len()
                && sent.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if !same {
                return HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"anaspoc-metrics\""))
                    .finish();
            }
        }
        Exposure::Open => {}
    }
    HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(metrics.render())
}

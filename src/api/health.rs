//! Liveness and readiness probes.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::auth::TokenValidator;
use crate::search::SearchIndex;
use crate::storage::Storage;

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve requests: database reachable with migrations applied, object store reachable,
/// issuer keys loaded.
pub async fn readyz(
    db: web::Data<DatabaseConnection>,
    storage: web::Data<Storage>,
    index: web::Data<SearchIndex>,
    validator: web::Data<TokenValidator>,
) -> HttpResponse {
    let mut checks = BTreeMap::new();
    checks.insert("database", crate::db::check_ready(&db).await);
    checks.insert("storage", storage.check_ready().await);
    let searcher = index.reader().searcher();
    checks.insert("search_index", Ok(searcher.num_docs()).map(|_| ()));
    checks.insert("identity_provider", validator.keys().ensure_loaded().await.map_err(|e| e.to_string()));
    let ready = checks.values().all(Result::is_ok);
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": checks
            .into_iter()
            .map(|(name, result)| (name, result.err().unwrap_or_else(|| "ok".into())))
            .collect::<BTreeMap<_, _>>(),
    });
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

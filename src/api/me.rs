//! `GET /api/v1/me`: who the platform thinks the caller is. Clients call it at sign-in, so it
//! records the user in the directory and audits `auth.login`.

use actix_web::{HttpResponse, web};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::audit::{self, NewEvent, Outcome};
use crate::auth::Caller;
use crate::error::ApiError;

pub async fn me(
    caller: Caller,
    db: web::Data<DatabaseConnection>,
    log: web::Data<audit::Log>,
) -> Result<HttpResponse, ApiError> {
    crate::db::users::record_sign_in(&db, &caller.principal)
        .await
        .map_err(|e| ApiError::internal(format!("recording sign-in: {e}")))?;
    let principal = &caller.principal;
    log.record(
        NewEvent::by(principal, &caller.request, audit::Action::AuthLogin, Outcome::Allowed)
            .details(json!({"clearance": principal.clearance, "capabilities": principal.capabilities})),
    )
    .await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(principal))
}

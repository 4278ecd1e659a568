//! `GET /api/v1/me`: who the platform thinks the caller is.

use actix_web::{HttpResponse, web};
use sea_orm::DatabaseConnection;

use crate::auth::Principal;
use crate::error::ApiError;

pub async fn me(principal: Principal, db: web::Data<DatabaseConnection>) -> Result<HttpResponse, ApiError> {
    crate::db::users::record_sign_in(&db, &principal)
        .await
        .map_err(|e| ApiError::internal(format!("recording sign-in: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(principal))
}

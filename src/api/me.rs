//! `GET /api/v1/me`: who the platform thinks the caller is. Clients call it at sign-in, so the
//! directory records the user and the trail records `auth.login`.

use actix_web::{HttpResponse, web};

use crate::auth::{Directory, Via};
use crate::caller::Caller;
use crate::error::ApiError;

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "identity",
    description = "Who the platform thinks the caller is: the claims of the access token it \
        accepted and the capabilities its roles grant. Clients call it at sign-in.",
    responses((status = 200, description = "The caller", body = crate::policy::Principal), super::contract::Common),
)]
pub async fn me(caller: Caller, directory: web::Data<Directory>) -> Result<HttpResponse, ApiError> {
    directory.signed_in(&caller, Via::Api).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(&caller.principal))
}

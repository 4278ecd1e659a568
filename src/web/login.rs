//! Sign-in and sign-out pages: off to the identity provider, back through `/auth/callback`
//! (the flow itself, its checks and its audit records are [`BrowserSignIn`]'s), and `/logout`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::session::{self, Viewer};
use super::{WebError, WebState};
use crate::auth::{AuthError, BrowserSignIn, Callback, Sessions};
use crate::caller::RequestInfo;

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /login`: off to the identity provider.
pub async fn login(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    sign_in: web::Data<BrowserSignIn>,
) -> Result<HttpResponse, WebError> {
    let lang = super::i18n::negotiate(&req);
    let url = sign_in.begin(query.return_to.as_deref()).await.map_err(|e| WebError::from_service(e, lang))?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, url)).finish())
}

/// `GET /auth/callback`: the provider's answer; on success, the session cookie and back to where
/// the user was going.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<Callback>,
    sign_in: web::Data<BrowserSignIn>,
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    let lang = super::i18n::negotiate(&req);
    match sign_in.complete(&query, RequestInfo::of(&req)).await {
        Ok(signed_in) => Ok(HttpResponse::SeeOther()
            .cookie(session::cookie(&signed_in.session, state.secure_cookies))
            .insert_header((header::LOCATION, signed_in.return_to))
            .finish()),
        Err(AuthError::SignInRefused(_)) => Err(WebError::LoginFailed { lang }),
        Err(other) => Err(WebError::from_service(other, lang)),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: end the session here (the CSRF token guards against forced sign-out).
pub async fn logout(
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<LogoutForm>,
    sessions: web::Data<Sessions>,
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    viewer.check_csrf(&form.csrf)?;
    if let Some(cookie) = req.cookie(session::COOKIE) {
        sessions.end(cookie.value()).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    }
    let body = state.render(
        "message.html",
        viewer.lang,
        None,
        minijinja::context! { heading => "sign_out", text_key => "signed_out", show_sign_in => true },
    )?;
    Ok(HttpResponse::Ok()
        .cookie(session::cookie("", state.secure_cookies))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

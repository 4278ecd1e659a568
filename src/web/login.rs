//! Sign-in and sign-out pages: off to the identity provider, back through `/auth/callback`
//! (the flow itself, its checks and its audit records are [`BrowserSignIn`]'s), and `/logout`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::session::{Jar, Viewer};
use super::{WebError, WebState};
use crate::auth::{AuthError, BrowserSignIn, Callback, Sessions};
use crate::caller::RequestInfo;

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /login`: off to the identity provider, with the sign-in cookie that binds the sign-in to
/// this browser.
pub async fn login(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    sign_in: web::Data<BrowserSignIn>,
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    let lang = super::i18n::negotiate(&req);
    let started = sign_in.begin(query.return_to.as_deref(), &RequestInfo::of(&req)).await.map_err(|e| match e {
        // The provider (or the database) does not answer: say so, in the page's language.
        AuthError::Unavailable(reason) | AuthError::IssuerUnavailable(reason) => {
            tracing::warn!(%reason, "sign-in unavailable");
            WebError::Unavailable { lang, sign_in: true }
        }
        other => WebError::from_service(other, lang),
    })?;
    Ok(HttpResponse::SeeOther()
        .cookie(Jar::SignIn { state: started.state }.cookie(&started.browser_secret, state.secure_cookies))
        .insert_header((header::LOCATION, started.authorize_url))
        .finish())
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
    let secure = state.secure_cookies;
    let jar = Jar::SignIn { state: query.state.clone().unwrap_or_default() };
    let browser_secret = jar.read(&req, secure);
    match sign_in.complete(&query, browser_secret.as_deref(), RequestInfo::of(&req)).await {
        Ok(signed_in) => Ok(HttpResponse::SeeOther()
            .cookie(Jar::Session.cookie(&signed_in.session, secure))
            .cookie(jar.cookie("", secure))
            .insert_header((header::LOCATION, signed_in.return_to))
            .finish()),
        Err(AuthError::SignInRefused(_)) => Err(WebError::LoginFailed { lang }),
        Err(AuthError::Unavailable(reason) | AuthError::IssuerUnavailable(reason)) => {
            tracing::warn!(%reason, "sign-in unavailable");
            Err(WebError::Unavailable { lang, sign_in: true })
        }
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
    if let Some(id) = Jar::Session.read(&req, state.secure_cookies) {
        sessions.end(&id).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    }
    let body = state.render(
        "message.html",
        viewer.lang,
        None,
        minijinja::context! { heading => "sign_out", text_key => "signed_out", show_sign_in => true },
    )?;
    Ok(HttpResponse::Ok()
        .cookie(Jar::Session.cookie("", state.secure_cookies))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

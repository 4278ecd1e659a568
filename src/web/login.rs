//! Browser sign-in: OpenID Connect authorization code flow with PKCE, state and nonce (the
//! `openidconnect` crate), then the access token goes through the same validator as every bearer
//! token — the session holds its validated claims, never the token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde::Deserialize;
use serde_json::json;

use super::session::{self, Viewer};
use super::{WebError, WebState};
use crate::audit::{self, Actor, NewEvent, Outcome};
use crate::auth::{discovery, request_info};
use crate::db::entities::web_login;

/// Sign-ins not completed within this time are refused.
const LOGIN_TTL_MINUTES: i64 = 15;

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// Only local paths: never send a user on to another site after sign-in.
fn local_path(path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") => p.to_owned(),
        _ => "/".to_owned(),
    }
}

/// The platform as a client of the issuer, as its discovery document describes it.
type SignInClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

async fn sign_in_client(state: &WebState) -> Result<SignInClient, String> {
    let metadata = discovery::discover(&state.config.http, &state.config.issuer).await.map_err(|e| e.to_string())?;
    let secret = state.config.client_secret.clone().map(ClientSecret::new);
    let redirect = RedirectUrl::new(format!("{}/auth/callback", state.config.public_url)).map_err(|e| e.to_string())?;
    Ok(CoreClient::from_provider_metadata(metadata, ClientId::new(state.config.client_id.clone()), secret)
        .set_redirect_uri(redirect))
}

/// `GET /login`: off to the identity provider.
pub async fn login(query: web::Query<LoginQuery>, state: web::Data<WebState>) -> Result<HttpResponse, WebError> {
    let client = sign_in_client(&state).await.map_err(WebError::Internal)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if !state.config.resource.is_empty() {
        request = request.add_extra_param("resource", state.config.resource.clone());
    }
    let (url, csrf, nonce) = request.url();
    web_login::Entity::insert(web_login::ActiveModel {
        state: Set(csrf.secret().clone()),
        pkce_verifier: Set(verifier.secret().clone()),
        nonce: Set(nonce.secret().clone()),
        return_to: Set(local_path(query.return_to.as_deref())),
        created_at: Set(chrono::Utc::now()),
    })
    .exec_without_returning(&state.config.db)
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, url.to_string())).finish())
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: exchange the code (with the PKCE verifier), check the ID token (nonce,
/// issuer, audience, signature), validate the access token, and start the session.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<Callback>,
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    let lang = super::i18n::negotiate(&req);
    let request = request_info(&req);
    match complete(&query, &state).await {
        Ok((principal, claims, return_to)) => {
            let exp = claims["exp"].as_i64().and_then(|t| chrono::DateTime::from_timestamp(t, 0));
            let longest = chrono::Utc::now() + chrono::Duration::hours(state.config.session_hours as i64);
            let expires = exp.map_or(longest, |e| e.min(longest));
            let id = session::create(&state.config.db, &claims, expires)
                .await
                .map_err(|e| WebError::Internal(e.to_string()))?;
            state
                .config
                .audit
                .record(
                    NewEvent::by(&principal, &request, audit::Action::AuthLogin, Outcome::Allowed)
                        .details(json!({"via": "browser", "clearance": principal.clearance})),
                )
                .await
                .map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(HttpResponse::SeeOther()
                .cookie(session::cookie(&id, state.config.secure_cookies))
                .insert_header((header::LOCATION, return_to))
                .finish())
        }
        Err(reason) => {
            tracing::info!(%reason, "browser sign-in refused");
            let event = NewEvent::new(Actor::anonymous(), &request, audit::Action::AuthDenied, Outcome::Denied)
                .details(json!({"reason": reason, "via": "browser"}));
            if let Err(error) = state.config.audit.record(event).await {
                tracing::error!(%error, "could not audit a refused sign-in");
            }
            Err(WebError::LoginFailed { lang })
        }
    }
}

async fn complete(
    query: &Callback,
    state: &WebState,
) -> Result<(crate::auth::Principal, serde_json::Value, String), String> {
    if let Some(error) = &query.error {
        return Err(format!("the identity provider answered `{error}`"));
    }
    let (Some(code), Some(csrf)) = (&query.code, &query.state) else {
        return Err("no code or state in the callback".into());
    };
    // The pending sign-in is used once, whatever happens next.
    let pending = web_login::Entity::find_by_id(csrf.clone()).one(&state.config.db).await.map_err(|e| e.to_string())?;
    web_login::Entity::delete_by_id(csrf.clone()).exec(&state.config.db).await.map_err(|e| e.to_string())?;
    let pending = pending.ok_or("unknown or reused state")?;
    if chrono::Utc::now() - pending.created_at > chrono::Duration::minutes(LOGIN_TTL_MINUTES) {
        return Err("the sign-in took too long".into());
    }
    let client = sign_in_client(state).await?;
    let http = discovery::oidc_http_client(&state.config.http);
    let mut exchange = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| e.to_string())?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier));
    if !state.config.resource.is_empty() {
        exchange = exchange.add_extra_param("resource", state.config.resource.clone());
    }
    let tokens = exchange.request_async(&http).await.map_err(|e| format!("code exchange: {e}"))?;
    let id_token = tokens.id_token().ok_or("no ID token")?;
    let id_claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
        .map_err(|e| format!("ID token: {e}"))?;
    let (principal, claims) = state
        .config
        .validator
        .authenticate_with_claims(tokens.access_token().secret())
        .await
        .map_err(|e| e.to_string())?;
    if id_claims.subject().as_str() != principal.sub {
        return Err("the ID token and the access token name different subjects".into());
    }
    Ok((principal, claims, pending.return_to))
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
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    viewer.check_csrf(&form.csrf)?;
    if let Some(cookie) = req.cookie(session::COOKIE) {
        session::end(&state.config.db, cookie.value()).await.map_err(|e| WebError::Internal(e.to_string()))?;
    }
    let body = state.render(
        "message.html",
        viewer.lang,
        None,
        minijinja::context! { heading => "sign_out", text_key => "signed_out", show_sign_in => true },
    )?;
    Ok(HttpResponse::Ok()
        .cookie(session::cookie("", state.config.secure_cookies))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

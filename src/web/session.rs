//! Browser sessions: the cookie carries only a random id (HttpOnly, SameSite=Lax, Secure under
//! TLS); the database keeps its SHA-256, the claims of the validated access token (re-mapped to a
//! Principal on every request, through the same mapper as bearer tokens), a CSRF token and the
//! expiry. No token a script could read ever reaches the browser.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::LocalBoxFuture;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::WebError;
use super::i18n;
use crate::auth::{Caller, TokenValidator, request_info};
use crate::db::entities::web_session;
use crate::storage::hex;

pub const COOKIE: &str = "anaspoc_session";

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let first = uuid::Uuid::new_v4();
    let second = uuid::Uuid::new_v4();
    bytes[..16].copy_from_slice(first.as_bytes());
    bytes[16..].copy_from_slice(second.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

/// Start a session for validated `claims`; returns the cookie value.
pub async fn create(
    db: &DatabaseConnection,
    claims: &Value,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<String, DbErr> {
    let id = random_token();
    web_session::Entity::insert(web_session::ActiveModel {
        id_hash: Set(hash(&id)),
        principal: Set(claims.to_string()),
        csrf: Set(random_token()),
        expires_at: Set(expires_at),
        created_at: Set(chrono::Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

pub async fn end(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    web_session::Entity::delete_by_id(hash(id)).exec(db).await?;
    Ok(())
}

/// The session cookie to set (or, with an empty value, to clear).
pub fn cookie(value: &str, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    if value.is_empty() {
        cookie.make_removal();
    }
    cookie
}

/// A signed-in browser user: the same [`Caller`] the API has, plus the CSRF token of the
/// session and the interface language.
pub struct Viewer {
    pub caller: Caller,
    pub csrf: String,
    pub lang: &'static str,
    /// Path and query of this page, so the language switcher can come back to it.
    pub here: String,
}

impl Viewer {
    /// Refuse a state-changing form whose CSRF token is not the session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        let same = submitted.len() == self.csrf.len()
            && submitted.bytes().zip(self.csrf.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same { Ok(()) } else { Err(WebError::Csrf { lang: self.lang }) }
    }
}

impl FromRequest for Viewer {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let db = req.app_data::<web::Data<DatabaseConnection>>().cloned();
        let validator = req.app_data::<web::Data<TokenValidator>>().cloned();
        let id = req.cookie(COOKIE).map(|c| c.value().to_owned());
        let request = request_info(req);
        let lang = i18n::negotiate(req);
        let return_to = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        // A form's POST target is no page to come back to; after one, the switcher goes home.
        let here = if req.method() == actix_web::http::Method::GET { return_to.clone() } else { "/".to_owned() };
        Box::pin(async move {
            let sign_in = || WebError::SignIn { return_to: return_to.clone(), lang };
            let (Some(db), Some(validator), Some(id)) = (db, validator, id) else { return Err(sign_in()) };
            let row = web_session::Entity::find()
                .filter(web_session::Column::IdHash.eq(hash(&id)))
                .filter(web_session::Column::ExpiresAt.gt(chrono::Utc::now()))
                .one(db.get_ref())
                .await
                .map_err(|e| WebError::Internal(e.to_string()))?
                .ok_or_else(sign_in)?;
            let claims: Value = serde_json::from_str(&row.principal).map_err(|e| WebError::Internal(e.to_string()))?;
            // A configuration change that no longer admits these claims ends the session.
            let principal = validator.map_claims(&claims).map_err(|_| sign_in())?;
            tracing::Span::current().record("principal", principal.sub.as_str());
            Ok(Viewer { caller: Caller { principal, request }, csrf: row.csrf, lang, here })
        })
    }
}

//! The signed-in browser user of a page: the session cookie (only a random id) resumed through
//! [`Sessions`], plus the interface language and the CSRF token every state-changing form must
//! carry; and the platform's cookies: `HttpOnly`, `SameSite=Lax`, and — when browsers reach the
//! platform over HTTPS, here or at a proxy — `Secure` with the `__Host-` prefix (bound to this
//! host, no `Domain`, `Path=/`, so no neighbour site can set or shadow them).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use sha2::Digest;

use super::i18n;
use super::{WebError, WebState};
use crate::auth::Sessions;
use crate::caller::{Caller, RequestInfo};

/// The platform's own cookies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Jar {
    /// The session: a random id.
    Session,
    /// A sign-in in progress, one cookie per sign-in (named after its `state`, so that two tabs
    /// signing in at once do not overwrite each other): the secret binding it to this browser.
    SignIn { state: String },
}

impl Jar {
    pub fn name(&self, secure: bool) -> String {
        let prefix = if secure { "__Host-" } else { "" };
        match self {
            Jar::Session => format!("{prefix}anaspoc_session"),
            Jar::SignIn { state } => {
                let digest = hex::encode(sha2::Sha256::digest(state.as_bytes()));
                format!("{prefix}anaspoc_signin_{}", &digest[..16])
            }
        }
    }

    /// The cookie to set (or, with an empty value, to clear).
    pub fn cookie(&self, value: &str, secure: bool) -> Cookie<'static> {
        let mut cookie = Cookie::build(self.name(secure), value.to_owned())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .finish();
        if matches!(self, Jar::SignIn { .. }) {
            cookie.set_max_age(actix_web::cookie::time::Duration::minutes(crate::auth::SIGN_IN_TTL_MINUTES));
        }
        if value.is_empty() {
            cookie.make_removal();
        }
        cookie
    }

    /// The value the browser sent.
    pub fn read(&self, req: &HttpRequest, secure: bool) -> Option<String> {
        req.cookie(&self.name(secure)).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
    }
}

/// A signed-in browser user: the same [`Caller`] the API has, plus the CSRF token of the
/// session and the interface language.
pub struct Viewer {
    pub caller: Caller,
    pub csrf: String,
    pub lang: &'static str,
    /// Path and query of this page, so the language switcher can come back to it.
    pub here: String,
    /// Unread notifications of what the viewer may still see (the header's bell; pages only).
    pub unread: usize,
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
        let sessions = req.app_data::<web::Data<Sessions>>().cloned();
        let notify = req.app_data::<web::Data<crate::notify::Service>>().cloned();
        let page = req.method() == actix_web::http::Method::GET;
        let secure = req.app_data::<web::Data<WebState>>().is_some_and(|state| state.secure_cookies);
        let id = Jar::Session.read(req, secure);
        let request = RequestInfo::of(req);
        let lang = i18n::negotiate(req);
        let return_to = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        // A form's POST target is no page to come back to; after one, the switcher goes home.
        let here = if req.method() == actix_web::http::Method::GET { return_to.clone() } else { "/".to_owned() };
        Box::pin(async move {
            let sign_in = || WebError::SignIn { return_to: return_to.clone(), lang };
            let (Some(sessions), Some(id)) = (sessions, id) else { return Err(sign_in()) };
            let session = sessions.resume(&id, request).await.map_err(|e| WebError::from_service(e, lang))?;
            let session = session.ok_or_else(sign_in)?;
            // The bell is a courtesy: a page still shows if it cannot be counted.
            let unread = match notify.filter(|_| page) {
                Some(notify) => notify.unread_count(&session.caller).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "unread notifications not counted");
                    0
                }),
                None => 0,
            };
            Ok(Viewer { caller: session.caller, csrf: session.csrf, lang, here, unread })
        })
    }
}

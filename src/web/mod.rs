//! The web interface for analysts, advisors and auditors: server-rendered pages (minijinja
//! templates compiled into the binary), progressive enhancement with one small script served
//! from the binary, sign-in through OpenID Connect, and the same services — hence the same
//! policy and the same audit events — as the API. Pages never decide access: a service's
//! refusal becomes an error page by the same table as the API's problems ([`WebError::from_service`]).

pub mod charts;
pub mod i18n;
mod login;
mod pages;
pub mod session;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};
use minijinja::{Environment, State, Value as JinjaValue};

use crate::error::ApiError;
use crate::policy::{Capability, PolicyConfig};

pub use i18n::Catalogues;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in (or the session ended): off to the sign-in page.
    #[error("sign-in required")]
    SignIn { return_to: String, lang: &'static str },
    #[error("the sign-in failed")]
    LoginFailed { lang: &'static str },
    #[error("the form's CSRF token does not match the session")]
    Csrf { lang: &'static str },
    #[error("the form could not be read")]
    BadForm { lang: &'static str },
    #[error("not found")]
    NotFound { lang: &'static str },
    #[error("forbidden")]
    Forbidden { lang: &'static str },
    /// A request a service refused as unusable (4xx): the page says why, with the API's status.
    #[error("{detail}")]
    Rejected { status: StatusCode, detail: String, lang: &'static str },
    /// A dependency (database, object store, identity provider) is down or too slow: 503.
    #[error("a dependency is unavailable")]
    Unavailable { lang: &'static str, sign_in: bool },
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    /// A service's error as a page, by the one table of problems the API answers with: hidden or
    /// missing is "not found", refused is "forbidden", any other 4xx keeps its status and says
    /// why, and only a 5xx is an internal error.
    pub fn from_service(error: impl Into<ApiError>, lang: &'static str) -> Self {
        let error = error.into();
        let problem = error.problem();
        match problem.status() {
            StatusCode::NOT_FOUND => WebError::NotFound { lang },
            StatusCode::FORBIDDEN => WebError::Forbidden { lang },
            StatusCode::SERVICE_UNAVAILABLE => WebError::Unavailable { lang, sign_in: false },
            status if status.is_client_error() => {
                WebError::Rejected { status, detail: problem.detail.unwrap_or_else(|| problem.title.to_owned()), lang }
            }
            _ => WebError::Internal(error.to_string()),
        }
    }

    /// The interface language the error page speaks.
    fn lang(&self) -> &'static str {
        match self {
            WebError::SignIn { lang, .. }
            | WebError::LoginFailed { lang }
            | WebError::Csrf { lang }
            | WebError::BadForm { lang }
            | WebError::NotFound { lang }
            | WebError::Forbidden { lang }
            | WebError::Rejected { lang, .. }
            | WebError::Unavailable { lang, .. } => lang,
            WebError::Internal(_) => "en",
        }
    }
}

/// What pages need, built once at start.
pub struct WebState {
    pub policy: Arc<PolicyConfig>,
    pub countries: Vec<String>,
    /// Browsers reach the platform over HTTPS (here or at a proxy): cookies are `Secure`, with
    /// the `__Host-` prefix.
    pub secure_cookies: bool,
    templates: Environment<'static>,
    catalogues: Arc<Catalogues>,
}

const TEMPLATES: [(&str, &str); 11] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("search.html", include_str!("../../templates/search.html")),
    ("document.html", include_str!("../../templates/document.html")),
    ("upload.html", include_str!("../../templates/upload.html")),
    ("requests.html", include_str!("../../templates/requests.html")),
    ("saved_searches.html", include_str!("../../templates/saved_searches.html")),
    ("notifications.html", include_str!("../../templates/notifications.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("audit_report.html", include_str!("../../templates/audit_report.html")),
    ("message.html", include_str!("../../templates/message.html")),
    ("api.html", include_str!("../../templates/api.html")),
];

impl WebState {
    pub fn new(policy: Arc<PolicyConfig>, secure_cookies: bool) -> Result<Self, WebError> {
        let catalogues = Arc::new(Catalogues::load().map_err(|e| WebError::Internal(e.to_string()))?);
        let mut templates = Environment::new();
        for (name, source) in TEMPLATES {
            templates.add_template(name, source).map_err(|e| WebError::Internal(format!("template {name}: {e}")))?;
        }
        // t("key", n=3): the message in the page's language, with {placeholders} filled.
        let messages = catalogues.clone();
        templates.add_function("t", move |state: &State, key: &str, kwargs: minijinja::value::Kwargs| -> String {
            let lang = state.lookup("lang").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "en".into());
            let mut text = messages.get(&lang, key).to_owned();
            for name in kwargs.args() {
                if let Ok(value) = kwargs.get::<JinjaValue>(name) {
                    text = text.replace(&format!("{{{name}}}"), &value.to_string());
                }
            }
            text
        });
        templates.add_filter("filesize", |bytes: i64| -> String {
            match bytes {
                b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
                b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
                b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
                b => format!("{b} B"),
            }
        });
        // Text with `code` spans (the API contract's descriptions): escaped, spans as <code>.
        templates.add_filter("code_spans", |text: &str| -> JinjaValue {
            let html: String = text
                .split('`')
                .enumerate()
                .map(|(i, part)| {
                    let part = minijinja::HtmlEscape(part).to_string();
                    if i % 2 == 1 { format!("<code>{part}</code>") } else { part }
                })
                .collect();
            JinjaValue::from_safe_string(html)
        });
        let countries = policy.countries.iter().cloned().collect();
        Ok(Self { policy, countries, secure_cookies, templates, catalogues })
    }

    /// Render `template` in `lang`; `viewer` fills the header (user, CSRF token for sign-out).
    pub fn render(
        &self,
        template: &str,
        lang: &str,
        viewer: Option<&session::Viewer>,
        page: JinjaValue,
    ) -> Result<String, WebError> {
        // Which links the header shows; the services still decide every request.
        let user = viewer.map(|v| {
            minijinja::context! {
                name => v.caller.principal.name.clone(),
                organisation => v.caller.principal.organisation.clone(),
                auditor => v.caller.principal.has(Capability::AuditRead),
                writer => v.caller.principal.has(Capability::DocumentWrite),
                reader => v.caller.principal.has(Capability::DocumentRead),
                unread => v.unread,
            }
        });
        let languages: Vec<JinjaValue> =
            i18n::LANGUAGES.iter().map(|(code, name)| minijinja::context! { code => *code, name => *name }).collect();
        let context = minijinja::context! {
            lang => lang,
            languages => languages,
            user => user,
            csrf => viewer.map(|v| v.csrf.clone()),
            here => viewer.map_or("/", |v| v.here.as_str()),
            ..page
        };
        self.templates
            .get_template(template)
            .and_then(|t| t.render(context))
            .map_err(|e| WebError::Internal(format!("rendering {template}: {e:#}")))
    }

    pub fn catalogues(&self) -> &Catalogues {
        &self.catalogues
    }

    /// The message `key` in `lang` (for text made outside templates, e.g. chart labels).
    pub fn t(&self, lang: &str, key: &str) -> String {
        self.catalogues.get(lang, key).to_owned()
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } => StatusCode::SEE_OTHER,
            WebError::LoginFailed { .. } | WebError::Csrf { .. } => StatusCode::FORBIDDEN,
            WebError::BadForm { .. } => StatusCode::BAD_REQUEST,
            WebError::NotFound { .. } => StatusCode::NOT_FOUND,
            WebError::Forbidden { .. } => StatusCode::FORBIDDEN,
            WebError::Rejected { status, .. } => *status,
            WebError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::SignIn { return_to, .. } = self {
            let target: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/login?return_to={target}")))
                .finish();
        }
        if let WebError::Internal(reason) = self {
            tracing::error!(%reason, "web page failed");
        }
        // Error pages are plain (no header, no session): they must render even when the
        // templates or the database do not. Their words come from the compiled-in catalogues.
        let lang = self.lang();
        let t = |key: &str| Catalogues::shared().map_or_else(|| key.to_owned(), |c| c.get(lang, key).to_owned());
        let (heading, text) = match self {
            WebError::NotFound { .. } => (t("not_found_title"), t("not_found_text")),
            WebError::Forbidden { .. } => (t("forbidden_title"), t("forbidden_text")),
            WebError::LoginFailed { .. } => (t("error_title"), t("login_failed")),
            WebError::Csrf { .. } => (t("forbidden_title"), t("csrf_text")),
            WebError::BadForm { .. } => (t("error_title"), t("bad_form_text")),
            WebError::Unavailable { sign_in: true, .. } => (t("unavailable_title"), t("sign_in_unavailable")),
            WebError::Unavailable { .. } => (t("unavailable_title"), t("unavailable_text")),
            // The service's own words: they may quote what the user sent, so they are escaped.
            WebError::Rejected { detail, .. } => (t("error_title"), minijinja::HtmlEscape(detail).to_string()),
            _ => (t("error_title"), t("error_text")),
        };
        let (home, sign_in) = (t("nav_search"), t("sign_in"));
        let sign_in = match self {
            WebError::LoginFailed { .. } => format!(r#" · <a href="/login">{sign_in}</a>"#),
            _ => String::new(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let WebError::Unavailable { .. } = self {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        response.content_type("text/html; charset=utf-8").body(format!(
            "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{heading}</title>\
             <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main id=\"content\">\
             <h1>{heading}</h1><p>{text}</p><p><a href=\"/\">{home}</a>{sign_in}</p></main></body></html>"
        ))
    }
}

/// Routes of the web interface (everything outside /api, /demo-idp and the probes — but the
/// API reference page, which is HTML for people).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::search::page))
        .route("/login", web::get().to(login::login))
        .route("/auth/callback", web::get().to(login::callback))
        .route("/logout", web::post().to(login::logout))
        .route("/language", web::get().to(pages::language::switch))
        .route("/upload", web::get().to(pages::upload::form))
        .route("/upload", web::post().to(pages::upload::submit))
        .route("/documents/{id}", web::get().to(pages::document::page))
        .route("/documents/{id}/download", web::get().to(pages::document::download))
        .route("/documents/{id}/edit", web::post().to(pages::document::edit))
        .route("/documents/{id}/versions", web::post().to(pages::document::new_version))
        .route("/documents/{id}/{change:publish|withdraw}", web::post().to(pages::document::change_status))
        .route("/documents/{id}/requests", web::post().to(pages::document::ask))
        .route("/requests", web::get().to(pages::requests::page))
        .route("/requests/{id}/decision", web::post().to(pages::requests::decide))
        .route("/saved-searches", web::get().to(pages::saved_searches::page))
        .route("/saved-searches", web::post().to(pages::saved_searches::create))
        .route("/saved-searches/{id}/alert", web::post().to(pages::saved_searches::alert))
        .route("/saved-searches/{id}/delete", web::post().to(pages::saved_searches::delete))
        .route("/notifications", web::get().to(pages::notifications::page))
        .route("/notifications/read-all", web::post().to(pages::notifications::read_all))
        .route("/notifications/{id}/open", web::post().to(pages::notifications::open))
        .route("/audit", web::get().to(pages::audit::page))
        .route(crate::api::openapi::REFERENCE_PATH, web::get().to(pages::api_reference::page))
        .route("/audit/export", web::get().to(pages::audit::export))
        .route("/audit/activity.csv", web::get().to(pages::audit::activity_csv))
        .route("/audit/documents/{id}", web::get().to(pages::audit::report))
        .route(
            "/static/app.css",
            web::get().to(|| async { static_file("text/css; charset=utf-8", include_str!("../../static/app.css")) }),
        )
        .route(
            "/static/app.js",
            web::get()
                .to(|| async { static_file("text/javascript; charset=utf-8", include_str!("../../static/app.js")) }),
        );
}

fn static_file(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// Security headers on every response: a strict Content-Security-Policy (no inline script or
/// style, nothing from elsewhere, no framing), no referrer, no sniffing, and HSTS when browsers
/// reach the platform over HTTPS (here or at a proxy in front).
pub fn security_headers(https: bool) -> actix_web::middleware::DefaultHeaders {
    let mut headers = actix_web::middleware::DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"));
    if https {
        headers = headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"));
    }
    headers
}

//! The built-in development identity provider of `anaspoc demo`: an OpenID Connect issuer with a
//! discovery document, a JWKS and a token endpoint that issues RS256 JWT access tokens for the
//! demo [`personas`]. The platform validates its tokens exactly as it validates a production
//! issuer's (discovery over HTTP, JWKS, signature, claims); nothing here is trusted directly.
//! Only `anaspoc demo` mounts it, and only on a loopback address (see config validation).

mod keys;
pub mod personas;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub use keys::{KeyError, SigningKey};
pub use personas::{PERSONAS, Persona};

/// Where the demo provider is mounted on the platform's own server.
pub const MOUNT_PATH: &str = "/demo-idp";
/// Lifetime of issued access tokens.
const TOKEN_TTL_SECS: i64 = 3600;

/// An authorization code waiting to be exchanged (the demo provider keeps them in memory).
struct PendingCode {
    persona: &'static Persona,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: String,
    issued: std::time::Instant,
}

/// Codes are single-use and short-lived.
const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(120);

pub struct DemoIdp {
    issuer: String,
    audience: String,
    /// Redirect URIs of the browser sign-in must start with this (the platform's own URL).
    redirect_prefix: String,
    codes: Mutex<HashMap<String, PendingCode>>,
    /// Current key first; the previous one stays published so tokens signed before a rotation
    /// remain verifiable until they expire.
    keys: RwLock<Vec<SigningKey>>,
    jwks_requests: AtomicU64,
    discovery_requests: AtomicU64,
}

impl DemoIdp {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Result<Self, KeyError> {
        let issuer = issuer.into().trim_end_matches('/').to_owned();
        let redirect_prefix = issuer.strip_suffix(MOUNT_PATH).unwrap_or(&issuer).to_owned() + "/";
        Ok(Self {
            issuer,
            audience: audience.into(),
            redirect_prefix,
            codes: Mutex::new(HashMap::new()),
            keys: RwLock::new(vec![SigningKey::generate()?]),
            jwks_requests: AtomicU64::new(0),
            discovery_requests: AtomicU64::new(0),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many times the JWKS was served (tests check the platform's refresh behaviour).
    pub fn jwks_requests(&self) -> u64 {
        self.jwks_requests.load(Ordering::Relaxed)
    }

    /// How many times the discovery document was served.
    pub fn discovery_requests(&self) -> u64 {
        self.discovery_requests.load(Ordering::Relaxed)
    }

    /// Start signing with a new key; the previous key stays in the JWKS.
    pub fn rotate_key(&self) -> Result<(), KeyError> {
        let key = SigningKey::generate()?;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.insert(0, key);
        keys.truncate(2);
        Ok(())
    }

    /// Sign arbitrary claims with the current key (the token endpoint uses this; tests use it to
    /// forge tokens that differ from a valid one in exactly one way).
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys[0].sign(claims)
    }

    /// Sign an ID token (`typ: JWT`) with the current key.
    pub fn sign_id_token(&self, claims: &Value) -> Result<String, KeyError> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys[0].sign_as(claims, "JWT")
    }

    /// `kid` and private PEM of the current key.
    pub fn current_key(&self) -> (String, String) {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        (keys[0].kid().to_owned(), keys[0].private_pem().to_owned())
    }

    /// The claims of an access token for `persona`, Keycloak-shaped (roles in `realm_access`).
    pub fn claims_for(&self, persona: &Persona) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut claims = persona.identity_claims();
        let token = [
            ("iss", json!(self.issuer)),
            ("aud", json!(self.audience)),
            ("azp", json!("anaspoc-demo")),
            ("iat", json!(now)),
            ("nbf", json!(now)),
            ("exp", json!(now + TOKEN_TTL_SECS)),
            ("jti", json!(uuid::Uuid::new_v4().to_string())),
            ("scope", json!("openid profile")),
        ];
        for (name, value) in token {
            claims[name] = value;
        }
        claims
    }

    pub fn discovery_document(&self) -> Value {
        let issuer = &self.issuer;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "grant_types_supported": ["authorization_code", "password"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": ["sub", "name", "organisation", "country", "clearance", "realm_access"],
        })
    }

    pub fn jwks(&self) -> Value {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()})
    }

    /// Mount the provider's endpoints under `path` (e.g. [`MOUNT_PATH`], or "" on its own server).
    pub fn scope(idp: web::Data<DemoIdp>, path: &str) -> actix_web::Scope {
        web::scope(path)
            .app_data(idp)
            .route("/.well-known/openid-configuration", web::get().to(discovery))
            .route("/jwks", web::get().to(jwks))
            .route("/token", web::post().to(token))
            .route("/authorize", web::get().to(authorize_page))
            .route("/authorize", web::post().to(authorize))
            .route("/personas", web::get().to(personas))
    }

    /// Console instructions printed by `anaspoc demo`.
    pub fn usage(&self, public_url: &str) -> String {
        let mut text = format!(
            "DEMO MODE: built-in development identity provider at {issuer}\n\
             Demo personas (username — who):\n",
            issuer = self.issuer
        );
        for persona in PERSONAS {
            text.push_str(&format!(
                "  {:<16} {} — {}, {}, clearance {}\n",
                persona.username, persona.name, persona.description, persona.country, persona.clearance
            ));
        }
        text.push_str(&format!(
            "Get a token and call the API:\n  \
             TOKEN=$(curl -s {issuer}/token -d grant_type=password -d username=analyst-rs | jq -r .access_token)\n  \
             curl -s -H \"Authorization: Bearer $TOKEN\" {public_url}/api/v1/me\n",
            issuer = self.issuer
        ));
        text
    }
}

async fn discovery(idp: web::Data<DemoIdp>) -> HttpResponse {
    idp.discovery_requests.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(idp.discovery_document())
}

async fn jwks(idp: web::Data<DemoIdp>) -> HttpResponse {
    idp.jwks_requests.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(idp.jwks())
}

async fn personas() -> HttpResponse {
    HttpResponse::Ok().json(PERSONAS)
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    username: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
}

/// The parameters of an authorization request (OIDC authorization code flow with PKCE).
#[derive(Deserialize)]
struct AuthorizeRequest {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// The persona chosen on the page (POST only).
    username: Option<String>,
}

impl AuthorizeRequest {
    fn check(&self, idp: &DemoIdp) -> Result<(), &'static str> {
        if self.response_type != "code" {
            return Err("only response_type=code is supported");
        }
        if !self.redirect_uri.starts_with(&idp.redirect_prefix) {
            return Err("redirect_uri is not the platform's");
        }
        if self.code_challenge.as_deref().is_none_or(str::is_empty)
            || self.code_challenge_method.as_deref() != Some("S256")
        {
            return Err("PKCE with S256 is required");
        }
        Ok(())
    }
}

fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", minijinja::HtmlEscape(value))
}

/// The demo provider's sign-in page: pick a persona.
async fn authorize_page(idp: web::Data<DemoIdp>, query: web::Query<AuthorizeRequest>) -> HttpResponse {
    if let Err(problem) = query.check(&idp) {
        return HttpResponse::BadRequest().content_type("text/plain; charset=utf-8").body(problem);
    }
    let mut fields = String::new();
    for (name, value) in [
        ("response_type", Some(query.response_type.as_str())),
        ("client_id", Some(query.client_id.as_str())),
        ("redirect_uri", Some(query.redirect_uri.as_str())),
        ("state", query.state.as_deref()),
        ("nonce", query.nonce.as_deref()),
        ("code_challenge", query.code_challenge.as_deref()),
        ("code_challenge_method", query.code_challenge_method.as_deref()),
    ] {
        if let Some(value) = value {
            fields.push_str(&hidden(name, value));
        }
    }
    let mut buttons = String::new();
    for persona in PERSONAS {
        buttons.push_str(&format!(
            "<li><button type=\"submit\" name=\"username\" value=\"{user}\"><strong>{name}</strong>              <span>{description} · {country} · {clearance}</span></button></li>",
            user = persona.username,
            name = minijinja::HtmlEscape(persona.name),
            description = minijinja::HtmlEscape(persona.description),
            country = persona.country,
            clearance = persona.clearance,
        ));
    }
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo sign-in</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body class=\"demo-idp\"><main>\
         <h1>Demo identity provider</h1><p class=\"warning\">Development only: anyone on this machine can sign in \
         as any persona.</p><form method=\"post\" action=\"{issuer}/authorize\">{fields}<ul class=\"personas\">{buttons}\
         </ul></form></main></body></html>",
        issuer = idp.issuer
    );
    HttpResponse::Ok().content_type("text/html; charset=utf-8").insert_header(("Cache-Control", "no-store")).body(page)
}

/// The persona was chosen: issue a single-use code and send the browser back.
async fn authorize(idp: web::Data<DemoIdp>, form: web::Form<AuthorizeRequest>) -> HttpResponse {
    if let Err(problem) = form.check(&idp) {
        return HttpResponse::BadRequest().content_type("text/plain; charset=utf-8").body(problem);
    }
    let Some(persona) = form.username.as_deref().and_then(personas::find) else {
        return HttpResponse::BadRequest().content_type("text/plain; charset=utf-8").body("unknown persona");
    };
    let code = uuid::Uuid::new_v4().simple().to_string();
    {
        let mut codes = idp.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, pending| pending.issued.elapsed() < CODE_TTL);
        codes.insert(
            code.clone(),
            PendingCode {
                persona,
                client_id: form.client_id.clone(),
                redirect_uri: form.redirect_uri.clone(),
                nonce: form.nonce.clone(),
                code_challenge: form.code_challenge.clone().unwrap_or_default(),
                issued: std::time::Instant::now(),
            },
        );
    }
    let mut location = match url::Url::parse(&form.redirect_uri) {
        Ok(url) => url,
        Err(_) => return HttpResponse::BadRequest().body("bad redirect_uri"),
    };
    location.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = &form.state {
        location.query_pairs_mut().append_pair("state", state);
    }
    location.query_pairs_mut().append_pair("iss", &idp.issuer);
    HttpResponse::SeeOther().insert_header(("Location", location.to_string())).finish()
}

/// Exchange a code: checks client, redirect URI and the PKCE verifier, then issues an access
/// token and an ID token (with the nonce of the request).
fn exchange_code(idp: &DemoIdp, form: &TokenRequest) -> Result<serde_json::Value, (&'static str, String)> {
    let code = form.code.as_deref().unwrap_or_default();
    let pending = idp
        .codes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(code)
        .ok_or(("invalid_grant", "unknown or used code".to_owned()))?;
    if pending.issued.elapsed() > CODE_TTL {
        return Err(("invalid_grant", "the code expired".into()));
    }
    if form.client_id.as_deref().is_some_and(|c| c != pending.client_id)
        || form.redirect_uri.as_deref() != Some(pending.redirect_uri.as_str())
    {
        return Err(("invalid_grant", "client or redirect_uri does not match the code".into()));
    }
    let verifier = form.code_verifier.as_deref().unwrap_or_default();
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    if challenge != pending.code_challenge {
        return Err(("invalid_grant", "the PKCE verifier does not match".into()));
    }
    let access_token = idp.sign(&idp.claims_for(pending.persona)).map_err(|e| ("server_error", e.to_string()))?;
    let now = chrono::Utc::now().timestamp();
    let id_claims = json!({
        "iss": idp.issuer,
        "sub": pending.persona.username,
        "aud": pending.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL_SECS,
        "nonce": pending.nonce,
        "name": pending.persona.name,
    });
    let id_token = idp.sign_id_token(&id_claims).map_err(|e| ("server_error", e.to_string()))?;
    Ok(json!({
        "access_token": access_token,
        "id_token": id_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL_SECS,
        "scope": "openid profile",
    }))
}

/// OAuth 2.0 token endpoint. Demo personas have no password: the username alone picks one.
async fn token(idp: web::Data<DemoIdp>, form: web::Form<TokenRequest>) -> HttpResponse {
    let oauth_error = |error: &str, description: String| {
        HttpResponse::BadRequest().json(json!({"error": error, "error_description": description}))
    };
    if form.grant_type == "authorization_code" {
        return match exchange_code(&idp, &form) {
            Ok(body) => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body),
            Err((error, description)) => oauth_error(error, description),
        };
    }
    if form.grant_type != "password" {
        return oauth_error(
            "unsupported_grant_type",
            "the demo provider supports authorization_code and password".into(),
        );
    }
    let username = form.username.as_deref().unwrap_or_default();
    let Some(persona) = personas::find(username) else {
        let known: Vec<_> = PERSONAS.iter().map(|p| p.username).collect();
        return oauth_error(
            "invalid_grant",
            format!("unknown demo persona `{username}`; one of: {}", known.join(", ")),
        );
    };
    match idp.sign(&idp.claims_for(persona)) {
        Ok(access_token) => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECS,
            "scope": "openid profile",
        })),
        Err(error) => {
            tracing::error!(%error, "demo provider could not sign a token");
            HttpResponse::InternalServerError().json(json!({"error": "server_error"}))
        }
    }
}

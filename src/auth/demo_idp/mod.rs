//! The built-in development identity provider of `anaspoc demo`: an OpenID Connect issuer with a
//! discovery document, a JWKS and a token endpoint that issues RS256 JWT access tokens for the
//! demo [`personas`]. The platform validates its tokens exactly as it validates a production
//! issuer's (discovery over HTTP, JWKS, signature, claims); nothing here is trusted directly.
//! Only `anaspoc demo` mounts it, and only on a loopback address (see config validation).

mod keys;
pub mod personas;

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub use keys::{KeyError, SigningKey};
pub use personas::{PERSONAS, Persona};

/// Where the demo provider is mounted on the platform's own server.
pub const MOUNT_PATH: &str = "/demo-idp";
/// Lifetime of issued access tokens.
const TOKEN_TTL_SECS: i64 = 3600;

pub struct DemoIdp {
    issuer: String,
    audience: String,
    /// Current key first; the previous one stays published so tokens signed before a rotation
    /// remain verifiable until they expire.
    keys: RwLock<Vec<SigningKey>>,
    jwks_requests: AtomicU64,
}

impl DemoIdp {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Result<Self, KeyError> {
        Ok(Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: audience.into(),
            keys: RwLock::new(vec![SigningKey::generate()?]),
            jwks_requests: AtomicU64::new(0),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many times the JWKS was served (tests check the platform's refresh behaviour).
    pub fn jwks_requests(&self) -> u64 {
        self.jwks_requests.load(Ordering::Relaxed)
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

    /// `kid` and private PEM of the current key.
    pub fn current_key(&self) -> (String, String) {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        (keys[0].kid().to_owned(), keys[0].private_pem().to_owned())
    }

    /// The claims of an access token for `persona`, Keycloak-shaped (roles in `realm_access`).
    pub fn claims_for(&self, persona: &Persona) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer,
            "sub": persona.username,
            "aud": self.audience,
            "azp": "anaspoc-demo",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_TTL_SECS,
            "jti": uuid::Uuid::new_v4().to_string(),
            "scope": "openid profile",
            "name": persona.name,
            "preferred_username": persona.username,
            "organisation": persona.organisation,
            "country": persona.country,
            "clearance": persona.clearance,
            "realm_access": {"roles": persona.roles},
        })
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
            "grant_types_supported": ["password"],
            "token_endpoint_auth_methods_supported": ["none"],
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
}

/// OAuth 2.0 token endpoint. Demo personas have no password: the username alone picks one.
async fn token(idp: web::Data<DemoIdp>, form: web::Form<TokenRequest>) -> HttpResponse {
    let oauth_error = |error: &str, description: String| {
        HttpResponse::BadRequest().json(json!({"error": error, "error_description": description}))
    };
    if form.grant_type != "password" {
        return oauth_error("unsupported_grant_type", "the demo provider supports grant_type=password".into());
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

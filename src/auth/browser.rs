//! Browser sign-in: the OpenID Connect authorization code flow with PKCE, state and nonce (the
//! `openidconnect` crate). The access token then goes through the same validator as every bearer
//! token, the session keeps its validated claims — never the token — and the sign-in is recorded
//! in the directory and the audit trail; a refused one is audited too.

use std::sync::Arc;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::denials::Denials;
use super::directory::{Directory, Via};
use super::discovery::{self, DiscoveryCache};
use super::sessions::{SIGN_IN_TTL_MINUTES, Sessions, random_token};
use super::{AuthError, TokenValidator};
use crate::caller::{Caller, RequestInfo};
use crate::db::sessions::{self as repo, PendingSignIn};
use crate::policy::Principal;

/// Sign-ins one client (an IPv4 address, an IPv6 /64) keeps in progress; starting more removes
/// its oldest. This bounds the table without turning a flood from one address — or a spoofed
/// one — into a lock-out: a victim who starts a sign-in afterwards still completes it.
const MAX_PENDING_PER_CLIENT: u64 = 100;

/// The platform as a client of the issuer.
pub struct ClientSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `resource` (RFC 8707) to ask for, empty for none.
    pub resource: String,
    pub public_url: String,
    pub session_hours: u64,
    /// How long the discovery document is kept, and how soon a failed fetch is retried.
    pub discovery_max_age: std::time::Duration,
    pub discovery_min_refresh: std::time::Duration,
}

/// What the identity provider sends back to `/auth/callback`.
#[derive(Debug, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// A started sign-in: where to send the browser, its `state`, and the secret the browser's
/// cookie for that state must hold when it comes back (only the SHA-256 is kept here), so that a
/// callback link sent to someone else's browser signs nobody in.
pub struct Started {
    pub authorize_url: String,
    pub state: String,
    pub browser_secret: String,
}

/// A completed sign-in: the session's cookie value and where the user was going.
pub struct SignedIn {
    pub session: String,
    pub return_to: String,
}

pub struct BrowserSignIn {
    client: ClientSettings,
    http: reqwest::Client,
    discovery: DiscoveryCache,
    db: DatabaseConnection,
    validator: Arc<TokenValidator>,
    sessions: Arc<Sessions>,
    directory: Arc<Directory>,
    denials: Arc<Denials>,
}

/// The platform as a client of the issuer, as its discovery document describes it.
type SignInClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

impl BrowserSignIn {
    pub fn new(
        client: ClientSettings,
        http: reqwest::Client,
        db: DatabaseConnection,
        validator: Arc<TokenValidator>,
        sessions: Arc<Sessions>,
        directory: Arc<Directory>,
        denials: Arc<Denials>,
    ) -> Self {
        let discovery = DiscoveryCache::new(
            http.clone(),
            client.issuer.clone(),
            client.discovery_max_age,
            client.discovery_min_refresh,
        );
        Self { client, http, discovery, db, validator, sessions, directory, denials }
    }

    /// Start a sign-in for the browser of `request`, coming back to `return_to` (a local path;
    /// anything else goes home).
    pub async fn begin(&self, return_to: Option<&str>, request: &RequestInfo) -> Result<Started, AuthError> {
        let client = self.sign_in_client().await.map_err(AuthError::Unavailable)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut authorize = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if !self.client.resource.is_empty() {
            authorize = authorize.add_extra_param("resource", self.client.resource.clone());
        }
        let (url, state, nonce) = authorize.url();
        let browser_secret = random_token();
        let pending = PendingSignIn {
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            return_to: crate::redirect::local_path(return_to).to_owned(),
            created_at: chrono::Utc::now(),
            browser_hash: hash(&browser_secret),
            client_ip: client_network(&request.ip),
        };
        let network = pending.client_ip.clone();
        let unavailable = |e: sea_orm::DbErr| AuthError::Unavailable(e.to_string());
        repo::insert_sign_in(&self.db, pending).await.map_err(unavailable)?;
        let removed = repo::trim_sign_ins(&self.db, &network, MAX_PENDING_PER_CLIENT).await.map_err(unavailable)?;
        if removed > 0 {
            tracing::warn!(client = %network, removed, "many sign-ins in progress from one client; dropped the oldest");
        }
        Ok(Started { authorize_url: url.to_string(), state: state.secret().clone(), browser_secret })
    }

    /// Complete the sign-in the provider's `callback` answers, in the browser holding
    /// `browser_secret` (its sign-in cookie): check everything, start the session and record the
    /// sign-in — or record the refusal.
    pub async fn complete(
        &self,
        callback: &Callback,
        browser_secret: Option<&str>,
        request: RequestInfo,
    ) -> Result<SignedIn, AuthError> {
        let (principal, claims, return_to) = match self.exchange(callback, browser_secret).await {
            Ok(done) => done,
            Err(reason) => {
                tracing::info!(%reason, "browser sign-in refused");
                self.denials.record(&request, &reason, "/auth/callback", "browser").await;
                return Err(AuthError::SignInRefused(reason));
            }
        };
        let exp = claims["exp"].as_i64().and_then(|t| chrono::DateTime::from_timestamp(t, 0));
        let longest = chrono::Utc::now() + chrono::Duration::hours(self.client.session_hours as i64);
        let session = self.sessions.start(&claims, exp.map_or(longest, |e| e.min(longest))).await?;
        self.directory.signed_in(&Caller { principal, request }, Via::Browser).await?;
        Ok(SignedIn { session, return_to })
    }

    /// Exchange the code (with the PKCE verifier), check the ID token (nonce, issuer, audience,
    /// signature) and validate the access token. The reason for a refusal is for the log.
    async fn exchange(
        &self,
        callback: &Callback,
        browser_secret: Option<&str>,
    ) -> Result<(Principal, Value, String), String> {
        if let Some(error) = &callback.error {
            return Err(format!("the identity provider answered `{error}`"));
        }
        let (Some(code), Some(state)) = (&callback.code, &callback.state) else {
            return Err("no code or state in the callback".into());
        };
        // Only the browser that set out can take the sign-in (otherwise this is a link someone
        // sent to sign the visitor into *their* account), and it can take it once, whatever
        // happens next; another browser's attempt leaves it in place for its owner.
        let Some(secret) = browser_secret else {
            return Err("the callback reached a browser that did not start this sign-in".into());
        };
        let pending = repo::take_sign_in(&self.db, state, &hash(secret)).await.map_err(|e| e.to_string())?;
        let pending = pending.ok_or("unknown or reused state, or a browser that did not start this sign-in")?;
        if chrono::Utc::now() - pending.created_at > chrono::Duration::minutes(SIGN_IN_TTL_MINUTES) {
            return Err("the sign-in took too long".into());
        }
        let client = self.sign_in_client().await?;
        let http = discovery::oidc_http_client(&self.http);
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .map_err(|e| e.to_string())?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier));
        if !self.client.resource.is_empty() {
            exchange = exchange.add_extra_param("resource", self.client.resource.clone());
        }
        let tokens = exchange.request_async(&http).await.map_err(|e| format!("code exchange: {e}"))?;
        let id_token = tokens.id_token().ok_or("no ID token")?;
        let id_claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
            .map_err(|e| format!("ID token: {e}"))?;
        let (principal, claims) =
            self.validator.authenticate_with_claims(tokens.access_token().secret()).await.map_err(|e| e.to_string())?;
        if id_claims.subject().as_str() != principal.sub {
            return Err("the ID token and the access token name different subjects".into());
        }
        Ok((principal, claims, pending.return_to))
    }

    async fn sign_in_client(&self) -> Result<SignInClient, String> {
        let metadata = self.discovery.metadata().await.map_err(|e| e.to_string())?;
        let secret = self.client.client_secret.clone().map(ClientSecret::new);
        let redirect =
            RedirectUrl::new(format!("{}/auth/callback", self.client.public_url)).map_err(|e| e.to_string())?;
        Ok(CoreClient::from_provider_metadata(metadata, ClientId::new(self.client.client_id.clone()), secret)
            .set_redirect_uri(redirect))
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The client a sign-in counts against: its IPv4 address, or the /64 network of its IPv6
/// address (one host usually holds a whole /64).
fn client_network(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            ipnet::Ipv6Net::new(v6, 64).map_or_else(|_| ip.to_owned(), |net| net.trunc().to_string())
        }
        _ => ip.to_owned(),
    }
}

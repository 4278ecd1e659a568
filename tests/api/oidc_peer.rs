//! Against the real OpenID Connect provider (panva/oidc-provider, configured in
//! `tests/peers/oidc/`, started by `.ci/run`): tokens obtained with client_credentials and with a
//! scripted authorization-code + PKCE login are accepted and mapped; a key rotation at the
//! provider is picked up without restart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::Digest;

use crate::helpers::{OIDC_ISSUER_VAR, TestApp, jwt_claims, peer};
use crate::token_hardening::IssuerUnderTest;

pub const AUDIENCE: &str = "urn:anaspoc";
const PEER_KID: &str = "anaspoc-test-1";
const PEER_KEY: &str = include_str!("../peers/oidc/signing-key.pem");

/// An app configured for the peer as an operator would: issuer, audience, claim paths.
pub async fn app_for(issuer_url: &str) -> TestApp {
    let issuer_url = issuer_url.to_owned();
    TestApp::spawn_with(move |s| {
        s.demo.enabled = false;
        s.oidc.issuer_url = issuer_url;
        s.oidc.audience = AUDIENCE.into();
        // oidc-provider puts roles at the top level, not in Keycloak's realm_access.
        s.oidc.claims.roles = "/roles".into();
    })
    .await
}

pub async fn issuer_under_test(issuer_url: &str) -> IssuerUnderTest {
    let app = app_for(issuer_url).await;
    let valid_token = client_credentials_token(issuer_url, None).await;
    IssuerUnderTest { app, kid: PEER_KID.into(), private_pem: PEER_KEY.into(), valid_token }
}

/// A machine token (client_credentials) for `resource` (default: urn:anaspoc).
pub async fn client_credentials_token(issuer_url: &str, resource: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    let response = reqwest::Client::new()
        .post(format!("{issuer_url}/token"))
        .basic_auth("anaspoc-machine", Some("machine-secret"))
        .form(&form)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("token json");
    assert_eq!(status, 200, "client_credentials: {body}");
    body["access_token"].as_str().expect("access_token").to_owned()
}

/// A user's token through the browser flow, scripted: /auth → login form → consent → code →
/// /token with the PKCE verifier.
pub async fn authorization_code_token(issuer_url: &str, login: &str) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let redirect_uri = "http://127.0.0.1:1/callback";
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let state = uuid::Uuid::new_v4().to_string();
    let mut url = reqwest::Url::parse(&format!("{issuer_url}/auth")).expect("auth url");
    url.query_pairs_mut()
        .append_pair("client_id", "anaspoc-web")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid profile api")
        .append_pair("state", &state)
        .append_pair("nonce", &uuid::Uuid::new_v4().to_string())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", AUDIENCE);

    let mut response = client.get(url).send().await.expect("authorize");
    let code = loop {
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().expect("location").to_owned();
            if location.starts_with(redirect_uri) {
                let target = reqwest::Url::parse(&location).expect("callback url");
                let param = |name: &str| target.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
                assert_eq!(param("state").as_deref(), Some(state.as_str()), "state round-trips");
                break param("code").unwrap_or_else(|| panic!("no code in {location}"));
            }
            let next = reqwest::Url::parse(issuer_url).expect("issuer").join(&location).expect("location url");
            response = client.get(next).send().await.expect("follow redirect");
            continue;
        }
        let page_url = response.url().clone();
        let html = response.text().await.expect("interaction page");
        let prompt = if html.contains("value=\"login\"") {
            "login"
        } else if html.contains("value=\"consent\"") {
            "consent"
        } else {
            panic!("unexpected page at {page_url}: {html}")
        };
        let form: Vec<(&str, &str)> = match prompt {
            "login" => vec![("prompt", "login"), ("login", login), ("password", "any")],
            _ => vec![("prompt", "consent")],
        };
        response = client.post(page_url).form(&form).send().await.expect("submit interaction");
    };

    let response = client
        .post(format!("{issuer_url}/token"))
        .basic_auth("anaspoc-web", Some("web-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &verifier),
            ("resource", AUDIENCE),
        ])
        .send()
        .await
        .expect("code exchange");
    let status = response.status();
    let body: Value = response.json().await.expect("token json");
    assert_eq!(status, 200, "authorization_code exchange: {body}");
    assert!(body["id_token"].is_string(), "an ID token is issued alongside");
    body["access_token"].as_str().expect("access_token").to_owned()
}

#[tokio::test]
async fn a_machine_token_from_the_real_provider_maps_to_a_principal() {
    let Some(issuer_url) = peer(OIDC_ISSUER_VAR) else {
        return;
    };
    let app = app_for(&issuer_url).await;
    let token = client_credentials_token(&issuer_url, None).await;
    assert_eq!(jwt_claims(&token)["aud"], AUDIENCE);
    let response = app.get_as(&token, "/api/v1/me").await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["sub"], "anaspoc-machine");
    assert_eq!(me["organisation"], "EUROPOL");
    assert_eq!(me["country"], "EU");
    assert_eq!(me["clearance"], "RESTRICTED");
    assert_eq!(me["roles"], serde_json::json!(["advisor"]));
    assert_eq!(me["capabilities"], serde_json::json!(["document:read", "document:write"]));
}

#[tokio::test]
async fn a_user_token_from_a_scripted_browser_login_maps_to_a_principal() {
    let Some(issuer_url) = peer(OIDC_ISSUER_VAR) else {
        return;
    };
    let app = app_for(&issuer_url).await;
    let token = authorization_code_token(&issuer_url, "analyst.rs").await;
    let response = app.get_as(&token, "/api/v1/me").await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["sub"], "analyst.rs");
    assert_eq!(me["name"], "Марко Николић");
    assert_eq!(me["organisation"], "RS-MUP");
    assert_eq!(me["country"], "RS");
    assert_eq!(me["clearance"], "RESTRICTED");

    let auditor = authorization_code_token(&issuer_url, "auditor").await;
    let me: Value = app.get_as(&auditor, "/api/v1/me").await.json().await.expect("json");
    assert_eq!(me["capabilities"], serde_json::json!(["audit:read"]), "auditors get no document capability");
}

#[tokio::test]
async fn a_key_rotation_at_the_real_provider_is_picked_up_without_restart() {
    let Some(issuer_url) = peer(OIDC_ISSUER_VAR) else {
        return;
    };
    let app = app_for(&issuer_url).await;
    let before = client_credentials_token(&issuer_url, None).await;
    assert_eq!(app.get_as(&before, "/api/v1/me").await.status(), 200);

    let rotated: Value = reqwest::Client::new()
        .post(format!("{issuer_url}/__test/rotate"))
        .send()
        .await
        .expect("rotate")
        .json()
        .await
        .expect("json");
    let after = client_credentials_token(&issuer_url, None).await;
    let kid = jsonwebtoken::decode_header(&after).expect("header").kid;
    assert_eq!(kid.as_deref(), rotated["kid"].as_str(), "the provider signs with the new key");
    assert_eq!(app.get_as(&after, "/api/v1/me").await.status(), 200, "picked up without restart");
}

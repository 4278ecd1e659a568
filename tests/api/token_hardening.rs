//! Every way an access token can be wrong is refused with 401 and nothing else is served; a valid
//! token (the control) is accepted. The suite runs against the built-in demo issuer always, and
//! against the real oidc-provider peer when `ANASPOC_TEST_OIDC_ISSUER` is set.

use std::sync::Arc;

use anaspoc::auth::demo_idp::{DemoIdp, PERSONAS};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{OIDC_ISSUER_VAR, TestApp, assert_refused, jwt_claims, peer, public_key_pem};
use crate::oidc_peer;

/// An issuer and an app that trusts it, with a real token and the key to forge variants of it.
pub struct IssuerUnderTest {
    pub app: TestApp,
    pub kid: String,
    pub private_pem: String,
    pub valid_token: String,
}

impl IssuerUnderTest {
    fn valid_claims(&self) -> Value {
        jwt_claims(&self.valid_token)
    }

    /// A token signed with the issuer's real key, after `mutate` changed header or claims.
    fn forge(&self, mutate: impl FnOnce(&mut Header, &mut Value)) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        let mut claims = self.valid_claims();
        mutate(&mut header, &mut claims);
        let key = EncodingKey::from_rsa_pem(self.private_pem.as_bytes()).expect("rsa key");
        jsonwebtoken::encode(&header, &claims, &key).expect("sign")
    }

    async fn me(&self, token: &str) -> reqwest::Response {
        self.app.get_as(token, "/api/v1/me").await
    }
}

/// The built-in demo provider of a test app.
async fn demo_issuer() -> IssuerUnderTest {
    let app = TestApp::spawn().await;
    let valid_token = app.token("analyst-mk").await;
    let (kid, private_pem) = app.idp().current_key();
    IssuerUnderTest { app, kid, private_pem, valid_token }
}

/// A second, independent issuer on its own port with its own keys.
pub async fn standalone_idp(audience: &str) -> (Arc<DemoIdp>, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let idp = actix_web::web::Data::new(DemoIdp::new(format!("http://{addr}"), audience).expect("idp"));
    let shared = idp.clone();
    let server = actix_web::HttpServer::new(move || actix_web::App::new().service(DemoIdp::scope(shared.clone(), "")))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    (idp.into_inner(), handle)
}

fn none_alg_token(claims: &Value, kid: &str) -> String {
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": kid});
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// HS256 with the issuer's RSA public key as the HMAC secret: the classic key-confusion attack.
fn hs256_with_public_key(issuer: &IssuerUnderTest) -> Vec<String> {
    let public_pem = public_key_pem(&issuer.private_pem);
    let claims = issuer.valid_claims();
    [public_pem.as_bytes().to_vec(), public_pem.trim_end().as_bytes().to_vec()]
        .into_iter()
        .map(|secret| {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(issuer.kid.clone());
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret).expect("hmac key")).expect("hmac")
        })
        .collect()
}

fn flip_signature(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').expect("three parts");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("signature b64");
    bytes[10] ^= 0x01;
    format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

async fn run_suite(issuer: &IssuerUnderTest) {
    let now = chrono::Utc::now().timestamp();

    // The control: without it every refusal below could be a broken setup.
    let response = issuer.me(&issuer.valid_token).await;
    assert_eq!(response.status(), 200, "a valid token is accepted");
    let forged_but_valid = issuer.forge(|_, _| {});
    assert_eq!(issuer.me(&forged_but_valid).await.status(), 200, "re-signing with the real key is accepted");

    // No token at all.
    let response = issuer.app.client.get(issuer.app.url("/api/v1/me")).send().await.expect("request");
    assert_refused(response, "no token").await;
    let response = issuer
        .app
        .client
        .get(issuer.app.url("/api/v1/me"))
        .header("Authorization", format!("Basic {}", URL_SAFE_NO_PAD.encode("analyst:secret")))
        .send()
        .await
        .expect("request");
    assert_refused(response, "basic credentials instead of a bearer token").await;

    let (second_idp, second_handle) = standalone_idp(&issuer.app.settings.oidc.audience).await;
    let mut second_claims = second_idp.claims_for(&PERSONAS[0]);
    second_claims["aud"] = issuer.valid_claims()["aud"].clone();
    let second_issuer_token = second_idp.sign(&second_claims).expect("sign");
    let mut impostor_claims = issuer.valid_claims();
    impostor_claims["iss"] = json!(second_idp.issuer());
    let second_key_same_kid = {
        // Same kid as the real key, but signed by the second issuer's key.
        let token = second_idp.sign(&issuer.valid_claims()).expect("sign");
        let (_, rest) = token.split_once('.').expect("parts");
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": issuer.kid});
        format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
    };

    let mut cases: Vec<(&str, String)> = vec![
        ("malformed: not a JWT", "not-a-jwt".into()),
        ("malformed: three garbage parts", "abc.def.ghi".into()),
        ("malformed: truncated", issuer.valid_token[..issuer.valid_token.len() / 2].to_owned()),
        ("malformed: header only", issuer.valid_token.split('.').next().expect("header").to_owned()),
        ("alg none", none_alg_token(&issuer.valid_claims(), &issuer.kid)),
        ("wrong signature (flipped bit)", flip_signature(&issuer.valid_token)),
        ("wrong signature (another key, same kid)", second_key_same_kid),
        ("expired", issuer.forge(|_, c| c["exp"] = json!(now - 3600))),
        ("expired just beyond the leeway", issuer.forge(|_, c| c["exp"] = json!(now - 90))),
        ("nbf in the future", issuer.forge(|_, c| c["nbf"] = json!(now + 3600))),
        ("wrong iss", issuer.forge(|_, c| c["iss"] = json!("https://idp.attacker.example"))),
        (
            "iss with a trailing slash",
            issuer.forge(|_, c| {
                c["iss"] = json!(format!("{}/", c["iss"].as_str().expect("iss")));
            }),
        ),
        ("wrong aud", issuer.forge(|_, c| c["aud"] = json!("another-service"))),
        ("unknown kid", issuer.forge(|h, _| h.kid = Some("unknown-kid".into()))),
        ("no kid", issuer.forge(|h, _| h.kid = None)),
        ("ID token type", issuer.forge(|h, _| h.typ = Some("id+jwt".into()))),
        (
            "missing organisation",
            issuer.forge(|_, c| {
                c.as_object_mut().expect("object").remove("organisation");
            }),
        ),
        (
            "missing country",
            issuer.forge(|_, c| {
                c.as_object_mut().expect("object").remove("country");
            }),
        ),
        (
            "missing sub",
            issuer.forge(|_, c| {
                c.as_object_mut().expect("object").remove("sub");
            }),
        ),
        (
            "missing exp",
            issuer.forge(|_, c| {
                c.as_object_mut().expect("object").remove("exp");
            }),
        ),
        (
            "missing aud",
            issuer.forge(|_, c| {
                c.as_object_mut().expect("object").remove("aud");
            }),
        ),
        ("unknown clearance", issuer.forge(|_, c| c["clearance"] = json!("COSMIC TOP SECRET"))),
        ("token from a second issuer with its own keys", second_issuer_token),
        ("second issuer's iss on the real key", issuer.forge(|_, c| *c = impostor_claims.clone())),
    ];
    for (n, token) in hs256_with_public_key(issuer).into_iter().enumerate() {
        cases.push((if n == 0 { "HS256 signed with the RSA public key (PEM)" } else { "HS256 (trimmed PEM)" }, token));
    }
    for (case, token) in &cases {
        assert_refused(issuer.me(token).await, case).await;
    }
    second_handle.stop(false).await;
}

#[tokio::test]
async fn the_demo_issuer_refuses_every_bad_token() {
    let issuer = demo_issuer().await;
    run_suite(&issuer).await;
}

#[tokio::test]
async fn the_real_oidc_provider_refuses_every_bad_token() {
    let Some(issuer_url) = peer(OIDC_ISSUER_VAR) else {
        return;
    };
    let issuer = oidc_peer::issuer_under_test(&issuer_url).await;
    run_suite(&issuer).await;
    // A real token the provider issued for another resource server is refused too.
    let other = oidc_peer::client_credentials_token(&issuer_url, Some("urn:other-service")).await;
    assert_eq!(jwt_claims(&other)["aud"], "urn:other-service");
    assert_refused(issuer.me(&other).await, "real token for another audience").await;
    // And a real user token whose account lacks the organisation claim.
    let no_org = oidc_peer::authorization_code_token(&issuer_url, "no-organisation").await;
    assert_refused(issuer.me(&no_org).await, "real token missing organisation").await;
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_jwks_once_and_is_rate_limited() {
    let app = TestApp::spawn_with(|s| s.oidc.jwks_min_refresh_secs = 1).await;
    let token = app.token("analyst-al").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    let before = app.idp().jwks_requests();
    // Let the keys loaded at the first request become old enough to be refreshed.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let mut claims = jwt_claims(&token);
    claims["jti"] = json!("x");
    let stranger = crate::token_hardening::standalone_idp("anaspoc").await;
    // Same issuer and claims, unknown kid: the server refetches the JWKS before refusing —
    // but at most once per jwks_min_refresh_secs, however many such tokens arrive.
    let unknown = stranger.0.sign(&claims).expect("sign");
    for _ in 0..20 {
        assert_refused(app.get_as(&unknown, "/api/v1/me").await, "unknown kid").await;
    }
    let fetched = app.idp().jwks_requests() - before;
    assert_eq!(fetched, 1, "JWKS fetched {fetched} times for 20 unknown-kid tokens");
    stranger.1.stop(false).await;
}

#[tokio::test]
async fn an_unknown_kid_triggers_exactly_one_refresh_before_refusal() {
    let app = TestApp::spawn().await;
    let token = app.token("analyst-al").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    let before = app.idp().jwks_requests();
    let stranger = standalone_idp("anaspoc").await;
    let unknown = stranger.0.sign(&jwt_claims(&token)).expect("sign");
    assert_refused(app.get_as(&unknown, "/api/v1/me").await, "unknown kid").await;
    assert_eq!(app.idp().jwks_requests() - before, 1, "one JWKS refresh, then refusal");
    stranger.1.stop(false).await;
}

#[tokio::test]
async fn a_key_rotation_at_the_issuer_is_picked_up_without_restart() {
    let app = TestApp::spawn().await;
    let before_rotation = app.token("analyst-xk").await;
    assert_eq!(app.get_as(&before_rotation, "/api/v1/me").await.status(), 200);

    app.idp().rotate_key().expect("rotate");
    let after_rotation = app.token("analyst-xk").await;
    assert_ne!(
        jsonwebtoken::decode_header(&before_rotation).expect("header").kid,
        jsonwebtoken::decode_header(&after_rotation).expect("header").kid,
        "the issuer signs with a new key"
    );
    let response = app.get_as(&after_rotation, "/api/v1/me").await;
    assert_eq!(response.status(), 200, "new key accepted without restart");
    assert_eq!(app.get_as(&before_rotation, "/api/v1/me").await.status(), 200, "old tokens stay valid");
}

/// A token accepted before is remembered (its signature is not checked again on every request)
/// — but only while the key that verified it is still the issuer's: once the issuer withdraws
/// that key, the very token accepted a moment ago is refused.
#[tokio::test]
async fn a_token_accepted_before_is_refused_once_the_issuer_withdraws_its_key() {
    let app = TestApp::spawn_with(|s| s.oidc.jwks_min_refresh_secs = 0).await;
    let early = app.token("analyst-xk").await;
    for _ in 0..3 {
        assert_eq!(app.get_as(&early, "/api/v1/me").await.status(), 200);
    }
    // Two rotations: the demo issuer publishes the current and the previous key only.
    app.idp().rotate_key().expect("rotate");
    app.idp().rotate_key().expect("rotate");
    let late = app.token("analyst-xk").await;
    assert_eq!(app.get_as(&late, "/api/v1/me").await.status(), 200, "the new key is fetched");
    assert_refused(app.get_as(&early, "/api/v1/me").await, "token of a withdrawn key").await;
}

/// A remembered token lasts exactly as long as its `exp` (plus the configured leeway, here 0).
#[tokio::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let app = TestApp::spawn_with(|s| s.oidc.leeway_secs = 0).await;
    let mut claims = app.idp().claims_for(&PERSONAS[0]);
    claims["exp"] = json!(chrono::Utc::now().timestamp() + 1);
    let token = app.idp().sign(&claims).expect("sign");
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_refused(app.get_as(&token, "/api/v1/me").await, "expired since it was accepted").await;
}

/// Keys are trusted for `jwks_max_age_secs` after they were last fetched — not after they were
/// last *tried*: while the issuer is down, keys it may have withdrawn meanwhile stop being
/// trusted at that age. Tokens then answer 503 (the provider is unavailable, the caller is not
/// at fault) and readiness reports the provider failing, until it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_not_trusted_past_their_age_while_the_issuer_is_down() {
    let (idp, handle) = standalone_idp("anaspoc").await;
    let issuer = idp.issuer().to_owned();
    let app = TestApp::spawn_with(move |s| {
        s.demo.enabled = false;
        s.oidc.issuer_url = issuer;
        s.oidc.jwks_max_age_secs = 2;
        s.oidc.jwks_min_refresh_secs = 0;
    })
    .await;
    let token = idp.sign(&idp.claims_for(&PERSONAS[0])).expect("sign");
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    handle.stop(true).await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200, "within their age, the keys serve");

    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    for _ in 0..3 {
        let response = app.get_as(&token, "/api/v1/me").await;
        let body = crate::documents::problem(response, 503).await;
        assert_eq!(body["type"], "urn:anaspoc:problem:identity-provider-unavailable");
    }
    // Readiness checks in the background (every `health.check_interval_ms`): failing soon.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ready: Value = app.client.get(app.url("/readyz")).send().await.expect("readyz").json().await.expect("json");
        if ready["checks"]["identity_provider"] == "failing" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{ready}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

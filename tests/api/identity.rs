//! `GET /api/v1/me` with the demo personas, through the same validation path as production.

use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn every_demo_persona_signs_in_and_sees_its_principal() {
    let app = TestApp::spawn().await;
    let expected = [
        ("analyst-al", "AL-ASP", "AL", "RESTRICTED", json!(["document:read", "document:write"])),
        ("analyst-ba", "BA-SIPA", "BA", "SENSITIVE", json!(["document:read", "document:write"])),
        ("analyst-xk", "XK-KP", "XK", "RESTRICTED", json!(["document:read", "document:write"])),
        ("analyst-me", "ME-UP", "ME", "SENSITIVE", json!(["document:read", "document:write"])),
        ("analyst-mk", "MK-MVR", "MK", "RESTRICTED", json!(["document:read", "document:write"])),
        ("analyst-rs", "RS-MUP", "RS", "CONFIDENTIAL", json!(["document:read", "document:write"])),
        ("advisor-europol", "EUROPOL", "EU", "RESTRICTED", json!(["document:read", "document:write"])),
        ("auditor", "ANASPOC-AUDIT", "EU", "RESTRICTED", json!(["audit:read"])),
        ("admin", "ANASPOC-OPS", "EU", "UNCLASSIFIED", json!(["admin"])),
    ];
    for (persona, organisation, country, clearance, capabilities) in expected {
        let token = app.token(persona).await;
        let response = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(response.status(), 200, "{persona}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let me: Value = response.json().await.expect("json");
        assert_eq!(me["sub"], persona);
        assert_eq!(me["organisation"], organisation, "{persona}");
        assert_eq!(me["country"], country, "{persona}");
        assert_eq!(me["clearance"], clearance, "{persona}");
        assert_eq!(me["capabilities"], capabilities, "{persona}");
        assert!(me["name"].as_str().is_some_and(|n| !n.is_empty()));
    }
}

#[tokio::test]
async fn signing_in_records_the_user_in_the_directory() {
    let app = TestApp::spawn().await;
    let token = app.token("analyst-rs").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    let user = anaspoc::db::users::find(&app.db, "analyst-rs").await.expect("query").expect("row");
    assert_eq!(user.name, "Ђорђе Петровић");
    assert_eq!(user.organisation, "RS-MUP");
    assert_eq!(user.clearance, "CONFIDENTIAL");
    assert_eq!(user.roles.0, ["analyst"]);
}

#[tokio::test]
async fn the_demo_provider_speaks_openid_connect_discovery() {
    let app = TestApp::spawn().await;
    let discovery: Value = app
        .client
        .get(app.url("/demo-idp/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], app.url("/demo-idp"));
    let jwks: Value = app
        .client
        .get(discovery["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert!(key.get("d").is_none(), "no private key material is published");

    let refused = app
        .client
        .post(app.url("/demo-idp/token"))
        .form(&[("grant_type", "password"), ("username", "mallory")])
        .send()
        .await
        .expect("token");
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn the_demo_provider_is_absent_outside_demo_mode() {
    let (idp, handle) = crate::token_hardening::standalone_idp("anaspoc").await;
    let issuer = idp.issuer().to_owned();
    let app = TestApp::spawn_with(move |s| {
        s.demo.enabled = false;
        s.oidc.issuer_url = issuer;
    })
    .await;
    let response = app.client.get(app.url("/demo-idp/.well-known/openid-configuration")).send().await.expect("get");
    assert_eq!(response.status(), 404);
    // Tokens of the external issuer are accepted through discovery like any production issuer.
    let token = idp.sign(&idp.claims_for(&anaspoc::auth::demo_idp::PERSONAS[6])).expect("sign");
    let me: Value = app.get_as(&token, "/api/v1/me").await.json().await.expect("json");
    assert_eq!(me["organisation"], "EUROPOL");
    handle.stop(false).await;
}

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
    assert_eq!(user.roles.items(), Some(&["analyst".to_owned()][..]));
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

/// A signed token is not enough: its country must be one of the network's. A token from Germany
/// — or claiming "ALL" — is refused (401, audited) before it can read anything released to ALL
/// or leave anything behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_outside_the_network_are_refused() {
    let app = TestApp::spawn().await;
    let rs = app.token("analyst-rs").await;
    let created = crate::documents::create(
        &app,
        &rs,
        &crate::documents::with(crate::documents::metadata("For everyone"), json!({"releasable_to": ["ALL"]})),
        b"Released to every country of the network.",
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    crate::search::wait_until_ingested(&app, &rs, &id).await;
    let idp = app.demo_idp.clone().expect("demo idp");
    let before = crate::documents::stored_rows(&app).await;
    for country in ["DE", "ALL", "all"] {
        let mut claims = idp.claims_for(&anaspoc::auth::demo_idp::PERSONAS[0]);
        claims["country"] = json!(country);
        claims["organisation"] = json!("BKA");
        let token = idp.sign(&claims).expect("sign");
        for path in ["/api/v1/me".to_owned(), format!("/api/v1/documents/{id}"), "/api/v1/search?q=released".into()] {
            let response = app.get_as(&token, &path).await;
            let body = crate::documents::problem(response, 401).await;
            assert_eq!(body["type"], "urn:anaspoc:problem:invalid-token", "{country} {path}");
        }
        let upload = crate::documents::upload(
            &app,
            &token,
            &crate::documents::metadata("From outside"),
            b"bytes".to_vec(),
            "outside.txt",
        )
        .await;
        assert_eq!(upload.status(), 401, "{country}");
        let events = crate::audit::all_events(&app).await;
        let last = events.last().expect("events");
        assert_eq!(last.action, anaspoc::audit::Action::AuthDenied);
        assert!(last.details["reason"].as_str().expect("reason").contains("country"), "{:?}", last.details);
    }
    assert_eq!(crate::documents::stored_rows(&app).await, before, "nothing was left behind");
}

/// An organisation is its country and its name: "MUP" of Serbia and "MUP" of Montenegro do not
/// see each other's drafts, nor change each other's documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisations_of_the_same_name_in_two_countries_are_two_organisations() {
    let app = TestApp::spawn().await;
    let idp = app.demo_idp.clone().expect("demo idp");
    let token = |sub: &str, country: &str| {
        let mut claims = idp.claims_for(&anaspoc::auth::demo_idp::PERSONAS[0]);
        claims["sub"] = json!(sub);
        claims["country"] = json!(country);
        claims["organisation"] = json!("MUP");
        idp.sign(&claims).expect("sign")
    };
    let (serbia, montenegro, colleague) = (token("rs-1", "RS"), token("me-1", "ME"), token("rs-2", "RS"));
    let draft = crate::documents::with(
        crate::documents::metadata("Nacrt granica"),
        json!({"publish": false, "releasable_to": ["ME"], "classification": "UNCLASSIFIED"}),
    );
    let created = crate::documents::create(&app, &serbia, &draft, b"Nacrt o granici.").await;
    let id = created["id"].as_str().expect("id").to_owned();
    crate::search::wait_until_ingested(&app, &serbia, &id).await;

    assert_eq!(app.get_as(&colleague, &format!("/api/v1/documents/{id}")).await.status(), 200, "same organisation");
    let hidden = app.get_as(&montenegro, &format!("/api/v1/documents/{id}")).await;
    crate::documents::problem(hidden, 404).await;
    let found: Value = app.get_as(&montenegro, "/api/v1/search?q=granici").await.json().await.expect("json");
    assert_eq!(found["total"], 0, "{found}");
    let found: Value = app.get_as(&colleague, "/api/v1/search?q=granici").await.json().await.expect("json");
    assert_eq!(found["total"], 1, "{found}");

    // Published to ME, Montenegro's MUP reads it — and still may not change it.
    let published = crate::documents::post(&app, &serbia, &format!("/api/v1/documents/{id}/publish")).await;
    assert_eq!(published.status(), 200);
    assert_eq!(app.get_as(&montenegro, &format!("/api/v1/documents/{id}")).await.status(), 200);
    let patched = crate::documents::patch(&app, &montenegro, &id, &json!({"title": "Naše"})).await;
    crate::documents::problem(patched, 403).await;
}

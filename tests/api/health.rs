//! Operational endpoints and the error format.

use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);

    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["identity_provider"], "ok");

    let token = app.token("analyst-ba").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    assert_eq!(app.client.get(app.url("/api/v1/me")).send().await.expect("me").status(), 401);

    let metrics = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains(r#"anaspoc_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/api/v1/me",status="401"} 1"#), "{metrics}");
    assert!(metrics.contains("anaspoc_http_request_duration_seconds_bucket"), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_while_the_identity_provider_is_unreachable() {
    // An issuer on a port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let app = TestApp::spawn_with(move |s| {
        s.demo.enabled = false;
        s.oidc.issuer_url = format!("http://{dead}");
    })
    .await;
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    let text = ready.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["identity_provider"], "failing");
    assert!(!text.contains("127.0.0.1") && !text.contains("http"), "no internal address or error text: {text}");

    // A token cannot be checked: the caller learns the provider is down, not that they are bad.
    let response = app.get_as("a.b.c", "/api/v1/me").await;
    assert_eq!(response.status(), 401, "a malformed token is refused before any key lookup");

    // Browser sign-in: a page in the reader's language saying it is unavailable (503), no 500.
    let login =
        app.client.get(app.url("/login")).header("accept-language", "sq-AL,sq;q=0.9").send().await.expect("login");
    assert_eq!(login.status(), 503);
    assert_eq!(login.headers()["retry-after"], "5");
    let page = login.text().await.expect("html");
    assert!(page.contains("Hyrja nuk është e mundur tani"), "{page}");
    assert!(!page.contains("127.0.0.1"), "no internal address: {page}");
}

#[tokio::test]
async fn unknown_routes_answer_with_a_problem_and_every_response_has_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/v1/nothing-here")).send().await.expect("request");
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "urn:anaspoc:problem:not-found");
    assert_eq!(body["status"], 404);
}

/// `/metrics` tells an outsider what the platform is doing: closed unless a bearer token for
/// scrapers is configured (demo mode, loopback only, is open).
#[tokio::test]
async fn metrics_are_closed_or_need_the_scrapers_token() {
    let (idp, handle) = crate::token_hardening::standalone_idp("anaspoc").await;
    let issuer = idp.issuer().to_owned();
    let production = move |s: &mut anaspoc::config::Settings| {
        s.demo.enabled = false;
        s.oidc.issuer_url = issuer.clone();
    };
    let closed = TestApp::spawn_with(production.clone()).await;
    assert_eq!(closed.client.get(closed.url("/metrics")).send().await.expect("get").status(), 404);

    let guarded = TestApp::spawn_with(move |s| {
        production(s);
        s.metrics.token = anaspoc::config::Secret::new("scrape-me-0123456789");
    })
    .await;
    let get = |token: Option<&'static str>| {
        let mut request = guarded.client.get(guarded.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get(None).await.expect("get").status(), 401);
    assert_eq!(get(Some("scrape-me-0123456788")).await.expect("get").status(), 401);
    let scraped = get(Some("scrape-me-0123456789")).await.expect("get");
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await.expect("text").contains("anaspoc_http_requests_total"));
    handle.stop(false).await;
}

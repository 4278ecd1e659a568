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
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["database"], "ok");
    assert_ne!(body["checks"]["identity_provider"], "ok");

    // A token cannot be checked: the caller learns the provider is down, not that they are bad.
    let response = app.get_as("a.b.c", "/api/v1/me").await;
    assert_eq!(response.status(), 401, "a malformed token is refused before any key lookup");
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

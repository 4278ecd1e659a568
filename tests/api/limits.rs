//! Flood resistance (`[limits]`): a loop of bad tokens is throttled per client address while a
//! valid token from the same address keeps working, and grows the audit trail by a bounded
//! number of events per window (a summary counts the rest); searches, downloads and uploads are
//! limited per user, answering 429 problem+json with `Retry-After` and doing no work.

use std::time::Duration;

use anaspoc::audit::{Action, Outcome};
use serde_json::Value;

use crate::audit::{all_events, verify};
use crate::documents::{metadata, problem, stored_objects, stored_rows, upload};
use crate::helpers::TestApp;

/// A 429 problem with a `Retry-After` of a sensible number of whole seconds.
async fn assert_throttled(response: reqwest::Response, case: &str) {
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{case}: Retry-After"))
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry), "{case}: Retry-After {retry}");
    let body = problem(response, 429).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:too-many-requests", "{case}: {body}");
}

async fn metric(app: &TestApp, limit: &str) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let line = format!("anaspoc_throttled_requests_total{{limit=\"{limit}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&line)).map_or(0, |n| n.trim().parse().expect("count"))
}

#[tokio::test]
async fn bad_token_flood_is_throttled_and_summarised_in_the_trail() {
    let app = TestApp::spawn_with(|s| {
        s.limits.auth_failures_per_minute = 5;
        s.limits.denied_audit_window_secs = 1;
        s.limits.denied_audit_individually = 2;
    })
    .await;
    let valid = app.token("analyst-rs").await;
    let before = all_events(&app).await.len();

    // An attacker-sized path: recorded, but bounded.
    let long_id = "x".repeat(5000);
    let first = app.get_as("not.a.token", &format!("/api/v1/documents/{long_id}")).await;
    assert_eq!(first.status(), 401);
    let mut statuses = Vec::new();
    for _ in 0..39 {
        statuses.push(app.get_as("not.a.token", "/api/v1/me").await.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 4, "the allowance is 5: {statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "then throttled: {statuses:?}");
    assert_throttled(app.get_as("not.a.token", "/api/v1/me").await, "bad token").await;
    assert_throttled(app.client.get(app.url("/api/v1/me")).send().await.expect("me"), "no token").await;

    // The throttled address still signs in with a valid token.
    let me = app.get_as(&valid, "/api/v1/me").await;
    assert_eq!(me.status(), 200, "a valid token from the flooding address works");
    assert_eq!(metric(&app, "auth_failures").await, 37);

    // The window closes: its summary is written.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let denied: Vec<_> =
        all_events(&app).await.into_iter().skip(before).filter(|e| e.action == Action::AuthDenied).collect();
    assert_eq!(denied.len(), 3, "two individual events and one summary for 42 refusals: {denied:#?}");
    assert!(denied.iter().all(|e| e.outcome == Outcome::Denied && e.actor.sub.is_none()));
    let path = denied[0].details["path"].as_str().expect("path");
    assert!(path.starts_with("/api/v1/documents/xxx") && path.chars().count() <= 200, "bounded: {path}");
    assert_eq!(denied[1].details["path"], "/api/v1/me");
    let summary = &denied[2].details;
    assert_eq!(summary["aggregated"], true, "{summary}");
    assert_eq!(summary["count"], 40, "{summary}");
    assert!(summary["first_seen"].as_str().is_some() && summary["last_seen"].as_str().is_some(), "{summary}");
    let reasons = summary["reasons"].as_object().expect("reasons");
    assert_eq!(reasons.values().map(|n| n.as_u64().expect("count")).sum::<u64>(), 40, "{summary}");
    assert!(reasons.contains_key("no bearer token"), "{summary}");
    assert_eq!(verify(&app).await["status"], "ok", "the chain still verifies");
}

#[tokio::test]
async fn summaries_keep_the_trail_linear_in_windows_not_requests() {
    let app = TestApp::spawn_with(|s| {
        s.limits.auth_failures_per_minute = 10_000;
        s.limits.denied_audit_window_secs = 60;
        s.limits.denied_audit_individually = 3;
    })
    .await;
    let before = all_events(&app).await.len();
    for i in 0..300 {
        let response = app.get_as(&format!("bad-token-{i}"), "/api/v1/me").await;
        assert_eq!(response.status(), 401);
    }
    let added = all_events(&app).await.len() - before;
    assert_eq!(added, 3, "300 refusals in one window: three events so far, the summary when it closes");
}

#[tokio::test]
async fn searches_downloads_uploads_and_requests_are_limited_per_user() {
    let app = TestApp::spawn_with(|s| {
        s.limits.searches_per_minute = 3;
        s.limits.downloads_per_minute = 2;
        s.limits.uploads_per_minute = 2;
        s.limits.requests_per_minute = 1;
    })
    .await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;

    for _ in 0..3 {
        assert_eq!(app.get_as(&rs, "/api/v1/search?q=report").await.status(), 200);
    }
    assert_throttled(app.get_as(&rs, "/api/v1/search?q=report").await, "search").await;
    assert_eq!(app.get_as(&ba, "/api/v1/search?q=report").await.status(), 200, "another user is not limited");

    let mut ids = Vec::new();
    for title in ["First", "Second"] {
        let response = upload(&app, &rs, &metadata(title), b"limits".to_vec(), "a.txt").await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    let (rows, objects) = (stored_rows(&app).await, stored_objects(&app).await);
    assert_throttled(upload(&app, &rs, &metadata("Third"), b"limits".to_vec(), "a.txt").await, "upload").await;
    assert_eq!(stored_rows(&app).await, rows, "a throttled upload stores no row");
    assert_eq!(stored_objects(&app).await, objects, "a throttled upload stores no bytes");

    let content = format!("/api/v1/documents/{}/content", ids[0]);
    for _ in 0..2 {
        assert_eq!(app.get_as(&rs, &content).await.status(), 200);
    }
    let before = all_events(&app).await.len();
    assert_throttled(app.get_as(&rs, &content).await, "download").await;
    let after = all_events(&app).await;
    assert!(
        after[before..].iter().all(|e| e.action != Action::DocumentDownload),
        "a throttled download is not served, so not recorded as one"
    );
    assert_eq!(app.get_as(&ba, &content).await.status(), 200, "another user downloads");

    // Handling-code requests: a flood would bury the provider's inbox.
    let ask = |token: String| {
        let path = format!("/api/v1/documents/{}/requests", ids[0]);
        let app = &app;
        async move {
            let body = serde_json::json!({"kind": "judicial-use", "justification": "Case BA-9/26"});
            app.client.post(app.url(&path)).bearer_auth(token).json(&body).send().await.expect("request")
        }
    };
    assert_eq!(ask(ba.clone()).await.status(), 201);
    assert_throttled(ask(ba.clone()).await, "handling-code request").await;
    let incoming: Value = app.get_as(&rs, "/api/v1/requests?box=incoming").await.json().await.expect("json");
    assert_eq!(incoming["items"].as_array().map(Vec::len), Some(1), "a throttled request is not recorded");

    assert_eq!(metric(&app, "searches").await, 1);
    assert_eq!(metric(&app, "uploads").await, 1);
    assert_eq!(metric(&app, "downloads").await, 1);
    assert_eq!(metric(&app, "requests").await, 1);
}

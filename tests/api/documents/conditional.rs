//! Conditional changes: a document's ETag is its revision; `If-Match` makes a change apply only
//! to the revision the client read (412 otherwise), and even without it two concurrent changes
//! never silently undo each other — each is a compare-and-set whose audit before/after is exact.

use serde_json::{Value, json};

use super::{create, metadata, patch, problem, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    if_match_refuses_stale_changes,
    concurrent_changes_lose_nothing,
    versions_land_on_the_revision_they_were_decided_on
);

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().expect("etag").to_owned()
}

async fn request(app: &TestApp, method: reqwest::Method, path: &str, token: &str, if_match: &str) -> reqwest::Response {
    let builder = app.client.request(method, app.url(path)).bearer_auth(token).header("if-match", if_match);
    builder.send().await.expect("request")
}

async fn if_match_refuses_stale_changes(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let created = create(&app, &rs, &metadata("Conditional"), b"v1").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/documents/{id}");
    let read = app.get_as(&rs, &path).await;
    let first = etag(&read);
    assert_eq!(first, format!("\"{}\"", read.json::<Value>().await.expect("json")["revision"]));

    // A change made with the current ETag applies and moves the ETag on.
    let changed = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&rs)
        .header("if-match", &first)
        .json(&json!({"title": "Conditional, second"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(changed.status(), 200);
    let second = etag(&changed);
    assert_ne!(second, first);

    // Anything made with the old ETag is refused, and changes nothing.
    let stale = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&rs)
        .header("if-match", &first)
        .json(&json!({"releasable_to": ["ALL"]}))
        .send()
        .await
        .expect("patch");
    let body = problem(stale, 412).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:precondition-failed");
    for (method, suffix) in [(reqwest::Method::POST, "/withdraw"), (reqwest::Method::POST, "/publish")] {
        let response = request(&app, method, &format!("{path}{suffix}"), &rs, &first).await;
        problem(response, 412).await;
    }
    let weak = request(&app, reqwest::Method::POST, &format!("{path}/withdraw"), &rs, &format!("W/{second}")).await;
    problem(weak, 412).await;
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"v2".to_vec()).file_name("v2.txt"));
    let version = app
        .client
        .post(app.url(&format!("{path}/versions")))
        .bearer_auth(&rs)
        .header("if-match", &first)
        .multipart(form)
        .send()
        .await
        .expect("version");
    problem(version, 412).await;
    assert_eq!(super::stored_objects(&app).await.len(), 1, "the refused version left no bytes");

    let now: Value = app.get_as(&rs, &path).await.json().await.expect("json");
    assert_eq!(now["title"], "Conditional, second");
    assert_eq!(now["markings"]["releasable_to"], json!(["BA", "ME", "RS"]));
    assert_eq!((now["status"].as_str(), now["current_version"].as_i64()), (Some("published"), Some(1)));

    // `*` expects nothing but existence; the current ETag works for every change.
    assert_eq!(request(&app, reqwest::Method::POST, &format!("{path}/withdraw"), &rs, "*").await.status(), 200);
    let current = etag(&app.get_as(&rs, &path).await);
    let published = request(&app, reqwest::Method::POST, &format!("{path}/publish"), &rs, &current).await;
    assert_eq!(published.status(), 200);

    // The refusals are in the trail, with the revision the document was at.
    let events = crate::audit::all_events(&app).await;
    let stale_events = events.iter().filter(|e| e.details["reason"] == "stale_revision").count();
    assert_eq!(stale_events, 5, "PATCH, withdraw, publish, weak tag, version");
}

/// Two editors at once, without `If-Match`: one narrows the releasability, the other changes the
/// TLP. Both changes must survive on every document, and each update's audited "before" must be
/// the previous update's "after".
async fn concurrent_changes_lose_nothing(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let mut ids = Vec::new();
    for n in 0..8 {
        let meta = with(metadata(&format!("Race {n}")), json!({"releasable_to": ["ALL"], "tlp": "GREEN"}));
        ids.push(create(&app, &rs, &meta, b"race").await["id"].as_str().expect("id").to_owned());
    }
    let mut races = Vec::new();
    for id in &ids {
        for body in [json!({"releasable_to": ["BA"]}), json!({"tlp": "AMBER"})] {
            let (app, rs, id) = (&app, rs.clone(), id.clone());
            races.push(async move { patch(app, &rs, &id, &body).await.status().as_u16() });
        }
    }
    let statuses = futures::future::join_all(races).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let events = crate::audit::all_events(&app).await;
    for id in &ids {
        let body: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
        let markings = &body["markings"];
        assert_eq!(markings["releasable_to"], json!(["BA", "RS"]), "{id}: the narrowing survived");
        assert_eq!(markings["tlp"], "AMBER", "{id}: the TLP change survived");
        let updates: Vec<&anaspoc::audit::Event> = events
            .iter()
            .filter(|e| {
                e.action == anaspoc::audit::Action::DocumentUpdate && e.target.document_id.as_deref() == Some(id)
            })
            .collect();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].details["after"], updates[1].details["before"], "{id}: the second replaced the first");
    }
}

/// A new version and a markings change at once, without `If-Match`: the version is added on a
/// revision it was decided on, so its audited markings are exactly the document's markings when
/// it landed — before the change if it landed first, after it otherwise.
async fn versions_land_on_the_revision_they_were_decided_on(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let meta = with(metadata(&format!("Versioned {n}")), json!({"releasable_to": ["ALL"]}));
        ids.push(create(&app, &rs, &meta, b"v1").await["id"].as_str().expect("id").to_owned());
    }
    let app = &app;
    let mut races: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> = Vec::new();
    for id in &ids {
        let token = rs.clone();
        races.push(Box::pin(async move {
            let narrowed = patch(app, &token, id, &json!({"releasable_to": ["BA"]})).await.status().as_u16();
            assert_eq!(narrowed, 200);
        }));
        let token = rs.clone();
        races.push(Box::pin(async move {
            let added = super::add_version(app, &token, id, b"v2".to_vec(), "v2.txt").await.status().as_u16();
            assert_eq!(added, 201);
        }));
    }
    futures::future::join_all(races).await;
    let events = crate::audit::all_events(app).await;
    for id in &ids {
        let of = |action| {
            events
                .iter()
                .find(|e| e.action == action && e.target.document_id.as_deref() == Some(id.as_str()))
                .expect("event")
        };
        let update = of(anaspoc::audit::Action::DocumentUpdate);
        let version = of(anaspoc::audit::Action::DocumentVersion);
        let expected = if version.seq > update.seq { &update.details["after"] } else { &update.details["before"] };
        assert_eq!(version.details["markings"], expected["markings"], "{id}");
    }
}

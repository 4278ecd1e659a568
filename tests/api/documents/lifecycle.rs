//! Draft → published → withdrawn, and changes of metadata and markings by the originator.

use serde_json::{Value, json};

use super::{create, metadata, patch, post, problem, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(publish_and_withdraw, markings_changes, only_the_originator_org_changes);

async fn status_as(app: &TestApp, token: &str, id: &str) -> u16 {
    app.get_as(token, &format!("/api/v1/documents/{id}")).await.status().as_u16()
}

async fn publish_and_withdraw(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let draft = create(&app, &rs, &with(metadata("Draft"), json!({"publish": false})), b"draft").await;
    let id = draft["id"].as_str().expect("id");
    assert_eq!(draft["status"], "draft");
    assert_eq!(status_as(&app, &ba, id).await, 404, "a draft is hidden from other organisations");
    assert_eq!(status_as(&app, &rs, id).await, 200, "and visible to its own");

    let published: Value =
        post(&app, &rs, &format!("/api/v1/documents/{id}/publish")).await.json().await.expect("json");
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    assert_eq!(status_as(&app, &ba, id).await, 200);
    let again = post(&app, &rs, &format!("/api/v1/documents/{id}/publish")).await;
    assert_eq!(again.status(), 200, "publishing twice is harmless");

    let withdrawn: Value =
        post(&app, &rs, &format!("/api/v1/documents/{id}/withdraw")).await.json().await.expect("json");
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(status_as(&app, &ba, id).await, 404, "withdrawn: hidden outside the originator org");
    assert_eq!(app.get_as(&ba, &format!("/api/v1/documents/{id}/content")).await.status(), 404);
    assert_eq!(status_as(&app, &rs, id).await, 200);

    let republished = post(&app, &rs, &format!("/api/v1/documents/{id}/publish")).await;
    assert_eq!(republished.status(), 200);
    assert_eq!(status_as(&app, &ba, id).await, 200);
}

async fn markings_changes(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let me = app.token("analyst-me").await;
    let al = app.token("analyst-al").await;
    let created = create(&app, &rs, &metadata("Markings"), b"text").await;
    let id = created["id"].as_str().expect("id");

    // Metadata.
    let changed: Value = patch(&app, &rs, id, &json!({"title": "Markings, revised", "summary": "Ukratko.", "tags": ["trafficking", "trafficking", " drugs "], "language": "sr-Latn"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(changed["title"], "Markings, revised");
    assert_eq!(changed["summary"], "Ukratko.");
    assert_eq!(changed["tags"], json!(["trafficking", "drugs"]));
    assert_eq!(changed["language"], "sr-Latn");
    let cleared: Value = patch(&app, &rs, id, &json!({"summary": null})).await.json().await.expect("json");
    assert!(cleared.get("summary").is_none(), "null clears an optional field");

    // Narrowing releasability takes effect at once.
    assert_eq!(status_as(&app, &me, id).await, 200);
    let narrowed = patch(&app, &rs, id, &json!({"releasable_to": ["BA"]})).await;
    assert_eq!(narrowed.status(), 200);
    assert_eq!(status_as(&app, &me, id).await, 404);
    assert_eq!(status_as(&app, &ba, id).await, 200);

    // TLP:RED needs recipients; only they (and the originator org) see it.
    let body = problem(patch(&app, &rs, id, &json!({"tlp": "RED"})).await, 422).await;
    assert_eq!(body["field"], "recipients");
    let red: Value =
        patch(&app, &rs, id, &json!({"tlp": "RED", "releasable_to": ["BA", "AL"], "recipients": ["analyst-al"]}))
            .await
            .json()
            .await
            .expect("json");
    assert_eq!(red["markings"]["recipients"], json!(["analyst-al"]));
    assert_eq!(status_as(&app, &al, id).await, 200);
    assert_eq!(status_as(&app, &ba, id).await, 404, "released to BA but not a recipient");
    let amber: Value = patch(&app, &rs, id, &json!({"tlp": "AMBER"})).await.json().await.expect("json");
    assert!(amber["markings"].get("recipients").is_none(), "leaving RED drops the recipients");
    assert_eq!(status_as(&app, &ba, id).await, 200);

    // H3 needs a note; leaving H3 drops it.
    let body = problem(patch(&app, &rs, id, &json!({"handling_code": "H3"})).await, 422).await;
    assert_eq!(body["field"], "handling_note");
    let h3: Value =
        patch(&app, &rs, id, &json!({"handling_code": "H3", "handling_note": "Not for court use before 2027."}))
            .await
            .json()
            .await
            .expect("json");
    assert_eq!(h3["markings"]["handling_note"], "Not for court use before 2027.");
    let h2: Value = patch(&app, &rs, id, &json!({"handling_code": "H2"})).await.json().await.expect("json");
    assert!(h2["markings"].get("handling_note").is_none());

    // Refused changes leave everything as it was. (The changes above queued a refresh of the
    // index: the snapshot is taken once it is through, so only the refused requests could differ.)
    let before = crate::search::wait_until_ingested(&app, &rs, id).await;
    for (change, field, status) in [
        (json!({"classification": "CONFIDENTIAL"}), "classification", 422),
        (json!({"releasable_to": ["FR"]}), "releasable_to", 422),
        (json!({"title": "  "}), "title", 422),
        (json!({"originator_org": "EUROPOL"}), "originator_org", 422),
        (json!({"status": "published"}), "status", 422),
        (json!({"title": 7}), "title", 422),
    ] {
        let body = problem(patch(&app, &rs, id, &change).await, status).await;
        assert_eq!(body["field"], field, "{change}: {body}");
    }
    let malformed = app
        .client
        .patch(app.url(&format!("/api/v1/documents/{id}")))
        .bearer_auth(&rs)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("patch");
    problem(malformed, 400).await;
    let after: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    assert_eq!(before, after, "refused requests change nothing");
}

async fn only_the_originator_org_changes(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let created = create(&app, &rs, &with(metadata("Shared"), json!({"releasable_to": ["ALL"]})), b"shared").await;
    let id = created["id"].as_str().expect("id");
    let ba = app.token("analyst-ba").await;
    for (method, path) in [
        ("PATCH", format!("/api/v1/documents/{id}")),
        ("POST", format!("/api/v1/documents/{id}/publish")),
        ("POST", format!("/api/v1/documents/{id}/withdraw")),
    ] {
        let request = if method == "PATCH" {
            app.client.patch(app.url(&path)).json(&json!({"title": "hijacked"}))
        } else {
            app.client.post(app.url(&path))
        };
        let body = problem(request.bearer_auth(&ba).send().await.expect("request"), 403).await;
        assert_eq!(body["type"], "urn:anaspoc:problem:forbidden", "{method} {path}");
    }
    let version = super::add_version(&app, &ba, id, b"foreign".to_vec(), "x.txt").await;
    problem(version, 403).await;
    let document: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    assert_eq!(document["title"], "Shared");
    assert_eq!(document["current_version"], 1);
    assert_eq!(super::stored_objects(&app).await.len(), 1, "the refused version left no object");
}

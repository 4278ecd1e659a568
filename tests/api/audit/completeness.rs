//! Each audited action, done over HTTP, leaves exactly the event it should: actor, action,
//! outcome, target, request and details — matched to the response by its X-Request-Id.

use anaspoc::audit::{Action, Event, Outcome};
use serde_json::{Value, json};

use super::all_events;
use crate::documents::{add_version, metadata, patch, post, upload, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(every_action_leaves_its_event);

/// An assertion about the event of one request.
type Check = Box<dyn Fn(&Event)>;

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"].to_str().expect("ascii").to_owned()
}

/// The one event recorded for the request `id`.
fn event_of<'a>(events: &'a [Event], id: &str) -> &'a Event {
    let matching: Vec<&Event> = events.iter().filter(|e| e.request.id == id).collect();
    assert_eq!(matching.len(), 1, "exactly one event for request {id}: {matching:#?}");
    matching[0]
}

fn assert_event(event: &Event, action: Action, outcome: Outcome, actor: Option<&str>, document: Option<&str>) {
    assert_eq!(event.action, action, "{event:#?}");
    assert_eq!(event.outcome, outcome, "{event:#?}");
    assert_eq!(event.actor.sub.as_deref(), actor, "{event:#?}");
    assert_eq!(event.target.document_id.as_deref(), document, "{event:#?}");
    assert_eq!(event.request.ip, "127.0.0.1");
    assert_eq!(event.request.user_agent, "anaspoc-tests");
}

async fn every_action_leaves_its_event(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let al = app.token("analyst-al").await;
    let auditor = app.token("auditor").await;
    let mut expectations: Vec<(String, Check)> = Vec::new();

    // Sign-in failures and success.
    let response = app.client.get(app.url("/api/v1/me")).send().await.expect("me");
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuthDenied, Outcome::Denied, None, None);
            assert_eq!(e.details["reason"], "no bearer token");
            assert_eq!(e.details["path"], "/api/v1/me");
        }),
    ));
    let response = app.get_as("not.a.token", "/api/v1/me").await;
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuthDenied, Outcome::Denied, None, None);
            assert!(e.details["reason"].as_str().expect("reason").contains("invalid access token"));
            assert_eq!(e.actor.name, None, "nothing unverified is recorded as identity");
        }),
    ));
    let response = app.get_as(&rs, "/api/v1/me").await;
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuthLogin, Outcome::Allowed, Some("analyst-rs"), None);
            assert_eq!(e.actor.organisation.as_deref(), Some("RS-MUP"));
            assert_eq!(e.actor.country.as_deref(), Some("RS"));
            assert_eq!(e.actor.roles, ["analyst"]);
            assert_eq!(e.details["clearance"], "CONFIDENTIAL");
        }),
    ));

    // Create.
    let response = upload(&app, &rs, &metadata("Audited"), b"audited bytes".to_vec(), "audited.txt").await;
    let create_id = request_id(&response);
    let created: Value = response.json().await.expect("json");
    let doc = created["id"].as_str().expect("id").to_owned();
    let d = doc.clone();
    expectations.push((
        create_id,
        Box::new(move |e| {
            assert_event(e, Action::DocumentCreate, Outcome::Allowed, Some("analyst-rs"), Some(&d));
            assert_eq!(e.target.version, Some(1));
            assert_eq!(e.details["markings"]["tlp"], "AMBER");
            assert_eq!(e.details["markings"]["releasable_to"], json!(["BA", "ME", "RS"]));
            assert_eq!(e.details["media_type"], "text/plain; charset=utf-8");
            assert_eq!(e.details["size"], 13);
            assert_eq!(e.details["status"], "published");
            assert_eq!(e.details["sha256"].as_str().map(str::len), Some(64));
        }),
    ));

    // View and download, allowed and denied (hidden and missing alike, against the id asked).
    let response = app.get_as(&ba, &format!("/api/v1/documents/{doc}")).await;
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentView, Outcome::Allowed, Some("analyst-ba"), Some(&d));
            assert_eq!(e.target.version, Some(1));
            assert_eq!(e.details["markings"]["classification"], "SENSITIVE", "markings at access time");
        }),
    ));
    let response = app.get_as(&ba, &format!("/api/v1/documents/{doc}/content?version=1")).await;
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentDownload, Outcome::Allowed, Some("analyst-ba"), Some(&d));
            assert_eq!(e.target.version, Some(1));
            assert_eq!(e.details["size"], 13);
        }),
    ));
    let response = app.get_as(&al, &format!("/api/v1/documents/{doc}")).await;
    assert_eq!(response.status(), 404);
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentView, Outcome::Denied, Some("analyst-al"), Some(&d));
            assert_eq!(e.details["reason"], "not_releasable_to_country");
        }),
    ));
    let response = app.get_as(&al, "/api/v1/documents/no-such-document/content").await;
    assert_eq!(response.status(), 404);
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::DocumentDownload, Outcome::Denied, Some("analyst-al"), Some("no-such-document"));
            assert_eq!(e.details["reason"], "not_found");
        }),
    ));

    // Changes, with markings before and after; a refused change.
    let response = patch(&app, &rs, &doc, &json!({"title": "Audited, revised", "releasable_to": ["BA"]})).await;
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentUpdate, Outcome::Allowed, Some("analyst-rs"), Some(&d));
            assert_eq!(e.details["changed"], json!(["title", "releasable_to"]));
            assert_eq!(e.details["before"]["markings"]["releasable_to"], json!(["BA", "ME", "RS"]));
            assert_eq!(e.details["after"]["markings"]["releasable_to"], json!(["BA", "RS"]));
        }),
    ));
    let response = patch(&app, &ba, &doc, &json!({"title": "hijack"})).await;
    assert_eq!(response.status(), 403);
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentUpdate, Outcome::Denied, Some("analyst-ba"), Some(&d));
            assert_eq!(e.details["reason"], "not_originator_organisation");
        }),
    ));
    let response = add_version(&app, &rs, &doc, b"second".to_vec(), "v2.txt").await;
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentVersion, Outcome::Allowed, Some("analyst-rs"), Some(&d));
            assert_eq!(e.target.version, Some(2));
            assert_eq!(e.details["size"], 6);
        }),
    ));
    let response = post(&app, &rs, &format!("/api/v1/documents/{doc}/withdraw")).await;
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentWithdraw, Outcome::Allowed, Some("analyst-rs"), Some(&d));
            assert_eq!(e.details["from"], "published");
            assert_eq!(e.details["to"], "withdrawn");
        }),
    ));
    let response = post(&app, &rs, &format!("/api/v1/documents/{doc}/publish")).await;
    let d = doc.clone();
    expectations.push((
        request_id(&response),
        Box::new(move |e| {
            assert_event(e, Action::DocumentPublish, Outcome::Allowed, Some("analyst-rs"), Some(&d));
            assert_eq!(e.details["to"], "published");
        }),
    ));
    // An upload without document:write.
    let response = upload(&app, &auditor, &with(metadata("Not mine"), json!({})), b"x".to_vec(), "x.txt").await;
    assert_eq!(response.status(), 403);
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::DocumentCreate, Outcome::Denied, Some("auditor"), None);
            assert_eq!(e.details["reason"], "no_write_capability");
        }),
    ));

    // Audit reads, exports and verifications are themselves audited.
    let response = app.get_as(&auditor, "/api/v1/audit?action=document.view&limit=5").await;
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuditRead, Outcome::Allowed, Some("auditor"), None);
            assert_eq!(e.details["query"]["action"], "document.view");
            assert!(e.details["returned"].as_u64().is_some());
        }),
    ));
    let response = app.get_as(&auditor, "/api/v1/audit/export?format=csv").await;
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuditExport, Outcome::Allowed, Some("auditor"), None);
            assert_eq!(e.details["query"]["format"], "csv");
        }),
    ));
    let response = app.get_as(&auditor, "/api/v1/audit/verify").await;
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuditVerify, Outcome::Allowed, Some("auditor"), None);
            assert_eq!(e.details["status"], "ok");
        }),
    ));
    let response = app.get_as(&rs, "/api/v1/audit").await;
    assert_eq!(response.status(), 403);
    expectations.push((
        request_id(&response),
        Box::new(|e| {
            assert_event(e, Action::AuditRead, Outcome::Denied, Some("analyst-rs"), None);
        }),
    ));

    let events = all_events(&app).await;
    for (id, check) in &expectations {
        check(event_of(&events, id));
    }
    // Nothing else was recorded: one event per request (the token endpoint is not audited here).
    assert_eq!(events.len(), expectations.len(), "{events:#?}");
    // Auditors read the trail without document:read: it holds ids, markings and hashes, never a
    // document's title, file name or text.
    for event in &events {
        let text = serde_json::to_string(&event.details).expect("json");
        assert!(!text.contains("Audited") && !text.contains("audited"), "document content in {text}");
    }
}

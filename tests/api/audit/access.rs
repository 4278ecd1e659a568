//! Only `audit:read` reaches the trail; auditors read no document content by default.

use anaspoc::audit::{Action, Outcome};
use anaspoc::policy::Capability;
use serde_json::Value;

use super::all_events;
use crate::documents::{create, metadata, problem};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(audit_routes_need_audit_read, auditors_cannot_read_documents);

async fn audit_routes_need_audit_read(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    for persona in ["analyst-rs", "advisor-europol", "admin"] {
        let token = app.token(persona).await;
        for (path, action) in [
            ("/api/v1/audit", Action::AuditRead),
            ("/api/v1/audit/export?format=jsonl", Action::AuditExport),
            ("/api/v1/audit/verify", Action::AuditVerify),
        ] {
            let body = problem(app.get_as(&token, path).await, 403).await;
            assert_eq!(body["type"], "urn:anaspoc:problem:forbidden", "{persona} {path}");
            let events = all_events(&app).await;
            let last = events.last().expect("the attempt is audited");
            assert_eq!((last.action, last.outcome), (action, Outcome::Denied), "{persona} {path}");
            assert_eq!(last.actor.sub.as_deref(), Some(persona));
        }
    }
    let auditor = app.token("auditor").await;
    let listed = app.get_as(&auditor, "/api/v1/audit").await;
    assert_eq!(listed.status(), 200);
    let body: Value = listed.json().await.expect("json");
    assert!(body["events"].as_array().expect("events").len() >= 9);
}

async fn auditors_cannot_read_documents(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let created = create(
        &app,
        &rs,
        &crate::documents::with(metadata("Secret-ish"), serde_json::json!({"releasable_to": ["ALL"]})),
        b"content",
    )
    .await;
    let id = created["id"].as_str().expect("id");
    let auditor = app.token("auditor").await;
    for path in [format!("/api/v1/documents/{id}"), format!("/api/v1/documents/{id}/content")] {
        problem(app.get_as(&auditor, &path).await, 404).await;
    }
    let events = all_events(&app).await;
    let refused: Vec<_> = events.iter().filter(|e| e.actor.sub.as_deref() == Some("auditor")).collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|e| e.outcome == Outcome::Denied && e.details["reason"] == "no_read_capability"));

    // Granting document:read to auditors is a configuration decision, and then it works.
    let app = TestApp::spawn_on_with(backend, |s| {
        s.policy.roles.insert("auditor".into(), [Capability::AuditRead, Capability::DocumentRead].into());
    })
    .await;
    let rs = app.token("analyst-rs").await;
    let created = create(
        &app,
        &rs,
        &crate::documents::with(metadata("Shared"), serde_json::json!({"releasable_to": ["ALL"]})),
        b"content",
    )
    .await;
    let auditor = app.token("auditor").await;
    let id = created["id"].as_str().expect("id");
    assert_eq!(app.get_as(&auditor, &format!("/api/v1/documents/{id}")).await.status(), 200);
}

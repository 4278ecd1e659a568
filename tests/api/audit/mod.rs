//! The audit trail over HTTP: completeness (each action's exact event), access (auditors only,
//! and auditors read no documents), tampering detection, concurrency, export and verification by
//! an independent script. Every test runs on both backends.

mod access;
mod completeness;
mod concurrency;
mod export;
mod insights;
mod tampering;

use anaspoc::audit::{self, Event, Filter};
use serde_json::Value;

use crate::helpers::TestApp;

/// Every event in the database, oldest first (read directly: no `audit.read` is added).
pub async fn all_events(app: &TestApp) -> Vec<Event> {
    let trail = audit::Trail::new(app.db.clone());
    let mut events: Vec<Event> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e.seq);
        let page = trail.events_after(&Filter::default(), after, 500).await.expect("events");
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    events
}

/// `GET /api/v1/audit/verify` as the auditor.
pub async fn verify(app: &TestApp) -> Value {
    let auditor = app.token("auditor").await;
    let response = app.get_as(&auditor, "/api/v1/audit/verify").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

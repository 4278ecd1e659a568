//! The chain stays linear under concurrent requests: many parallel audited requests, then the
//! chain verifies and `seq` has no gaps.

use super::{all_events, verify};
use crate::documents::{create, metadata, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(parallel_requests_keep_one_linear_chain);

async fn parallel_requests_keep_one_linear_chain(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.server.workers = 4).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let created =
        create(&app, &rs, &with(metadata("Busy"), serde_json::json!({"releasable_to": ["ALL"]})), b"busy").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let before = all_events(&app).await.len();

    let requests = 64;
    let calls = (0..requests).map(|n| {
        let (token, path) = match n % 4 {
            0 => (&rs, format!("/api/v1/documents/{id}")),
            1 => (&ba, format!("/api/v1/documents/{id}/content")),
            2 => (&ba, "/api/v1/me".to_owned()),
            _ => (&ba, format!("/api/v1/documents/{}", uuid::Uuid::new_v4())),
        };
        let app = &app;
        async move { app.get_as(token, &path).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");

    let events = all_events(&app).await;
    assert_eq!(events.len(), before + requests);
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "no gaps, no duplicates");
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "linked at seq {}", pair[1].seq);
    }
    let result = verify(&app).await;
    assert_eq!(result["status"], "ok", "{result}");
    assert_eq!(result["count"], events.len());
}

//! Search and ingest over HTTP: cross-script search with filters, facets, snippets and paging;
//! every supported format extracted from real files generated here; hostile files failing their
//! job and nothing else; crash recovery and `anaspoc reindex` with the real binary.

mod crash_recovery;
mod cross_script;
mod formats;
mod ocr;
mod query_cost;
pub mod samples;
mod sandbox;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::TestApp;

/// Poll the document until every version's text is through ingest; returns the document.
pub async fn wait_until_ingested(app: &TestApp, token: &str, id: &str) -> Value {
    wait_until_ingested_by(app, token, id, Instant::now() + Duration::from_secs(60)).await
}

/// [`wait_until_ingested`], failing at `deadline`.
pub async fn wait_until_ingested_by(app: &TestApp, token: &str, id: &str, deadline: Instant) -> Value {
    loop {
        let document: Value = app.get_as(token, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
        let pending =
            document["versions"].as_array().expect("versions").iter().any(|v| v["ingest"]["state"] == "pending");
        if !pending {
            return document;
        }
        assert!(Instant::now() < deadline, "ingest did not finish: {document}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /api/v1/search?{query}`, asserting 200.
pub async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get_as(token, &format!("/api/v1/search?{query}")).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{query}: {body}");
    body
}

/// Poll `GET /api/v1/search?{query}` until it answers `total` hits — an index follows the change
/// feed, which on a loaded machine can take a while — and return that answer; fails after 60 s
/// saying `what` was expected.
pub async fn until_total(app: &TestApp, token: &str, query: &str, total: u64, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = search(app, token, query).await;
        if found["total"] == total {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} ({} on {query}): {found}", app.base);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ids of the hits, in order.
pub fn hit_ids(result: &Value) -> Vec<String> {
    result["hits"].as_array().expect("hits").iter().map(|h| h["id"].as_str().expect("id").to_owned()).collect()
}

/// URL-encode a query value.
pub fn q(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

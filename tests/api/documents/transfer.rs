//! Bytes in and out: upload, streamed download with ETag and ranges, versions.

use serde_json::{Value, json};
use sha2::Digest;

use super::{add_version, create, metadata, stored_objects, upload, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A small but real PDF (one page, Cyrillic and Albanian text in the content stream).
pub fn tiny_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
        .to_vec()
}

on_both_backends!(
    upload_then_download,
    ranges_and_conditional_requests,
    versions_stay_downloadable,
    large_files_stream
);

async fn upload_then_download(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let bytes = tiny_pdf();
    let response =
        upload(&app, &rs, &metadata("Threat assessment 2026"), bytes.clone(), "C:\\Temp\\report\".txt").await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    assert_eq!(location, format!("/api/v1/documents/{id}"));
    assert_eq!(created["version"], 1);
    assert_eq!(created["sha256"], sha256_hex(&bytes));
    assert_eq!(created["size"], bytes.len());
    assert_eq!(created["media_type"], "application/pdf", "detected from the bytes, not the .txt name");
    assert_eq!(created["status"], "published");
    assert_eq!(created["originator_org"], "RS-MUP");
    assert_eq!(created["originator_country"], "RS");
    assert_eq!(created["markings"]["releasable_to"], json!(["BA", "ME", "RS"]), "originator country added");

    // A reader in Sarajevo sees metadata and content.
    let ba = app.token("analyst-ba").await;
    let document: Value = app.get_as(&ba, &location).await.json().await.expect("json");
    assert_eq!(document["title"], "Threat assessment 2026");
    assert_eq!(document["versions"][0]["filename"], "report.txt", "path and quote stripped");
    assert_eq!(document["can_change"], false);
    let content = app.get_as(&ba, &format!("{location}/content")).await;
    assert_eq!(content.status(), 200);
    let headers = content.headers().clone();
    assert_eq!(headers["etag"], format!("\"{}\"", sha256_hex(&bytes)));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-length"], bytes.len().to_string());
    assert!(headers["content-security-policy"].to_str().expect("csp").contains("sandbox"));
    assert_eq!(headers["content-disposition"], "attachment; filename=\"report.txt\"; filename*=UTF-8''report.txt");
    assert_eq!(content.bytes().await.expect("bytes").as_ref(), bytes.as_slice());

    // Stored under the server's key layout, never under the client's name.
    assert_eq!(stored_objects(&app).await, vec![format!("documents/{id}/v1")]);
}

async fn ranges_and_conditional_requests(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let text = "Анализа: трговина људима на западном Балкану — Shqipëri, Kosovë, Crna Gora.".as_bytes().to_vec();
    let created = create(&app, &rs, &metadata("Ranges"), &text).await;
    let url = format!("/api/v1/documents/{}/content", created["id"].as_str().expect("id"));
    let etag = format!("\"{}\"", sha256_hex(&text));
    let get = |range: Option<&'static str>, extra: Option<(&'static str, String)>| {
        let mut request = app.client.get(app.url(&url)).bearer_auth(&rs);
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        request.send()
    };

    let partial = get(Some("bytes=0-9"), None).await.expect("range");
    assert_eq!(partial.status(), 206);
    assert_eq!(partial.headers()["content-range"], format!("bytes 0-9/{}", text.len()));
    assert_eq!(partial.bytes().await.expect("bytes").as_ref(), &text[..10]);

    let suffix = get(Some("bytes=-5"), None).await.expect("suffix");
    assert_eq!(suffix.status(), 206);
    assert_eq!(suffix.bytes().await.expect("bytes").as_ref(), &text[text.len() - 5..]);

    let open_ended = get(Some("bytes=20-"), None).await.expect("open");
    assert_eq!(open_ended.bytes().await.expect("bytes").as_ref(), &text[20..]);

    let unsatisfiable = get(Some("bytes=5000-6000"), None).await.expect("416");
    assert_eq!(unsatisfiable.status(), 416);
    assert_eq!(unsatisfiable.headers()["content-range"], format!("bytes */{}", text.len()));

    let garbage = get(Some("lines=1-2"), None).await.expect("ignored");
    assert_eq!(garbage.status(), 200, "an unknown range unit is ignored");
    assert!(garbage.headers().get("content-range").is_none());
    assert_eq!(garbage.bytes().await.expect("bytes").as_ref(), text.as_slice(), "the whole body");

    let not_modified = get(None, Some(("If-None-Match", etag.clone()))).await.expect("304");
    assert_eq!(not_modified.status(), 304);
    assert_eq!(not_modified.headers()["etag"], etag);

    let stale = get(Some("bytes=0-9"), Some(("If-Range", "\"0000\"".into()))).await.expect("if-range");
    assert_eq!(stale.status(), 200, "a stale If-Range gets the whole body");
    assert!(stale.headers().get("content-range").is_none());
    assert_eq!(stale.bytes().await.expect("bytes").as_ref(), text.as_slice());
    let fresh = get(Some("bytes=0-9"), Some(("If-Range", etag))).await.expect("if-range");
    assert_eq!(fresh.status(), 206);
}

async fn versions_stay_downloadable(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let created = create(&app, &rs, &metadata("Versions"), b"first draft").await;
    let id = created["id"].as_str().expect("id").to_owned();

    let second = add_version(&app, &rs, &id, b"second, revised".to_vec(), "v2.txt").await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["version"], 2);
    assert_eq!(second["current_version"], 2);
    assert_eq!(second["sha256"], sha256_hex(b"second, revised"));

    // Concurrent new versions get distinct numbers and keep their own bytes.
    let uploads = (0..4).map(|n| add_version(&app, &rs, &id, format!("parallel {n}").into_bytes(), "p.txt"));
    for response in futures_util::future::join_all(uploads).await {
        assert_eq!(response.status(), 201);
    }
    let ba = app.token("analyst-ba").await;
    let document: Value = app.get_as(&ba, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    let numbers: Vec<i64> =
        document["versions"].as_array().expect("versions").iter().map(|v| v["version"].as_i64().expect("n")).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    assert_eq!(document["current_version"], 6);

    // A reader downloads every version, each with its own bytes and hash.
    for version in document["versions"].as_array().expect("versions") {
        let n = version["version"].as_i64().expect("n");
        let response = app.get_as(&ba, &format!("/api/v1/documents/{id}/content?version={n}")).await;
        assert_eq!(response.status(), 200);
        let bytes = response.bytes().await.expect("bytes");
        assert_eq!(sha256_hex(&bytes), version["sha256"].as_str().expect("sha"), "version {n}");
    }
    let first = app.get_as(&ba, &format!("/api/v1/documents/{id}/content?version=1")).await;
    assert_eq!(first.bytes().await.expect("bytes").as_ref(), b"first draft");
    let latest = app.get_as(&ba, &format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(latest.headers()["etag"], format!("\"{}\"", document["versions"][5]["sha256"].as_str().expect("sha")));

    let missing = app.get_as(&ba, &format!("/api/v1/documents/{id}/content?version=99")).await;
    let body = super::problem(missing, 404).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:version-not-found");
    assert_eq!(stored_objects(&app).await.len(), 6);
}

async fn large_files_stream(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    // 13 MiB: three multipart parts of 5 MiB on the way in, streamed on the way out.
    let bytes: Vec<u8> = (0..13 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let meta = with(metadata("Large annex"), json!({"releasable_to": ["ALL"]}));
    let created = create(&app, &rs, &meta, &bytes).await;
    assert_eq!(created["sha256"], sha256_hex(&bytes));
    assert_eq!(created["size"], bytes.len());
    let url = format!("/api/v1/documents/{}/content", created["id"].as_str().expect("id"));
    let me = app.token("analyst-me").await;
    let downloaded = app.get_as(&me, &url).await.bytes().await.expect("bytes");
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&bytes));
    let tail = app
        .client
        .get(app.url(&url))
        .bearer_auth(&me)
        .header("Range", "bytes=10485760-10485799")
        .send()
        .await
        .expect("range");
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.expect("bytes").as_ref(), &bytes[10_485_760..10_485_800]);
}

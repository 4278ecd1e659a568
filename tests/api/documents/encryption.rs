//! Encryption at rest (issue 21, in progress): with `[crypto]` enabled, a stored version holds
//! no plaintext, yet downloads — whole, by range at chunk boundaries, conditional — answer the
//! plaintext with its SHA-256 as the ETag; a stored object altered by one byte is never served.

use anaspoc::config::Secret;
use anaspoc::storage::{ObjectKey, Storage};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde_json::json;
use sha2::Digest;

use super::{create, metadata, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(stored_versions_are_encrypted_and_ranges_intact, a_tampered_object_is_never_served);

/// The encryption's chunk: 64 KiB of plaintext.
const CHUNK: usize = 64 * 1024;

async fn encrypting(backend: Backend) -> TestApp {
    TestApp::spawn_on_with(backend, |s| {
        let dir = std::path::Path::new(&s.search.index_dir).parent().expect("data dir").to_owned();
        s.crypto.enabled = true;
        s.crypto.keyring_file = dir.join("keyring.json").display().to_string();
        s.crypto.master_key = Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
    })
    .await
}

fn plaintext() -> Vec<u8> {
    b"Strateska analiza: kokain kroz luku Bar, operacija ADRIATIK.\n"
        .iter()
        .cycle()
        .take(3 * CHUNK + 333)
        .copied()
        .collect()
}

/// The stored bytes as the object store holds them (no keyring: nothing decrypted).
async fn stored(app: &TestApp, key: &str) -> Vec<u8> {
    let raw = Storage::from_settings(&app.settings.storage).expect("store");
    let download = raw.download(&ObjectKey::from_stored(key), None).await.expect("stored object");
    let parts: Vec<Bytes> = download.stream.try_collect().await.expect("bytes");
    parts.concat()
}

async fn stored_versions_are_encrypted_and_ranges_intact(backend: Backend) {
    let app = encrypting(backend).await;
    let rs = app.token("analyst-rs").await;
    let data = plaintext();
    let created = create(&app, &rs, &with(metadata("Luka Bar"), json!({"releasable_to": ["ALL"]})), &data).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let sha = hex::encode(sha2::Sha256::digest(&data));
    assert_eq!((created["sha256"].as_str(), created["size"].as_u64()), (Some(sha.as_str()), Some(data.len() as u64)));

    let bytes = stored(&app, &format!("documents/{id}/v1")).await;
    assert!(bytes.len() > data.len(), "tags and a header: {} stored bytes", bytes.len());
    assert!(!bytes.windows(8).any(|w| w == b"ADRIATIK"), "no plaintext in the store");

    let al = app.token("analyst-al").await;
    let whole = app.get_as(&al, &format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["etag"], format!("\"{sha}\""), "the plaintext's hash is the ETag");
    assert_eq!(whole.bytes().await.expect("body").to_vec(), data);
    for (start, end) in [(0, 0), (CHUNK - 2, CHUNK + 1), (CHUNK, 2 * CHUNK - 1), (3 * CHUNK, data.len() - 1)] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/documents/{id}/content")))
            .bearer_auth(&al)
            .header("Range", format!("bytes={start}-{end}"))
            .send()
            .await
            .expect("range");
        assert_eq!(response.status(), 206, "{start}-{end}");
        assert_eq!(response.bytes().await.expect("body").to_vec(), data[start..=end], "{start}-{end}");
    }
}

async fn a_tampered_object_is_never_served(backend: Backend) {
    let app = encrypting(backend).await;
    let rs = app.token("analyst-rs").await;
    let data = plaintext();
    let created = create(&app, &rs, &metadata("Luka Bar"), &data).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let key = format!("documents/{id}/v1");
    let mut bytes = stored(&app, &key).await;
    // One byte in the third chunk.
    let at = 12 + 2 * (CHUNK + 16) + 40;
    bytes[at] ^= 0x01;
    let raw = Storage::from_settings(&app.settings.storage).expect("store");
    raw.put(&ObjectKey::from_stored(&key), Bytes::from(bytes)).await.expect("tamper");

    let response = app.get_as(&rs, &format!("/api/v1/documents/{id}/content")).await;
    // The body breaks off (an error reading it, or fewer bytes than promised).
    if let Ok(body) = response.bytes().await {
        assert!(body.len() < data.len(), "the download does not complete");
        assert_eq!(body.to_vec(), data[..body.len()], "and nothing it served is corrupted");
    }
    // The intact first chunks still answer a range.
    let first = app
        .client
        .get(app.url(&format!("/api/v1/documents/{id}/content")))
        .bearer_auth(&rs)
        .header("Range", "bytes=0-99")
        .send()
        .await
        .expect("range");
    assert_eq!(first.bytes().await.expect("body").to_vec(), data[..100]);
}

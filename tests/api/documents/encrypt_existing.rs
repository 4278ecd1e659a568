//! Encrypting the objects stored before encryption was enabled (`anaspoc keys encrypt-existing`,
//! issue 21): a platform that ran without encryption is switched on; its old versions and texts
//! are read as before until the command seals them, each under its organisation's key —
//! afterwards no plaintext is left in the store and downloads and search answer as before on
//! every replica; an object altered in the store is reported and left alone; a run stopped
//! half-way is finished by the next; `/readyz` and `/metrics` say what is left.

use anaspoc::db::entities::plaintext_leftover;
use anaspoc::db::plaintext::PlaintextLeft;
use anaspoc::keys::encrypt_existing;
use anaspoc::storage::{ObjectKey, Storage};
use bytes::Bytes;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::json;
use sha2::Digest;

use super::encryption::{enable_encryption, stored};
use super::{create, first_version, metadata, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::search::wait_until_ingested;

on_both_backends!(objects_stored_before_encryption_are_encrypted_in_place, an_interrupted_run_is_finished_by_the_next);

/// Over three 64 KiB chunks of a plain-text analysis (its text, extracted by the pipeline, is an
/// object of its own).
fn analysis() -> Vec<u8> {
    b"Strateska analiza: kokain kroz luku Bar, operacija ADRIATIK. "
        .iter()
        .cycle()
        .take(3 * 64 * 1024 + 333)
        .copied()
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Wait until `/readyz` says `state` of encryption at rest (it is counted in the background).
async fn readiness_says(app: &TestApp, state: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ready: serde_json::Value =
            app.client.get(app.url("/readyz")).send().await.expect("readyz").json().await.expect("json");
        if ready["encryption"] == state {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "readiness does not say {state}: {ready}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `anaspoc_plaintext_objects{kind}` as `/metrics` shows it.
async fn plaintext_metric(app: &TestApp, kind: &str) -> Option<u64> {
    let metrics = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let prefix = format!("anaspoc_plaintext_objects{{kind=\"{kind}\"}} ");
    metrics.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|n| n.trim().parse().ok())
}

async fn objects_stored_before_encryption_are_encrypted_in_place(backend: Backend) {
    let plain = TestApp::spawn_on_with(backend, |s| s.crypto.enabled = false).await;
    let rs = plain.token("analyst-rs").await;
    let al = plain.token("analyst-al").await;
    let everyone = json!({"releasable_to": ["ALL"]});
    let data = analysis();
    let big = create(&plain, &rs, &with(metadata("Luka Bar"), everyone.clone()), &data).await;
    let big = big["id"].as_str().expect("id").to_owned();
    // Windows-1250: its text is an object of its own (`v1.txt`).
    let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode("Šverc cigareta preko Horgoša, operacija HERON.");
    let decoded = create(&plain, &rs, &with(metadata("Horgoš"), everyone.clone()), &cp1250).await;
    let decoded = decoded["id"].as_str().expect("id").to_owned();
    // Short tidy UTF-8: the file is its own text (one object for both).
    let original = b"Analiza iz Podgorice: operacija MAGPIE.".to_vec();
    let altered = create(&plain, &rs, &with(metadata("Podgorica"), everyone), &original).await;
    let altered = altered["id"].as_str().expect("id").to_owned();
    for id in [&big, &decoded, &altered] {
        wait_until_ingested(&plain, &rs, id).await;
    }
    assert!(contains(&stored(&plain, &format!("documents/{big}/v1")).await, b"ADRIATIK"), "plaintext at first");
    let mut plain_texts = Vec::new();
    for id in [&big, &decoded] {
        plain_texts.push(first_version(&plain, id).await.text_key.expect("a text of its own"));
    }
    // Someone changes a stored object behind the platform's back: it must not be sealed as if
    // it were what was uploaded.
    let raw = Storage::from_settings(&plain.settings.storage).expect("store");
    let altered_key = ObjectKey::from_stored(&format!("documents/{altered}/v1"));
    raw.put(&altered_key, Bytes::from_static(b"Analiza iz Podgorice: operacija PIGEON.")).await.expect("alter");

    // Encryption switched on: the old objects are read as before.
    let encrypted = plain.replica(enable_encryption).await;
    let read = encrypted.get_as(&al, &format!("/api/v1/documents/{big}/content")).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.expect("body").to_vec(), data, "plaintext objects still read");
    readiness_says(&encrypted, "incomplete").await;
    assert_eq!(plaintext_metric(&encrypted, "version").await, Some(3), "three versions as plaintext");
    assert_eq!(plaintext_metric(&encrypted, "text").await, Some(2), "two texts in objects of their own");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ready = encrypted.client.get(encrypted.url("/readyz")).send().await.expect("readyz");
        let status = ready.status();
        let body: serde_json::Value = ready.json().await.expect("json");
        if status == 200 {
            assert_eq!(body["encryption"], "incomplete");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "plaintext left must not make a replica unready: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let summary = encrypt_existing::run(&encrypted.settings, false).await.expect("encrypt-existing");
    assert_eq!((summary.versions, summary.texts, summary.failed), (2, 2, 1), "{summary}");
    assert!(summary.failures[0].contains(&format!("documents/{altered}/v1")), "the altered object is named: {summary}");
    assert_eq!(summary.left, PlaintextLeft { versions: 1, texts: 0, leftovers: 0 }, "{summary}");

    // No plaintext left in the store for what was encrypted; the old keys are gone.
    let sealed = first_version(&encrypted, &big).await;
    assert!(sealed.sealed.is_some() && sealed.text_sealed.is_some(), "recorded as sealed, with its text");
    assert!(!contains(&stored(&encrypted, &sealed.object_key).await, b"ADRIATIK"), "no plaintext in the store");
    let big_text = sealed.text_key.clone().expect("text key");
    assert!(!contains(&stored(&encrypted, &big_text).await, b"ADRIATIK"), "nor in its text");
    for old in [format!("documents/{big}/v1"), plain_texts[0].clone()] {
        assert!(!raw.exists(&ObjectKey::from_stored(&old)).await.expect("head"), "{old}: the plaintext is gone");
    }
    let text = first_version(&encrypted, &decoded).await;
    let text_key = text.text_key.clone().expect("text key");
    assert!(text.text_sealed.is_some() && text.sealed.is_some());
    assert!(!contains(&stored(&encrypted, &text_key).await, "HERON".as_bytes()), "the text is sealed too");
    assert!(!raw.exists(&ObjectKey::from_stored(&plain_texts[1])).await.expect("head"), "its plaintext is gone");
    assert!(first_version(&encrypted, &altered).await.sealed.is_none(), "the altered object is left as it is");

    // Downloads answer the same bytes, ETag and ranges; a fresh replica with the same keyring
    // builds its index from the sealed texts.
    let read = encrypted.get_as(&al, &format!("/api/v1/documents/{big}/content")).await;
    assert_eq!(read.headers()["etag"], format!("\"{}\"", hex::encode(sha2::Sha256::digest(&data))));
    assert_eq!(read.bytes().await.expect("body").to_vec(), data);
    let chunk = 64 * 1024;
    let range = encrypted
        .client
        .get(encrypted.url(&format!("/api/v1/documents/{big}/content")))
        .bearer_auth(&al)
        .header("Range", format!("bytes={}-{}", chunk - 5, chunk + 5))
        .send()
        .await
        .expect("range");
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.expect("body").to_vec(), data[chunk - 5..=chunk + 5]);
    let fresh = encrypted.replica(|_| {}).await;
    for word in ["adriatik", "heron"] {
        crate::search::until_total(&fresh, &al, &format!("q={word}"), 1, "found from the sealed text").await;
    }

    // Destroying keys is refused while the organisation has plaintext: it would stay readable.
    let refused = anaspoc::keys::run(&encrypted.settings, anaspoc::keys::KeysCommand::Destroy, "RS:RS-MUP").await;
    assert!(
        matches!(refused, Err(anaspoc::keys::KeysError::PlaintextLeft { objects: 1, .. })),
        "{:?}",
        refused.map(|_| ())
    );

    // The operator restores the object from a backup; the next run finishes the work.
    raw.put(&altered_key, Bytes::from(original.clone())).await.expect("restore");
    let again = encrypt_existing::run(&encrypted.settings, false).await.expect("again");
    assert_eq!((again.versions, again.texts, again.failed), (1, 0, 0), "{again}");
    assert_eq!(again.left, PlaintextLeft::default());
    readiness_says(&encrypted, "complete").await;
    assert_eq!(plaintext_metric(&encrypted, "version").await, Some(0));
    let read = encrypted.get_as(&al, &format!("/api/v1/documents/{altered}/content")).await;
    assert_eq!(read.bytes().await.expect("body").to_vec(), original);
    let own = first_version(&encrypted, &altered).await;
    assert_eq!(own.text_key.as_deref(), Some(own.object_key.as_str()), "its own text: still one object");
    assert!(own.sealed.is_some() && own.text_sealed == own.sealed, "sealed once, for both");
    let nothing = encrypt_existing::run(&encrypted.settings, false).await.expect("nothing left");
    assert_eq!((nothing.versions, nothing.texts, nothing.failed), (0, 0, 0), "{nothing}");

    let events = crate::audit::all_events(&encrypted).await;
    let runs: Vec<_> = events.iter().filter(|e| e.action == anaspoc::audit::Action::KeysEncryptExisting).collect();
    assert_eq!(runs.len(), 3, "each run audited");
    assert_eq!((runs[0].details["versions"].as_u64(), runs[0].details["failed"].as_u64()), (Some(2), Some(1)));
}

/// A run stopped between switching a version to its sealed copy and deleting the plaintext
/// leaves the plaintext listed (same transaction as the switch): the next run deletes it, and
/// until then it is counted.
async fn an_interrupted_run_is_finished_by_the_next(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, enable_encryption).await;
    let raw = Storage::from_settings(&app.settings.storage).expect("store");
    let key = ObjectKey::from_stored("documents/00000000-0000-4000-8000-000000000001/v1");
    raw.put(&key, Bytes::from_static(b"Analiza, operacija OSPREY.")).await.expect("plaintext");
    let leftover = plaintext_leftover::ActiveModel {
        object_key: Set(key.as_str().to_owned()),
        recorded_at: Set(chrono::Utc::now()),
    };
    plaintext_leftover::Entity::insert(leftover).exec(&app.db).await.expect("listed");
    readiness_says(&app, "incomplete").await;
    assert_eq!(plaintext_metric(&app, "leftover").await, Some(1));

    // The operator's command, as a process of its own.
    let output = encrypt_existing_command(&app.settings).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("deleted 1 plaintext leftovers of an earlier run"), "{stdout}");
    assert!(stdout.contains("left as plaintext: 0 versions, 0 texts, 0 leftovers"), "{stdout}");
    assert!(!raw.exists(&key).await.expect("head"), "the plaintext is deleted");
    readiness_says(&app, "complete").await;
}

/// `anaspoc keys encrypt-existing` on the database, store and keyring of `settings`.
async fn encrypt_existing_command(settings: &anaspoc::config::Settings) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_anaspoc"))
        .args(["--profile", "demo", "keys", "encrypt-existing"])
        .envs(crate::helpers::shared_env(settings))
        .output()
        .await
        .expect("anaspoc keys encrypt-existing")
}

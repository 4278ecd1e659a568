//! Encryption at rest (issue 21): with `[crypto]` enabled, a stored version holds
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
use crate::search::until_total;

on_both_backends!(
    stored_versions_are_encrypted_and_ranges_intact,
    a_tampered_object_is_never_served,
    extracted_text_is_encrypted_and_searchable,
    destroyed_keys_answer_gone_and_are_audited,
    keys_are_rotated_rewrapped_and_destroyed,
    a_tampered_text_does_not_stop_a_replica_index,
    replicas_share_the_keyring
);

const MASTER: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Wait for an audit event of a failed download of `id` with `reason` (recorded as the
/// stream fails, in the background).
async fn failed_download_audited(app: &TestApp, id: &str, reason: &str) {
    use anaspoc::audit::{Action, Outcome};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = crate::audit::all_events(app).await;
        if events.iter().any(|e| {
            e.action == Action::DocumentDownload
                && e.outcome == Outcome::Error
                && e.target.document_id.as_deref() == Some(id)
                && e.details["reason"] == reason
        }) {
            return;
        }
        let downloads: Vec<String> = events
            .iter()
            .filter(|e| e.action == Action::DocumentDownload)
            .map(|e| format!("{:?} {:?} {}", e.outcome, e.target.document_id, e.details))
            .collect();
        assert!(
            std::time::Instant::now() < deadline,
            "no audit event of the failed download ({reason}): {downloads:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The encryption's chunk: 64 KiB of plaintext.
const CHUNK: usize = 64 * 1024;

/// Encryption at rest on, with a keyring beside the search index (replicas made from these
/// settings share it).
pub(super) fn enable_encryption(s: &mut anaspoc::config::Settings) {
    let dir = std::path::Path::new(&s.search.index_dir).parent().expect("data dir").to_owned();
    s.crypto.enabled = true;
    s.crypto.keyring_file = dir.join("keyring.json").display().to_string();
    s.crypto.master_key = Secret::new(MASTER);
}

async fn encrypting(backend: Backend) -> TestApp {
    TestApp::spawn_on_with(backend, enable_encryption).await
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
pub(super) async fn stored(app: &TestApp, key: &str) -> Vec<u8> {
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
    failed_download_audited(&app, &id, "integrity check failed").await;
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

/// The text extracted from an office file (by the sandboxed pipeline) and from a plain-text
/// file whose text is not the file itself (here: Windows-1250) is stored encrypted too — and the
/// index, reading it back, finds the document.
async fn extracted_text_is_encrypted_and_searchable(backend: Backend) {
    let app = encrypting(backend).await;
    let rs = app.token("analyst-rs").await;
    let docx = crate::search::samples::docx(&["Zaplena na graničnom prelazu Kelebija: operacija KESTREL."]);
    let office = create(&app, &rs, &metadata("Kelebija"), &docx).await;
    let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode("Krijumčarenje cigareta preko Bezdana, operacija KESTREL.");
    let legacy = create(&app, &rs, &metadata("Bezdan"), &cp1250).await;
    for created in [&office, &legacy] {
        let id = created["id"].as_str().expect("id");
        crate::search::wait_until_ingested(&app, &rs, id).await;
        let text_key = super::first_version(&app, id).await.text_key.expect("text key");
        assert_ne!(text_key, format!("documents/{id}/v1"), "a text of its own");
        let text = stored(&app, &text_key).await;
        assert!(!text.windows(7).any(|w| w == b"KESTREL"), "the stored text holds no plaintext");
    }
    let found: serde_json::Value = app.get_as(&rs, "/api/v1/search?q=kestrel").await.json().await.expect("json");
    assert_eq!(found["total"], 2, "{found}");
}

/// Crypto-shredding at its root: once an organisation's keys are destroyed (here through the
/// keyring file the replicas share, as `anaspoc keys destroy` will), its documents' content
/// answers 410 `keys-destroyed`, audited; other organisations' documents are untouched.
async fn destroyed_keys_answer_gone_and_are_audited(backend: Backend) {
    use anaspoc::crypto::keyring::{FileKeyring, Keyring, MasterKey};
    let app = encrypting(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let everyone = json!({"releasable_to": ["ALL"]});
    let serbian = create(&app, &rs, &with(metadata("Beograd"), everyone.clone()), b"Analiza iz Beograda").await;
    let albanian = create(&app, &al, &with(metadata("Tirana"), everyone), b"Analiza nga Tirana").await;
    let dir = std::path::Path::new(&app.settings.search.index_dir).parent().expect("data dir").to_owned();
    let keyring = FileKeyring::open(&dir.join("keyring.json"), MasterKey::from_base64(MASTER).expect("master"))
        .expect("the shared keyring");
    keyring.destroy("RS:RS-MUP").expect("destroy");

    let id = serbian["id"].as_str().expect("id");
    let gone = app.get_as(&al, &format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(gone.status(), 410);
    let problem: serde_json::Value = gone.json().await.expect("problem");
    assert_eq!(problem["type"], "urn:anaspoc:problem:keys-destroyed", "{problem}");
    failed_download_audited(&app, id, "keys destroyed").await;
    let other = albanian["id"].as_str().expect("id");
    let kept = app.get_as(&rs, &format!("/api/v1/documents/{other}/content")).await;
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.bytes().await.expect("body").to_vec(), b"Analiza nga Tirana");
}

/// The column saying which key version a version's object is sealed under.
async fn key_version(app: &TestApp, id: &str) -> u32 {
    let row = super::first_version(app, id).await;
    let sealed = row.sealed.as_deref().and_then(anaspoc::crypto::keyring::WrappedKey::from_column).expect("sealed");
    sealed.version
}

/// `anaspoc keys rotate|rewrap|destroy` (the library functions the commands call): a rotation
/// seals new objects under the new version, a re-wrap moves old ones to it without touching their
/// bytes, a destruction makes them unreadable and takes their text out of the index — each
/// audited; the trail still shows the documents' markings to auditors.
async fn keys_are_rotated_rewrapped_and_destroyed(backend: Backend) {
    use anaspoc::audit::Action;
    use anaspoc::crypto::keyring::KeyringError;
    use anaspoc::keys::{Done, KeysCommand, KeysError, run};
    let app = encrypting(backend).await;
    let rs = app.token("analyst-rs").await;
    let everyone = json!({"releasable_to": ["ALL"]});
    let before =
        create(&app, &rs, &with(metadata("Prva"), everyone.clone()), "Analiza prva: operacija OSPREY.".as_bytes())
            .await;
    let first = before["id"].as_str().expect("id").to_owned();
    assert_eq!(key_version(&app, &first).await, 1);
    assert_eq!(
        run(&app.settings, KeysCommand::Rotate, "RS:RS-MUP").await.expect("rotate"),
        Done::Rotated { version: 2 }
    );
    let after = create(&app, &rs, &with(metadata("Druga"), everyone), b"Analiza druga.").await;
    let second = after["id"].as_str().expect("id").to_owned();
    assert_eq!(key_version(&app, &second).await, 2, "new objects under the new version");
    let stored_before = stored(&app, &format!("documents/{first}/v1")).await;
    let read_before = super::first_version(&app, &first).await;
    let done = run(&app.settings, KeysCommand::Rewrap, "RS:RS-MUP").await.expect("rewrap");
    assert!(matches!(done, Done::Rewrapped { keys } if keys >= 1), "{done:?}");
    assert_eq!(key_version(&app, &first).await, 2, "re-wrapped");
    // A re-wrap working from a value read before someone else wrote the column (extraction
    // recording a text, encrypt-existing switching an object) leaves what was written.
    let written = super::first_version(&app, &first).await.sealed;
    let keyring = anaspoc::crypto::keyring::FileKeyring::from_config(&app.settings.crypto).expect("keyring");
    let stale = read_before.sealed.as_deref().expect("sealed");
    let column = anaspoc::db::entities::document_version::Column::Sealed;
    let changed = anaspoc::keys::rewrap_column(&app.db, &keyring, "RS:RS-MUP", read_before.id, column, stale)
        .await
        .expect("rewrap column");
    assert!(!changed, "a stale value is not re-wrapped over a newer one");
    assert_eq!(super::first_version(&app, &first).await.sealed, written, "the newer value stays");
    assert_eq!(stored(&app, &format!("documents/{first}/v1")).await, stored_before, "the stored bytes untouched");
    let al = app.token("analyst-al").await;
    let read = app.get_as(&al, &format!("/api/v1/documents/{first}/content")).await;
    assert_eq!(read.bytes().await.expect("body").to_vec(), "Analiza prva: operacija OSPREY.".as_bytes());
    crate::search::wait_until_ingested(&app, &rs, &first).await;
    let found: serde_json::Value = app.get_as(&al, "/api/v1/search?q=osprey").await.json().await.expect("json");
    assert_eq!(found["total"], 1, "searchable before: {found}");

    // A misspelt organisation destroys nothing and says so, rather than reporting a shredding.
    let misspelt = run(&app.settings, KeysCommand::Destroy, "RS:RS-MUPP").await;
    assert!(
        matches!(misspelt, Err(KeysError::Keyring(KeyringError::NoKeys(ref o))) if o == "RS:RS-MUPP"),
        "{misspelt:?}"
    );
    let done = run(&app.settings, KeysCommand::Destroy, "RS:RS-MUP").await.expect("destroy");
    assert_eq!(done, Done::Destroyed { documents: 2 });
    assert_eq!(app.get_as(&al, &format!("/api/v1/documents/{first}/content")).await.status(), 410);
    until_total(&app, &al, "q=osprey", 0, "the shredded text leaves the index").await;
    let events = crate::audit::all_events(&app).await;
    for action in [Action::KeysRotate, Action::KeysRewrap, Action::KeysDestroy] {
        let event = events.iter().find(|e| e.action == action).unwrap_or_else(|| panic!("{action:?} audited"));
        assert_eq!(event.details["organisation"], "RS:RS-MUP");
    }
    let auditor = app.token("auditor").await;
    let report: serde_json::Value =
        app.get_as(&auditor, &format!("/api/v1/audit/documents/{first}/report")).await.json().await.expect("report");
    assert_eq!(report["markings_history"][0]["markings"]["tlp"], "AMBER", "auditors still see the markings: {report}");
}

/// One altered text object must not stop a replica's index from following the feed: the
/// document is indexed without it (logged), and the documents after it are found.
async fn a_tampered_text_does_not_stop_a_replica_index(backend: Backend) {
    let app = encrypting(backend).await;
    let rs = app.token("analyst-rs").await;
    // Windows-1250: its text is a separate object, not the file itself.
    let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode("Šverc cigareta preko Horgoša, operacija HERON.");
    let altered = create(&app, &rs, &metadata("Horgoš"), &cp1250).await;
    let id = altered["id"].as_str().expect("id").to_owned();
    let key = super::first_version(&app, &id).await.text_key.expect("text key");
    let mut text = stored(&app, &key).await;
    let last = text.len() - 1;
    text[last] ^= 0x01;
    let raw = Storage::from_settings(&app.settings.storage).expect("store");
    raw.put(&ObjectKey::from_stored(&key), Bytes::from(text)).await.expect("tamper");
    create(&app, &rs, &metadata("Kelebija"), "Zaplena na Kelebiji, operacija PELICAN.".as_bytes()).await;

    let replica = app.replica(|_| {}).await;
    until_total(&replica, &rs, "q=pelican", 1, "the replica's index goes on past the altered text").await;
    let heron: serde_json::Value = replica.get_as(&rs, "/api/v1/search?q=heron").await.json().await.expect("json");
    assert_eq!(heron["total"], 0, "the altered text is not indexed: {heron}");
}

/// Replicas share the keyring file: each reads what another wrote, and a rotation by the
/// operator's command (its own keyring, as the command's process has) is seen by both at once —
/// new objects under the new version, older ones still read.
async fn replicas_share_the_keyring(backend: Backend) {
    use anaspoc::keys::{Done, KeysCommand, run};
    let app = encrypting(backend).await;
    let replica = app.replica(|_| {}).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let everyone = json!({"releasable_to": ["ALL"]});
    let data = plaintext();
    let first = create(&app, &rs, &with(metadata("Prvi"), everyone.clone()), &data).await;
    let first = first["id"].as_str().expect("id").to_owned();
    let read = replica.get_as(&al, &format!("/api/v1/documents/{first}/content")).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.expect("body").to_vec(), data, "the replica reads what the first wrote");

    assert_eq!(
        run(&app.settings, KeysCommand::Rotate, "RS:RS-MUP").await.expect("rotate"),
        Done::Rotated { version: 2 }
    );
    let text = "Druga analiza: kamioni preko Preševa, operacija KESTREL.";
    let second = create(&replica, &rs, &with(metadata("Drugi"), everyone), text.as_bytes()).await;
    let second = second["id"].as_str().expect("id").to_owned();
    assert_eq!(key_version(&app, &second).await, 2, "the replica sealed under the rotated version at once");
    let read = app.get_as(&al, &format!("/api/v1/documents/{second}/content")).await;
    assert_eq!(read.bytes().await.expect("body").to_vec(), text.as_bytes(), "the first reads what the replica wrote");
    let read = replica.get_as(&al, &format!("/api/v1/documents/{first}/content")).await;
    assert_eq!(read.bytes().await.expect("body").to_vec(), data, "version 1 still read after the rotation");
    crate::search::wait_until_ingested(&app, &rs, &second).await;
    for instance in [&app, &replica] {
        until_total(instance, &al, "q=kestrel", 1, "the sealed text is found on every replica").await;
    }
}

/// A replica refuses to start on a keyring others may read, on a master key others may read,
/// and on a master key that does not open the keyring — naming the file — rather than serve
/// with keys exposed or under a key it cannot use; the running one is unaffected. With
/// encryption off, it refuses a database that holds encrypted objects (it could not read them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exposed_keyring_a_wrong_master_key_or_encryption_off_refuses_to_start() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    let keyring = std::path::PathBuf::from(&app.settings.crypto.keyring_file);
    let master = std::path::PathBuf::from(&app.settings.crypto.master_key_file);
    assert!(keyring.exists() && master.exists(), "the test settings encrypt at rest");
    let start = |configure: &dyn Fn(&mut anaspoc::config::Settings)| {
        let dir = tempfile::tempdir().expect("dir");
        let mut settings = app.replica_settings(dir.path());
        configure(&mut settings);
        async move {
            let refused = anaspoc::startup::Application::build(settings).await.err().expect("refused");
            drop(dir);
            refused.to_string()
        }
    };
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };

    mode(&keyring, 0o644);
    let refused = start(&|_| {}).await;
    assert!(refused.contains("keyring.json") && refused.contains("others may read"), "{refused}");
    mode(&keyring, 0o600);

    mode(&master, 0o640);
    let refused = start(&|_| {}).await;
    assert!(refused.contains("master.key") && refused.contains("others may read"), "{refused}");
    mode(&master, 0o600);

    let refused = start(&|s| s.crypto.master_key = Secret::new("OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk=")).await;
    assert!(refused.contains("does not open the keyring"), "{refused}");

    let rs = app.token("analyst-rs").await;
    let created = create(&app, &rs, &metadata("Još radi"), b"Analiza: server radi dalje.").await;
    let read = app.get_as(&rs, &format!("/api/v1/documents/{}/content", created["id"].as_str().expect("id"))).await;
    assert_eq!(read.bytes().await.expect("body").to_vec(), b"Analiza: server radi dalje.");

    // A replica with encryption off could not read what is stored now: it says so at start,
    // rather than answer downloads with errors.
    let refused = start(&|s| s.crypto.enabled = false).await;
    assert!(refused.contains("encrypted at rest") && refused.contains("[crypto] is off"), "{refused}");
}

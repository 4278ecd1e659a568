//! Concurrent uploads share transactions (group commit): each upload is still recorded exactly
//! once — its own row, bytes and `document.create` event, in one linear trail — and a record
//! that cannot be written costs only its own request, not the others committed with it.

use anaspoc::audit::Action;
use anaspoc::document_id::DocumentId;
use anaspoc::documents::creation::{CreationWriter, FirstVersion, NewRecord};
use anaspoc::documents::{DocumentsError, detect_media_type};
use anaspoc::policy::Status;
use anaspoc::storage::{ObjectKey, Storage};
use sha2::{Digest, Sha256};

use super::{create, metadata, stored_rows, with};
use crate::audit::{all_events, verify};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    concurrent_uploads_are_each_recorded_once,
    a_bad_record_costs_only_its_own_request,
    created_and_changed_documents_share_connections,
    a_small_text_upload_is_searchable_without_an_ingest_job
);

/// A plain-text file small enough to arrive whole with its first bytes is extracted by the upload
/// itself (as an import does): it is indexed, detected and searchable with no ingest worker at
/// all; a larger one waits for a job.
async fn a_small_text_upload_is_searchable_without_an_ingest_job(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.ingest.workers = false).await;
    let rs = app.token("analyst-rs").await;
    let small = "Zaplena kokaina u luci Bar, izvještaj o krijumčarenju preko granice.";
    let created = create(&app, &rs, &metadata("Small"), small.as_bytes()).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let document = crate::search::wait_until_ingested(&app, &rs, &id).await;
    assert_eq!(document["versions"][0]["ingest"]["state"], "indexed", "{document}");
    let found = crate::search::search(&app, &rs, "q=krijumcarenju").await;
    assert_eq!(crate::search::hit_ids(&found), [id], "{found}");
    assert_eq!(anaspoc::ingest::jobs::outstanding(&app.db).await.expect("jobs"), 0);

    // A legacy encoding (Windows-1251) with CRLF line ends: indexed as decoded, tidy text,
    // while the file itself is kept byte for byte.
    let cyrillic = "Извештај о кријумчарењу  \r\n\r\n\r\nпреко границе код Ниша.\r\n";
    let (legacy, _, _) = encoding_rs::WINDOWS_1251.encode(cyrillic);
    let created = create(&app, &rs, &metadata("Legacy"), &legacy).await;
    let legacy_id = created["id"].as_str().expect("id").to_owned();
    crate::search::wait_until_ingested(&app, &rs, &legacy_id).await;
    let found = crate::search::search(&app, &rs, "q=Ниша").await;
    assert_eq!(crate::search::hit_ids(&found), std::slice::from_ref(&legacy_id), "{found}");
    let content = app.get_as(&rs, &format!("/api/v1/documents/{legacy_id}/content")).await;
    assert_eq!(content.bytes().await.expect("bytes").as_ref(), legacy.as_ref());
    assert_eq!(anaspoc::ingest::jobs::outstanding(&app.db).await.expect("jobs"), 0);

    let large = create(&app, &rs, &metadata("Large"), small.repeat(200).as_bytes()).await;
    assert_eq!(large["versions"][0]["ingest"]["state"], "pending", "{large}");
    assert_eq!(anaspoc::ingest::jobs::outstanding(&app.db).await.expect("jobs"), 1);
}

async fn concurrent_uploads_are_each_recorded_once(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.server.workers = 4).await;
    let rs = app.token("analyst-rs").await;
    let uploads = 24;
    let bodies: Vec<Vec<u8>> =
        (0..uploads).map(|n| format!("Izvještaj broj {n}: group{n}commit.").into_bytes()).collect();
    let calls = bodies.iter().enumerate().map(|(n, body)| {
        let (app, rs) = (&app, &rs);
        let document = with(metadata(&format!("Upload {n}")), serde_json::json!({"releasable_to": ["ALL"]}));
        async move { create(app, rs, &document, body).await }
    });
    let created = futures_util::future::join_all(calls).await;

    let events = all_events(&app).await;
    for (n, (document, body)) in created.iter().zip(&bodies).enumerate() {
        // Each request answered with its own document, holding its own bytes.
        assert_eq!(document["title"], format!("Upload {n}"));
        let id = document["id"].as_str().expect("id");
        let content = app.get_as(&rs, &format!("/api/v1/documents/{id}/content")).await;
        assert_eq!(content.status(), 200);
        assert_eq!(content.bytes().await.expect("bytes").as_ref(), body.as_slice(), "upload {n}");
        // … and exactly one creation event, naming its bytes.
        let creations: Vec<_> = events
            .iter()
            .filter(|e| e.action == Action::DocumentCreate && e.target.document_id.as_deref() == Some(id))
            .collect();
        assert_eq!(creations.len(), 1, "upload {n}: {creations:?}");
        assert_eq!(creations[0].details["sha256"], hex::encode(Sha256::digest(body)), "upload {n}");
    }
    assert_eq!(stored_rows(&app).await.0, uploads);
    let verified = verify(&app).await;
    assert_eq!(verified["status"], "ok", "{verified}");
}

/// Three records reach the writer together; one reuses the id of another. The batch fails as a
/// whole, and the writer records the two good ones alone: only the duplicate is refused.
async fn a_bad_record_costs_only_its_own_request(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let policy = app.settings.policy.compile().expect("policy");
    let caller = anaspoc::auth::operator::operator(&app.settings, &policy, "analyst-rs", "group commit test")
        .expect("a demo persona");
    let storage = Storage::from_settings(&app.settings.storage).expect("storage");
    let markings = anaspoc::policy::Markings::restore(
        &serde_json::from_value(serde_json::json!({
            "classification": "SENSITIVE", "tlp": "AMBER", "handling_code": "H1", "handling_note": null,
            "releasable_to": ["ALL"], "recipients": [],
        }))
        .expect("markings input"),
        &policy,
        "RS",
    )
    .expect("valid markings");
    let (first, second) = (DocumentId::generate(), DocumentId::generate());
    let mut records = Vec::new();
    for (n, id) in [first, second, first].into_iter().enumerate() {
        let key = ObjectKey::version(id.uuid(), 1 + n as i32);
        let object = storage.put_received(key, format!("record {n}").into(), 1 << 20).await.expect("stored");
        let new = FirstVersion {
            id,
            title: format!("Record {n}"),
            summary: None,
            language: None,
            tags: Vec::new(),
            markings: &markings,
            status: Status::Published,
            object: &object,
            media_type: detect_media_type(object.head()),
            filename: "record.txt".into(),
            text: None,
            derived_from: None,
        };
        records.push(NewRecord::of(&caller, new, chrono::Utc::now()));
    }
    let before = all_events(&app).await.len();

    // All three wait before the writer runs: it runs on a runtime of one thread, its own.
    let settings = app.settings.database.clone();
    let outcomes = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let writer = CreationWriter::start(anaspoc::db::connect(&settings).await.expect("pool"));
            futures_util::future::join_all(records.into_iter().map(|record| writer.record(record))).await
        })
    })
    .join()
    .expect("writer thread");
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(outcomes[1].is_ok(), "{:?}", outcomes[1]);
    assert!(matches!(outcomes[2], Err(DocumentsError::Database(_))), "the duplicate: {:?}", outcomes[2]);

    let events = all_events(&app).await;
    assert_eq!(events.len(), before + 2, "one event per recorded document");
    assert_eq!(stored_rows(&app).await.0, 2);
    assert_eq!(verify(&app).await["status"], "ok");
}

/// A change numbered alone and a batch numbered together, on one pooled connection:
/// PostgreSQL keeps each statement prepared with its parameter types, so both must bind the
/// feed counter's step alike (a mismatch failed, now and then, requests after an upload).
async fn created_and_changed_documents_share_connections(backend: Backend) {
    use sea_orm::TransactionTrait;
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let created = create(&app, &rs, &metadata("Shared"), b"one connection").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let mut settings = app.settings.database.clone();
    settings.max_connections = 1;
    let db = anaspoc::db::connect(&settings).await.expect("a pool of one");
    for round in 0..2 {
        let txn = db.begin().await.expect("begin");
        anaspoc::db::feed::stamp(&txn, &id).await.unwrap_or_else(|e| panic!("round {round}, alone: {e}"));
        txn.commit().await.expect("commit");
        let txn = db.begin().await.expect("begin");
        anaspoc::db::feed::stamp_all(&txn, std::slice::from_ref(&id))
            .await
            .unwrap_or_else(|e| panic!("round {round}, in a batch: {e}"));
        txn.commit().await.expect("commit");
    }
}

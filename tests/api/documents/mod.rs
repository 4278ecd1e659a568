//! Documents over HTTP: upload, download, versions, markings changes, life cycle, bad input and
//! the access matrix. Every test runs on the embedded backend (SQLite + local files) and on the
//! production backend (PostgreSQL + the S3 peer) — see `on_both_backends!`.

mod access_matrix;
mod bad_input;
mod conditional;
mod encrypt_existing;
mod encryption;
mod group_commit;
mod lifecycle;
mod transfer;

use anaspoc::storage::Storage;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Markings and title for an upload; tests adjust fields with `json!` merges.
pub fn metadata(title: &str) -> Value {
    json!({
        "title": title,
        "classification": "SENSITIVE",
        "tlp": "AMBER",
        "handling_code": "H1",
        "releasable_to": ["BA", "ME"],
        "publish": true,
    })
}

/// `metadata` with some fields replaced.
pub fn with(mut base: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().expect("object") {
        if value.is_null() {
            base.as_object_mut().expect("object").remove(key);
        } else {
            base[key] = value.clone();
        }
    }
    base
}

/// `POST /api/v1/documents` with parts `metadata` and `file`.
pub async fn upload(app: &TestApp, token: &str, metadata: &Value, bytes: Vec<u8>, filename: &str) -> reqwest::Response {
    upload_to(app, token, "/api/v1/documents", metadata, bytes, filename).await
}

/// `POST /api/v1/documents/{source}/derivatives` with parts `metadata` and `file`.
pub async fn derive(app: &TestApp, token: &str, source: &str, metadata: &Value, bytes: &[u8]) -> reqwest::Response {
    let path = format!("/api/v1/documents/{source}/derivatives");
    upload_to(app, token, &path, metadata, bytes.to_vec(), "sanitised.txt").await
}

async fn upload_to(
    app: &TestApp,
    token: &str,
    path: &str,
    metadata: &Value,
    bytes: Vec<u8>,
    filename: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(metadata.to_string()).mime_str("application/json").expect("mime"),
        )
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()));
    app.client.post(app.url(path)).bearer_auth(token).multipart(form).send().await.expect("upload")
}

/// Upload and return the created document, asserting 201.
pub async fn create(app: &TestApp, token: &str, metadata: &Value, bytes: &[u8]) -> Value {
    let response = upload(app, token, metadata, bytes.to_vec(), "analysis.txt").await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 201, "{body}");
    body
}

/// `POST /api/v1/documents/{id}/versions` with part `file`.
pub async fn add_version(app: &TestApp, token: &str, id: &str, bytes: Vec<u8>, filename: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()));
    app.client
        .post(app.url(&format!("/api/v1/documents/{id}/versions")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("version upload")
}

pub async fn patch(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/documents/{id}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("patch")
}

pub async fn post(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(token).send().await.expect("post")
}

/// POST `body` as JSON to `path`.
pub async fn post_json(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(token).json(body).send().await.expect("post")
}

/// Object keys of uploaded versions under `documents/` in the app's object store (the extracted
/// `.txt` next to each is left out). On the local filesystem every other file counts, so a
/// leftover staging file of an aborted upload would show too.
pub async fn stored_objects(app: &TestApp) -> Vec<String> {
    let mut keys = if app.settings.storage.kind == anaspoc::config::StorageKind::Local {
        let root = std::path::Path::new(&app.settings.storage.path);
        let mut files = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.push(path.strip_prefix(root).expect("under root").display().to_string());
                }
            }
        }
        files
    } else {
        let storage = Storage::from_settings(&app.settings.storage).expect("storage");
        storage.keys("documents").await.expect("list")
    };
    keys.retain(|key| !key.ends_with(".txt"));
    keys.sort();
    keys
}

/// Rows in `documents` and `document_versions`.
/// The row of a document's first version, as the database holds it.
pub async fn first_version(app: &TestApp, id: &str) -> anaspoc::db::entities::document_version::Model {
    use anaspoc::db::entities::document_version;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    document_version::Entity::find()
        .filter(document_version::Column::DocumentId.eq(id))
        .one(&app.db)
        .await
        .expect("query")
        .expect("version")
}

pub async fn stored_rows(app: &TestApp) -> (usize, usize) {
    use anaspoc::db::entities::{document, document_version};
    use sea_orm::{EntityTrait, PaginatorTrait};
    let documents = document::Entity::find().count(&app.db).await.expect("count");
    let versions = document_version::Entity::find().count(&app.db).await.expect("count");
    (documents as usize, versions as usize)
}

/// The problem document of a response, asserting its status.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(actual, status, "{body}");
    assert_eq!(content_type.as_ref().and_then(|v| v.to_str().ok()), Some("application/problem+json"), "{body}");
    body
}

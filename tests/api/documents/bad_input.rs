//! Bad uploads get a clear 4xx problem naming the field, store nothing, and lose nothing that was
//! stored before.

use futures::SinkExt;
use serde_json::{Value, json};

use super::{create, metadata, problem, stored_objects, stored_rows, upload, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const LIMIT: u64 = 1024 * 1024;

on_both_backends!(refused_uploads_store_nothing, oversized_and_interrupted_uploads_store_nothing);

fn form_with(parts: Vec<(&'static str, reqwest::multipart::Part)>) -> reqwest::multipart::Form {
    parts.into_iter().fold(reqwest::multipart::Form::new(), |form, (name, part)| form.part(name, part))
}

fn json_part(value: &Value) -> reqwest::multipart::Part {
    reqwest::multipart::Part::text(value.to_string()).mime_str("application/json").expect("mime")
}

fn file_part(bytes: &[u8]) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("f.txt")
}

async fn refused_uploads_store_nothing(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.limits.max_upload_bytes = LIMIT).await;
    let rs = app.token("analyst-rs").await;
    let kept = create(&app, &rs, &metadata("Kept"), b"must survive").await;
    let kept_id = kept["id"].as_str().expect("id").to_owned();
    let base = metadata("Refused");

    // Markings and metadata, each naming its field (422).
    let cases: Vec<(Value, &str)> = vec![
        (with(base.clone(), json!({"releasable_to": ["RS", "FR"]})), "releasable_to"),
        (with(base.clone(), json!({"releasable_to": []})), "releasable_to"),
        (with(base.clone(), json!({"classification": "CONFIDENTIAL"})), "classification"),
        (with(base.clone(), json!({"classification": "TOP SECRET"})), "classification"),
        (with(base.clone(), json!({"tlp": "RED"})), "recipients"),
        (with(base.clone(), json!({"tlp": "WHITE"})), "tlp"),
        (with(base.clone(), json!({"handling_code": "H3"})), "handling_note"),
        (with(base.clone(), json!({"title": ""})), "title"),
        (with(base.clone(), json!({"title": null})), "title"),
        (with(base.clone(), json!({"language": "Serbian!"})), "language"),
        (with(base.clone(), json!({"originator_org": "EUROPOL"})), "originator_org"),
        (with(base.clone(), json!({"publish": "yes"})), "publish"),
    ];
    for (meta, field) in cases {
        let body = problem(upload(&app, &rs, &meta, b"x".to_vec(), "x.txt").await, 422).await;
        assert_eq!(body["field"], field, "{meta}: {body}");
        assert_eq!(body["type"], "urn:anaspoc:problem:invalid-field");
    }

    // An empty file (422) and broken framing (400).
    let body = problem(upload(&app, &rs, &base, Vec::new(), "empty.txt").await, 422).await;
    assert_eq!(body["field"], "file");
    let framing: Vec<(reqwest::multipart::Form, &str)> = vec![
        (form_with(vec![("metadata", json_part(&base))]), "file"),
        (form_with(vec![("file", file_part(b"x")), ("metadata", json_part(&base))]), "metadata"),
        (form_with(vec![("file", file_part(b"x"))]), "metadata"),
        (form_with(vec![("metadata", json_part(&base)), ("attachment", file_part(b"x"))]), "attachment"),
        (
            form_with(vec![("metadata", json_part(&base)), ("file", file_part(b"x")), ("extra", file_part(b"y"))]),
            "extra",
        ),
        (form_with(vec![("metadata", reqwest::multipart::Part::text("{\"title\": "))]), "metadata"),
    ];
    for (form, field) in framing {
        let response =
            app.client.post(app.url("/api/v1/documents")).bearer_auth(&rs).multipart(form).send().await.expect("post");
        let body = problem(response, 400).await;
        assert_eq!(body["field"], field, "{body}");
    }
    // Fuzz findings (`multipart_upload`): a body that ends inside the file part, right after a
    // line break, hung the request for good (actix-multipart waited for bytes that could not
    // come). Every malformed body must be answered, and soon.
    let unterminated = format!(
        "--XyZ0\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{base}\r\n\
         --XyZ0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\r\nunterminated\r\n"
    );
    for (content_type, payload) in [
        ("multipart/form-data; boundary=xyz", "this is not multipart at all".to_owned()),
        ("multipart/form-data", "--\r\n".to_owned()),
        ("application/json", base.to_string()),
        ("multipart/form-data; boundary=XyZ0", unterminated),
        (
            "multipart/form-data; boundary=XyZ0",
            "--XyZ0\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n".into(),
        ),
        // A boundary this short and a line of "--" made actix-multipart panic.
        ("multipart/form-data; boundary=ab", "--\n--ab\r\n".into()),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/documents"))
            .bearer_auth(&rs)
            .header("content-type", content_type)
            .body(payload.clone())
            .timeout(std::time::Duration::from_secs(20))
            .send()
            .await
            .unwrap_or_else(|error| panic!("no answer to {payload:?}: {error}"));
        problem(response, 400).await;
    }

    // Nothing new was stored, and nothing stored before was lost or changed.
    assert_eq!(stored_rows(&app).await, (1, 1));
    assert_eq!(stored_objects(&app).await, vec![format!("documents/{kept_id}/v1")]);
    let content = app.get_as(&rs, &format!("/api/v1/documents/{kept_id}/content")).await;
    assert_eq!(content.bytes().await.expect("bytes").as_ref(), b"must survive");
}

async fn oversized_and_interrupted_uploads_store_nothing(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.limits.max_upload_bytes = LIMIT).await;
    let rs = app.token("analyst-rs").await;
    let kept = create(&app, &rs, &metadata("Kept"), b"must survive").await;
    let kept_id = kept["id"].as_str().expect("id").to_owned();

    // Declared too large: refused before the body is read.
    let body = problem(upload(&app, &rs, &metadata("Huge"), vec![7; 3 * LIMIT as usize], "huge.bin").await, 413).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:file-too-large");
    // One byte over the limit: found while streaming, the partial upload aborted.
    let body =
        problem(upload(&app, &rs, &metadata("Just over"), vec![7; LIMIT as usize + 1], "over.bin").await, 413).await;
    assert_eq!(body["field"], "file");
    // Exactly at the limit is accepted.
    let at_limit = upload(&app, &rs, &metadata("At limit"), vec![7; LIMIT as usize], "limit.bin").await;
    assert_eq!(at_limit.status(), 201);
    let at_limit: Value = at_limit.json().await.expect("json");

    // A new version over the limit leaves the document as it was.
    let response = super::add_version(&app, &rs, &kept_id, vec![1; LIMIT as usize + 10], "v2.bin").await;
    problem(response, 413).await;

    // The client dies half-way through the file: no row, no object.
    let (mut sender, body) = futures_channel_body();
    let boundary = "anaspoc-test-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\n\r\n",
        metadata("Interrupted")
    );
    let request = app
        .client
        .post(app.url("/api/v1/documents"))
        .bearer_auth(&rs)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let feeder = async move {
        sender.send(Ok(head.into_bytes())).await.ok();
        sender.send(Ok(vec![9; 300_000])).await.ok();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        sender.send(Err(std::io::Error::other("client crashed"))).await.ok();
    };
    let (result, ()) = tokio::join!(request, feeder);
    if let Ok(response) = result {
        assert!(response.status().is_client_error(), "{}", response.status());
    }

    // Give the server a moment to finish aborting, then check nothing was left behind.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let at_limit_id = at_limit["id"].as_str().expect("id");
    assert_eq!(stored_rows(&app).await, (2, 2));
    assert_eq!(stored_objects(&app).await, {
        let mut keys = vec![format!("documents/{kept_id}/v1"), format!("documents/{at_limit_id}/v1")];
        keys.sort();
        keys
    });
    let document: Value = app.get_as(&rs, &format!("/api/v1/documents/{kept_id}")).await.json().await.expect("json");
    assert_eq!(document["current_version"], 1);
}

type BodySender = futures::channel::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;
type BodyReceiver = futures::channel::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>;

/// A request body fed by the test through a channel, so it can fail half-way.
fn futures_channel_body() -> (BodySender, BodyReceiver) {
    futures::channel::mpsc::channel(4)
}

//! Listing with filters and cursors, streamed JSON Lines and CSV exports, and verification of a
//! real export by an independent Python script and by `anaspoc audit verify --from-export`.

use std::process::Command;

use serde_json::Value;

use super::all_events;
use crate::documents::{create, metadata, problem};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(exports_verify_independently, listing_filters_and_pages);

async fn busy_app(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let al = app.token("analyst-al").await;
    // Cyrillic, Albanian and quoting characters in hashed fields: the canonical form must agree.
    let created = create(&app, &rs, &metadata("Анализа \"Шар\" — Shqipëri\tKosovë"), b"x").await;
    let id = created["id"].as_str().expect("id").to_owned();
    for _ in 0..3 {
        app.get_as(&ba, &format!("/api/v1/documents/{id}")).await;
        app.get_as(&ba, &format!("/api/v1/documents/{id}/content")).await;
        app.get_as(&al, &format!("/api/v1/documents/{id}")).await;
    }
    (app, id)
}

fn python_verify(path: &std::path::Path) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/audit/verify_chain.py");
    let output = Command::new("python3").arg(script).arg(path).output().expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn cli_verify(path: &std::path::Path, checkpoints: &[&std::path::Path]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_anaspoc"));
    command.current_dir(std::env::temp_dir()).args(["audit", "verify", "--from-export"]).arg(path);
    for checkpoint in checkpoints {
        command.arg("--checkpoint").arg(checkpoint);
    }
    let output = command.output().expect("anaspoc runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

async fn exports_verify_independently(backend: Backend) {
    let (app, _) = busy_app(backend).await;
    let auditor = app.token("auditor").await;
    let key = anaspoc::audit::SigningKey::load_or_create(std::path::Path::new(&app.settings.audit.signing_key_file))
        .expect("key");
    let checkpoint = anaspoc::audit::Trail::new(app.db.clone()).sign_head(&key).await.expect("sign");

    let response = app.get_as(&auditor, "/api/v1/audit/export?format=jsonl").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().expect("ascii").contains(".jsonl"));
    let jsonl = response.text().await.expect("body");
    let lines: Vec<&str> = jsonl.lines().collect();
    // Everything up to the export itself, which is recorded before the stream starts.
    assert_eq!(lines.len(), all_events(&app).await.len());
    let first: Value = serde_json::from_str(lines[0]).expect("json");
    for field in ["seq", "id", "at", "actor", "action", "outcome", "target", "request", "details", "prev_hash", "hash"]
    {
        assert!(first.get(field).is_some(), "every field is exported: {field}");
    }

    let dir = tempfile::tempdir().expect("dir");
    let export = dir.path().join("audit.jsonl");
    std::fs::write(&export, &jsonl).expect("write");
    let (ok, text) = python_verify(&export);
    assert!(ok, "{text}");
    assert!(text.starts_with(&format!("ok {} ", lines.len())), "{text}");
    let (ok, text) = cli_verify(&export, &[]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("ok: {} events", lines.len())), "{text}");

    // The checkpoint kept outside the platform verifies against the export.
    let outside = dir.path().join("checkpoint.json");
    std::fs::write(&outside, serde_json::to_string(&checkpoint).expect("json")).expect("write");
    let (ok, text) = cli_verify(&export, &[&outside]);
    assert!(ok, "{text}");

    // A changed character in event 3 is found by both verifiers, at seq 3.
    let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    tampered[2] = tampered[2].replacen("analyst-", "analyst_", 1);
    let bad = dir.path().join("tampered.jsonl");
    std::fs::write(&bad, tampered.join("\n")).expect("write");
    let (ok, text) = python_verify(&bad);
    assert!(!ok && text.contains("broken at seq 3"), "{text}");
    let (ok, text) = cli_verify(&bad, &[]);
    assert!(!ok && text.contains("seq 3"), "{text}");

    // An export cut before the checkpoint fails against the checkpoint.
    let short = dir.path().join("short.jsonl");
    std::fs::write(&short, lines[..5].join("\n")).expect("write");
    assert!(python_verify(&short).0, "a prefix is a valid chain on its own");
    let (ok, text) = cli_verify(&short, &[&outside]);
    assert!(!ok && text.contains("seq 6"), "{text}");

    // CSV: a header and one row per event.
    let csv = app.get_as(&auditor, "/api/v1/audit/export?format=csv").await.text().await.expect("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().expect("header").len(), 18);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), lines.len() + 1, "the JSON Lines export itself is now an event too");
    assert_eq!(&rows[0][8], "document.create");
}

async fn listing_filters_and_pages(backend: Backend) {
    let (app, id) = busy_app(backend).await;
    let auditor = app.token("auditor").await;
    let list = |query: String| {
        let app = &app;
        let auditor = auditor.clone();
        async move {
            let response = app.get_as(&auditor, &format!("/api/v1/audit?{query}")).await;
            assert_eq!(response.status(), 200, "{query}");
            response.json::<Value>().await.expect("json")
        }
    };
    let seqs = |page: &Value| -> Vec<i64> {
        page["events"].as_array().expect("events").iter().map(|e| e["seq"].as_i64().expect("seq")).collect()
    };

    // Newest first, in pages joined by the cursor.
    let first = list("limit=4".into()).await;
    let cursor = first["next_cursor"].as_str().expect("cursor").to_owned();
    let second = list(format!("limit=4&cursor={cursor}")).await;
    let (a, b) = (seqs(&first), seqs(&second));
    assert_eq!(a.len(), 4);
    assert!(a.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(b[0], a[3] - 1, "the next page continues where the first stopped");

    let downloads = list("action=document.download".into()).await;
    assert_eq!(seqs(&downloads).len(), 3);
    let denied = list(format!("outcome=denied&document={id}")).await;
    let denied_events = denied["events"].as_array().expect("events");
    assert_eq!(denied_events.len(), 3);
    assert!(denied_events.iter().all(|e| e["actor"]["sub"] == "analyst-al"));
    let by_actor = list("actor=analyst-ba&action=document.view".into()).await;
    assert_eq!(seqs(&by_actor).len(), 3);
    let future = list("from=2999-01-01T00:00:00Z".into()).await;
    assert!(seqs(&future).is_empty());
    let past = list("to=2000-01-01T00:00:00%2B02:00".into()).await;
    assert!(seqs(&past).is_empty());

    for (query, field) in [
        ("action=document.steal", "action"),
        ("outcome=maybe", "outcome"),
        ("from=yesterday", "from"),
        ("cursor=abc", "cursor"),
        // Found by schemathesis: out-of-range page sizes were silently clamped.
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-3", "limit"),
    ] {
        let body = problem(app.get_as(&auditor, &format!("/api/v1/audit?{query}")).await, 422).await;
        assert_eq!(body["field"], field, "{query}");
    }
    problem(app.get_as(&auditor, "/api/v1/audit?colour=red").await, 400).await;
}

/// What an anonymous caller sends (user agent, path, id asked for) reaches the trail verbatim;
/// in the CSV export it is shown, never run as a spreadsheet formula — and the JSON Lines export
/// keeps it byte for byte, so the chain still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_cannot_carry_formulas() {
    let app = TestApp::spawn().await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"open\")";
    let refused = app
        .client
        .get(app.url("/api/v1/me"))
        .header("user-agent", formula)
        .header("authorization", "Bearer @SUM(1+1)")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401);
    let auditor = app.token("auditor").await;
    let csv = app.get_as(&auditor, "/api/v1/audit/export?format=csv").await.text().await.expect("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let denied = rows.iter().find(|row| &row[8] == "auth.denied").expect("the refusal is in the export");
    assert_eq!(&denied[14], format!("'{formula}"), "user agent shown as text");
    for row in &rows {
        for cell in row.iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "a cell a spreadsheet would run: {cell}");
        }
    }
    let jsonl = app.get_as(&auditor, "/api/v1/audit/export?format=jsonl").await.text().await.expect("jsonl");
    assert!(jsonl.contains(&serde_json::to_string(formula).expect("json")), "JSON Lines keep it as it was");
    assert_eq!(super::verify(&app).await["status"], "ok");
}

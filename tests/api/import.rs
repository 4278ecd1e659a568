//! `anaspoc import`: a manifest's files become documents that search finds under the access
//! policy, each audited as created by the importing identity; a second run resumes; a manifest
//! with a bad line imports nothing; an identity that may not write imports nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use anaspoc::import::manifest::ManifestError;
use anaspoc::import::{ImportError, ImportOptions, Summary, run};
use serde_json::Value;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::search::{q, search};

fn options(dir: &Path, manifest: &Path, identity: &str) -> ImportOptions {
    ImportOptions {
        dir: dir.to_path_buf(),
        manifest: manifest.to_path_buf(),
        identity: identity.into(),
        dry_run: false,
        progress: false,
    }
}

/// Search as `token` until `word` has `expected` hits (the index follows the feed by itself).
async fn until_found(app: &TestApp, token: &str, word: &str, expected: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let result = search(app, token, &format!("q={}", q(word))).await;
        if result["total"] == expected {
            return result;
        }
        assert!(Instant::now() < deadline, "{word}: expected {expected} hits, have {result}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const CSV_MANIFEST: &str = "\
file,title,language,classification,tlp,handling_code,releasable_to,tags,publish
reports/krijumcarenje.txt,Krijumčarenje oružja,sr,SENSITIVE,AMBER,H1,ALL,weapons; balkan route,true
reports/samo-srbija.txt,Samo za Srbiju,sr,SENSITIVE,AMBER,H1,RS,,true
reports/pastrim.html,Pastrimi i parave,sq,UNCLASSIFIED,GREEN,H0,ALL,,true
";

async fn an_import_is_searchable_audited_and_resumable(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let files = tempfile::tempdir().unwrap();
    std::fs::create_dir(files.path().join("reports")).unwrap();
    std::fs::write(files.path().join("reports/krijumcarenje.txt"), "Analiza krijumčarenja: uvoznikzeta.").unwrap();
    std::fs::write(files.path().join("reports/samo-srbija.txt"), "Interna procjena: tajnirecmorava.").unwrap();
    std::fs::write(
        files.path().join("reports/pastrim.html"),
        "<html><body><p>Pastrimi i parave: fjalaveçantë.</p></body></html>",
    )
    .unwrap();
    let manifest = files.path().join("manifest.csv");
    std::fs::write(&manifest, CSV_MANIFEST).unwrap();

    let summary = run(&app.settings, options(files.path(), &manifest, "analyst-rs")).await.expect("import");
    assert_eq!(summary, Summary { imported: 3, skipped: 0, queued: 1 }, "the HTML file goes to the sandbox");

    let (rs, al, auditor) = (app.token("analyst-rs").await, app.token("analyst-al").await, app.token("auditor").await);
    let found = until_found(&app, &al, "uvoznikzeta", 1).await;
    let id = found["hits"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(found["hits"][0]["title"], "Krijumčarenje oružja");
    // Extracted by the sandboxed pipeline (HTML), then indexed like the rest.
    until_found(&app, &al, "fjalaveçantë", 1).await;
    // Released to Serbia only: Albania's analyst finds nothing, as for an upload.
    until_found(&app, &rs, "tajnirecmorava", 1).await;
    assert_eq!(search(&app, &al, "q=tajnirecmorava").await["total"], 0);

    let document: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.unwrap();
    assert_eq!(document["originator_org"], "RS-MUP", "{document}");
    assert_eq!(document["revision"], 2, "as an upload leaves a new document");
    assert_eq!(document["tags"], serde_json::json!(["weapons", "balkan route"]));

    let events: Value = app
        .get_as(&auditor, &format!("/api/v1/audit?document={id}&action=document.create"))
        .await
        .json()
        .await
        .unwrap();
    let event = &events["events"][0];
    assert_eq!(event["actor"]["sub"], "analyst-rs", "{events}");
    assert_eq!(event["details"]["import"]["line"], 2);
    assert_eq!(event["details"]["markings"]["releasable_to"], serde_json::json!(["ALL"]));
    let verified: Value = app.get_as(&auditor, "/api/v1/audit/verify").await.json().await.unwrap();
    assert_eq!(verified["status"], "ok", "{verified}");

    // Again: everything is there already. With a new line: only that one.
    let again = run(&app.settings, options(files.path(), &manifest, "analyst-rs")).await.expect("second run");
    assert_eq!(again, Summary { imported: 0, skipped: 3, queued: 0 });
    std::fs::write(files.path().join("reports/nova.txt"), "Nova analiza: novarijecsava.").unwrap();
    let mut grown = CSV_MANIFEST.to_owned();
    grown.push_str("reports/nova.txt,Nova analiza,sr,UNCLASSIFIED,GREEN,H0,ALL,,true\n");
    std::fs::write(&manifest, grown).unwrap();
    let third = run(&app.settings, options(files.path(), &manifest, "analyst-rs")).await.expect("third run");
    assert_eq!(third, Summary { imported: 1, skipped: 3, queued: 0 });
    until_found(&app, &al, "novarijecsava", 1).await;
    assert_eq!(search(&app, &al, "q=uvoznikzeta").await["total"], 1, "imported once, not twice");
}

async fn a_manifest_with_a_bad_line_imports_nothing(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("good.txt"), "Dobar dokument: dobrarijec.").unwrap();
    std::fs::write(files.path().join("empty.txt"), "").unwrap();
    let good = r#"{"file": "good.txt", "title": "Dobar", "classification": "UNCLASSIFIED", "tlp": "GREEN", "handling_code": "H0", "releasable_to": ["ALL"], "publish": true}"#;
    let lines = [
        good.to_owned(),
        good.replace("UNCLASSIFIED", "TOP SECRET"),
        good.replace("good.txt", "../outside.txt"),
        good.replace("good.txt", "missing.txt"),
        good.replace("good.txt", "empty.txt"),
        good.to_owned(),
        good.replace("\"title\"", "\"titel\""),
        "not json".to_owned(),
    ];
    let manifest = files.path().join("manifest.jsonl");
    std::fs::write(&manifest, lines.join("\n")).unwrap();

    let error = run(&app.settings, options(files.path(), &manifest, "analyst-rs")).await.expect_err("refused");
    let ImportError::Manifest(ManifestError::Lines(errors)) = &error else { panic!("{error}") };
    let problems: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        problems,
        [(2, "classification"), (3, "file"), (4, "file"), (5, "file"), (6, "file"), (7, "metadata"), (8, "line")],
        "{error}"
    );
    assert!(error.to_string().contains("repeats line 1"), "{error}");
    assert!(!files.path().join("manifest.jsonl.import-state").exists(), "nothing started");
    let rs = app.token("analyst-rs").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(search(&app, &rs, "q=dobrarijec").await["total"], 0, "the good line was not imported either");
}

async fn only_an_identity_that_may_write_imports(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("a.txt"), "Tekst.").unwrap();
    let manifest = files.path().join("manifest.csv");
    std::fs::write(
        &manifest,
        "file,title,classification,tlp,handling_code,releasable_to\na.txt,A,UNCLASSIFIED,GREEN,H0,ALL\n",
    )
    .unwrap();
    let error = run(&app.settings, options(files.path(), &manifest, "auditor")).await.expect_err("auditor");
    assert!(matches!(error, ImportError::NotPermitted(ref sub) if sub == "auditor"), "{error}");
    let auditor = app.token("auditor").await;
    let events: Value =
        app.get_as(&auditor, "/api/v1/audit?actor=auditor&action=document.create").await.json().await.unwrap();
    assert_eq!(events["events"][0]["outcome"], "denied", "refused like an upload, and audited: {events}");
    assert_eq!(events["events"][0]["details"]["reason"], "no_write_capability");
    let error = run(&app.settings, options(files.path(), &manifest, "nobody")).await.expect_err("unknown");
    assert!(matches!(error, ImportError::Identity(_)), "{error}");

    // An identity of the configuration: the claims its token would carry.
    let mut settings = app.settings.clone();
    settings.demo.enabled = false;
    settings.import.identities.insert(
        "migration-al".into(),
        serde_json::json!({
            "sub": "svc-migration-al", "name": "Migration AL", "organisation": "AL-ASP", "country": "AL",
            "clearance": "RESTRICTED", "realm_access": {"roles": ["analyst"]},
        }),
    );
    let error = run(&settings, options(files.path(), &manifest, "analyst-rs")).await.expect_err("no demo personas");
    assert!(matches!(error, ImportError::Identity(_)), "{error}");
    let summary = run(&settings, options(files.path(), &manifest, "migration-al")).await.expect("configured identity");
    assert_eq!(summary.imported, 1);
}

on_both_backends!(
    an_import_is_searchable_audited_and_resumable,
    a_manifest_with_a_bad_line_imports_nothing,
    only_an_identity_that_may_write_imports
);

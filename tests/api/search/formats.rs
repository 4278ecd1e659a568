//! Every supported format, from a real file generated for the test, is extracted, indexed and
//! found — across scripts; hostile files fail their own job with a reason and nothing else.

use serde_json::{Value, json};

use super::{hit_ids, q, samples, search, wait_until_ingested};
use crate::documents::{metadata, upload, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(every_format_is_extracted_and_found, hostile_files_fail_alone);

struct Sample {
    name: &'static str,
    filename: &'static str,
    bytes: Vec<u8>,
    language: Option<&'static str>,
    /// A query (in another script or spelling than the file, where it has one) that must find it.
    query: &'static str,
    media_type: &'static str,
}

fn samples() -> Vec<Sample> {
    let cyrillic = samples::render("Анализа организованог криминала\nКријумчарење цигарета преко Зајечара", "srp");
    let albanian = samples::render("Raport mbi trafikimin e emigrantëve\nnë Gjirokastër dhe Korçë", "sqi");
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("Извештај о пошиљкама кокаина у луци Бар.");
    let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode("Izvještaj o švercu duhana preko Čapljine i Međugorja.");
    vec![
        Sample {
            name: "plain text, UTF-8",
            filename: "a.txt",
            bytes: "Процјена: мреже у Требињу".as_bytes().to_vec(),
            language: None,
            query: "trebinju",
            media_type: "text/plain",
        },
        Sample {
            name: "plain text, Windows-1251",
            filename: "b.txt",
            bytes: cp1251.into_owned(),
            language: None,
            query: "kokaina",
            media_type: "text/plain",
        },
        Sample {
            name: "plain text, Windows-1250",
            filename: "c.txt",
            bytes: cp1250.into_owned(),
            language: None,
            query: "capljine",
            media_type: "text/plain",
        },
        Sample {
            name: "Markdown",
            filename: "d.md",
            bytes: "# Pregled\n\n* **Tuzla** — krijumčarenje oružja\n".as_bytes().to_vec(),
            language: None,
            query: "oruzja",
            media_type: "text/plain",
        },
        Sample {
            name: "HTML",
            filename: "e.html",
            bytes: samples::html("Izvještaj", "Pranje novca kroz kockarnice u Budvi"),
            language: None,
            query: "будви",
            media_type: "text/html",
        },
        Sample {
            name: "DOCX",
            filename: "f.docx",
            bytes: samples::docx(&["Процена претњи", "Нарко-картел из Ниша"]),
            language: Some("sr"),
            query: "nisa",
            media_type: "wordprocessingml",
        },
        Sample {
            name: "ODT",
            filename: "g.odt",
            bytes: samples::odt(&["Analiza rizika", "Trgovina ljudima u Mostaru"]),
            language: Some("bs"),
            query: "мостару",
            media_type: "opendocument.text",
        },
        Sample {
            name: "XLSX",
            filename: "h.xlsx",
            bytes: samples::xlsx(&["Zapljena", "Heroin Prizren 12kg"]),
            language: None,
            query: "prizren",
            media_type: "spreadsheetml",
        },
        Sample {
            name: "ODS",
            filename: "i.ods",
            bytes: samples::ods(&["Запленa", "Кумановo оружје"]),
            language: None,
            query: "kumanovo",
            media_type: "opendocument.spreadsheet",
        },
        Sample {
            name: "PPTX",
            filename: "j.pptx",
            bytes: samples::pptx(&["Strategic overview", "Cybercrime hub in Podgorica"]),
            language: Some("en"),
            query: "подгорица",
            media_type: "presentationml",
        },
        Sample {
            name: "EML",
            filename: "k.eml",
            bytes: samples::eml("Hitno: pošiljka u Kotoru", "Пошиљка стиже у Котор у петак."),
            language: None,
            query: "kotor",
            media_type: "message/rfc822",
        },
        Sample {
            name: "PDF with a text layer",
            filename: "l.pdf",
            bytes: cyrillic.pdf,
            language: Some("sr"),
            query: "zajecara",
            media_type: "application/pdf",
        },
        Sample {
            name: "scanned PDF (OCR)",
            filename: "m.pdf",
            bytes: cyrillic.scanned_pdf,
            language: Some("sr-Cyrl"),
            query: "cigareta",
            media_type: "application/pdf",
        },
        Sample {
            name: "image (OCR)",
            filename: "n.png",
            bytes: albanian.png,
            language: Some("sq"),
            query: "gjirokaster",
            media_type: "image/png",
        },
    ]
}

async fn every_format_is_extracted_and_found(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let mut ids = Vec::new();
    for sample in samples() {
        let mut meta = with(metadata(sample.name), json!({"releasable_to": ["ALL"]}));
        if let Some(language) = sample.language {
            meta["language"] = json!(language);
        }
        let response = upload(&app, &rs, &meta, sample.bytes, sample.filename).await;
        assert_eq!(response.status(), 201, "{}", sample.name);
        let created: Value = response.json().await.expect("json");
        assert!(
            created["media_type"].as_str().expect("type").contains(sample.media_type),
            "{}: {created}",
            sample.name
        );
        ids.push((sample.name, sample.query, created["id"].as_str().expect("id").to_owned()));
    }
    let reader = app.token("analyst-me").await;
    for (name, query, id) in &ids {
        let document = wait_until_ingested(&app, &reader, id).await;
        assert_eq!(document["versions"][0]["ingest"]["state"], "indexed", "{name}: {document}");
        let result = search(&app, &reader, &format!("q={}", q(query))).await;
        assert!(hit_ids(&result).contains(id), "{name}: `{query}` should find it: {result}");
        let hit = result["hits"].as_array().expect("hits").iter().find(|h| h["id"] == id.as_str()).expect("hit");
        assert!(hit["snippet"].as_str().expect("snippet").contains("<mark>"), "{name}: {hit}");
    }
    // Language detection where the uploader gave none.
    let document = wait_until_ingested(&app, &reader, &ids[1].2).await;
    assert_eq!(document["versions"][0]["detected_language"], "sr", "Windows-1251 Serbian");
    // Script never matters for the words of a scanned page either.
    let latin = search(&app, &reader, &format!("q={}", q("krijumcarenje"))).await;
    assert!(hit_ids(&latin).contains(&ids[11].2) && hit_ids(&latin).contains(&ids[12].2), "{latin}");
    // The HTML's script is not text.
    let hidden = search(&app, &reader, "q=skriveno").await;
    assert_eq!(hidden["total"], 0);
}

async fn hostile_files_fail_alone(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.ingest.extract_timeout_secs = 20).await;
    let rs = app.token("analyst-rs").await;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("Zip bomb", samples::zip_bomb_docx(), "bomb.docx", "exceeds the extraction limits"),
        ("Broken PDF", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage garbage".to_vec(), "broken.pdf", ""),
        ("Unknown binary", vec![0x00, 0xff, 0x13, 0x37, 0x00, 0x42, 0x99, 0x01], "blob.bin", "unsupported format"),
    ];
    let mut ids = Vec::new();
    for (title, bytes, filename, _) in &cases {
        let response =
            upload(&app, &rs, &with(metadata(title), json!({"releasable_to": ["ALL"]})), bytes.clone(), filename).await;
        assert_eq!(response.status(), 201, "{title}");
        ids.push(response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned());
    }
    let good = upload(
        &app,
        &rs,
        &with(metadata("Healthy neighbour"), json!({"releasable_to": ["ALL"]})),
        b"Pljevlja luka".to_vec(),
        "ok.txt",
    )
    .await;
    let good_id = good.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();

    for ((title, _, _, reason), id) in cases.iter().zip(&ids) {
        let document = wait_until_ingested(&app, &rs, id).await;
        let ingest = &document["versions"][0]["ingest"];
        assert_eq!(ingest["state"], "failed", "{title}: {document}");
        assert!(ingest["error"].as_str().expect("reason").contains(reason), "{title}: {ingest}");
        // Still findable by its title: a failed extraction does not hide the document.
        let found = search(&app, &rs, &format!("q={}", q(title))).await;
        assert!(hit_ids(&found).contains(id), "{title}: {found}");
    }
    wait_until_ingested(&app, &rs, &good_id).await;
    assert_eq!(search(&app, &rs, "q=pljevlja").await["total"], 1, "the neighbour was indexed");
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200, "the server is unharmed");
}

/// The sandbox stops extractors that hang, flood or allocate without bound (fake extractors
/// stand in for a hostile parser, so each limit is hit for certain).
#[tokio::test]
async fn the_sandbox_stops_runaway_extractors() {
    use anaspoc::ingest::extract::OcrOptions;
    use anaspoc::ingest::sandbox::{Sandbox, SandboxError};
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("input.pdf");
    std::fs::write(&input, b"%PDF-1.4").expect("input");
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.display().to_string()
    };
    let base = crate::helpers::test_settings(dir.path()).ingest;
    let sandbox = |extractor: String, change: &dyn Fn(&mut anaspoc::config::IngestSettings)| {
        let mut settings = base.clone();
        settings.extractor = extractor;
        change(&mut settings);
        Sandbox::from_settings(&settings).expect("sandbox")
    };

    let hang = sandbox(script("hang.sh", "#!/bin/sh\nsleep 60\n"), &|s| s.extract_timeout_secs = 1);
    let started = std::time::Instant::now();
    let error = hang.extract(&input, "application/pdf", &OcrOptions::default()).await.expect_err("timed out");
    assert!(matches!(error, SandboxError::TimedOut(1)), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "killed, not waited for");

    let flood = sandbox(script("flood.sh", "#!/bin/sh\nyes Beograd\n"), &|s| s.max_text_bytes = 10_000);
    let error = flood.extract(&input, "application/pdf", &OcrOptions::default()).await.expect_err("too much");
    assert!(matches!(error, SandboxError::TooMuchText(10_000)), "{error}");

    let hog = sandbox(
        script("hog.py", "#!/usr/bin/env python3\nblocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]\n"),
        &|s| s.extract_memory_mib = 256,
    );
    let error = hog.extract(&input, "application/pdf", &OcrOptions::default()).await.expect_err("out of memory");
    assert!(error.to_string().contains("MemoryError") || error.to_string().contains("killed"), "{error}");

    let spin = sandbox(script("spin.sh", "#!/bin/sh\nwhile :; do :; done\n"), &|s| {
        s.extract_cpu_secs = 1;
        s.extract_timeout_secs = 30;
    });
    let error = spin.extract(&input, "application/pdf", &OcrOptions::default()).await.expect_err("cpu");
    assert!(error.to_string().contains("CPU"), "{error}");

    // And the real extractor, for contrast.
    let real = sandbox(env!("CARGO_BIN_EXE_anaspoc").to_owned(), &|_| {});
    std::fs::write(&input, "Шабац и Лозница").expect("text");
    let extracted = real.extract(&input, "text/html", &OcrOptions::default()).await.expect("extracts");
    assert_eq!(extracted.text, "Шабац и Лозница");
    assert_eq!(extracted.ocr_pages, 0);
}

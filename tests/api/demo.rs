//! The demo as it first starts: the sample corpus (`src/demo/corpus.toml`) loaded through the
//! documents service as the personas' own uploads — each audited as theirs, with the demo's
//! user agent — every format searchable (the scanned PDF by OCR), each persona finding a
//! different part of it, and the first hour's sample activity raising the anomaly flags an
//! auditor is shown. A restart on the same database adds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anaspoc::audit::{Action, Event, Outcome};
use anaspoc::auth::demo_idp::PERSONAS;
use anaspoc::config::Settings;
use anaspoc::db::entities::{change_feed, document, document_version};
use anaspoc::demo::corpus::{self, Entry, Format, Status};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use crate::audit::all_events;
use crate::helpers::TestApp;
use crate::search::{hit_ids, q};

/// The whole corpus is extracted — the scanned PDF by OCR, in a debug build, beside other
/// tests — within this long.
const INGEST: Duration = Duration::from_secs(180);

/// A demo instance that loads the sample corpus on start (tests otherwise start empty).
async fn seeded(configure: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        s.demo.seed = true;
        configure(s);
    })
    .await
}

fn sample_corpus() -> Vec<Entry> {
    corpus::load().expect("the demo corpus")
}

fn entry<'a>(corpus: &'a [Entry], key: &str) -> &'a Entry {
    corpus.iter().find(|e| e.key == key).unwrap_or_else(|| panic!("no sample {key}"))
}

/// The documents' ids by corpus key: the seed uploads in corpus order, each upload audited as
/// created by its uploader.
fn ids_by_key(events: &[Event], corpus: &[Entry]) -> BTreeMap<String, String> {
    let created: Vec<&Event> =
        events.iter().filter(|e| e.action == Action::DocumentCreate && e.outcome == Outcome::Allowed).collect();
    assert_eq!(created.len(), corpus.len(), "one creation per sample document");
    corpus
        .iter()
        .zip(created)
        .map(|(entry, event)| {
            assert_eq!(
                event.actor.sub.as_deref(),
                Some(entry.uploader.as_str()),
                "{} is uploaded by its persona",
                entry.key
            );
            (entry.key.clone(), event.target.document_id.clone().expect("the created document"))
        })
        .collect()
}

/// Wait until every sample version's text is extracted (none failed) and the search index has
/// applied every change the database holds.
async fn wait_until_searchable(app: &TestApp) {
    let deadline = Instant::now() + INGEST;
    loop {
        let pending = document_version::Entity::find()
            .filter(document_version::Column::IngestState.eq("pending"))
            .count(&app.db)
            .await
            .expect("count");
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} sample versions still pending after {INGEST:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let failed: Vec<(String, Option<String>)> = document_version::Entity::find()
        .filter(document_version::Column::IngestState.eq("failed"))
        .all(&app.db)
        .await
        .expect("select")
        .into_iter()
        .map(|v| (v.document_id, v.ingest_error))
        .collect();
    assert!(failed.is_empty(), "every sample document's text is extracted: {failed:?}");
    let head = change_feed::Entity::find().one(&app.db).await.expect("select").map_or(0, |row| row.seq);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.feed.applied() < head {
        assert!(Instant::now() < deadline, "the index applied {} of {head} changes", app.feed.applied());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /api/v1/search?{query}` until it answers 200 (the index may still be catching up).
async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.get_as(token, &format!("/api/v1/search?{query}")).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        if status == 200 {
            return body;
        }
        assert!(status.is_server_error() && Instant::now() < deadline, "{query}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET `path` as `token`, asserting 200; the JSON body.
async fn ok_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get_as(token, path).await;
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
}

/// The clock hours (UTC, `YYYY-MM-DDTHH`) the events fall in.
fn hours(events: &[&Event]) -> BTreeSet<String> {
    events.iter().map(|e| e.at[..13].to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_demo_shows_each_persona_a_different_set() {
    let app = seeded(|_| {}).await;
    let corpus = sample_corpus();
    let ids = ids_by_key(&all_events(&app).await, &corpus);
    wait_until_searchable(&app).await;

    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for persona in ["analyst-al", "analyst-rs", "advisor-europol"] {
        let token = app.token(persona).await;
        let found = search(&app, &token, "q=adriatik&limit=100").await;
        let hits: BTreeSet<String> = hit_ids(&found).into_iter().collect();
        assert!(!hits.is_empty(), "{persona} finds part of the ADRIATIK material: {found}");
        assert_eq!(found["total"], hits.len(), "{persona}: {found}");
        seen.insert(persona, hits);
    }
    for (a, b) in [("analyst-al", "analyst-rs"), ("analyst-rs", "advisor-europol"), ("analyst-al", "advisor-europol")] {
        assert_ne!(seen[a], seen[b], "{a} and {b} find the same documents");
    }
    // Who finds what follows the markings (each of these names ADRIATIK in Latin script).
    for (persona, key, found) in [
        ("analyst-al", "al-durres-ports", true),            // her organisation's
        ("analyst-al", "ba-ploce-cocaine-corridor", false), // released to Serbia and EUROPOL only
        ("analyst-rs", "ba-ploce-cocaine-corridor", true),  // TLP:RED, addressed to him
        ("analyst-rs", "rs-adriatik-finance-draft", true),  // his organisation's draft
        ("analyst-rs", "al-durres-ports", false),           // not released to Serbia
        ("advisor-europol", "al-durres-ports", true),
        ("advisor-europol", "al-cash-couriers-rinas", true), // TLP:RED, addressed to EUROPOL
        ("advisor-europol", "rs-adriatik-finance-draft", false), // another organisation's draft
    ] {
        assert!(entry(&corpus, key).text.contains("ADRIATIK"), "{key} names ADRIATIK");
        assert_eq!(seen[persona].contains(&ids[key]), found, "{persona} finds {key}: {found}");
    }

    // Bosnia (cleared to SENSITIVE) meets no RESTRICTED document, whatever she searches.
    let ba = app.token("analyst-ba").await;
    let everything = search(&app, &ba, "limit=100").await;
    assert!(!hit_ids(&everything).is_empty(), "{everything}");
    for query in ["limit=100", "q=adriatik&limit=100", "classification=RESTRICTED"] {
        let found = search(&app, &ba, query).await;
        for hit in found["hits"].as_array().expect("hits") {
            assert_ne!(hit["markings"]["classification"], "RESTRICTED", "{query}: {hit}");
        }
    }
    assert_eq!(search(&app, &ba, "classification=RESTRICTED").await["total"], 0);

    // The auditor reads no document: nothing found, a document's page as if it did not exist.
    let auditor = app.token("auditor").await;
    assert_eq!(search(&app, &auditor, "q=adriatik").await["total"], 0);
    let page = app.get_as(&auditor, &format!("/api/v1/documents/{}", ids["eu-adriatic-cocaine-assessment"])).await;
    assert_eq!(page.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_is_audited_as_the_personas() {
    // The demo profile's thresholds (its working hours depend on the clock: left off here).
    let app = seeded(|s| {
        s.audit.alerts.downloads_per_hour = 10;
        s.audit.alerts.denials_per_hour = 5;
        s.audit.alerts.originators_per_hour = 4;
    })
    .await;
    let corpus = sample_corpus();
    assert_eq!(corpus.len(), 31);
    // Read before any request: the trail holds the seed's doing alone.
    let events = all_events(&app).await;
    let documents = document::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(documents as usize, corpus.len(), "every sample document is loaded");
    assert!(!events.is_empty());
    for event in &events {
        assert_eq!(event.request.user_agent, anaspoc::demo::USER_AGENT, "{event:#?}");
        assert_ne!(event.outcome, Outcome::Error, "{event:#?}");
        let sub = event.actor.sub.as_deref().unwrap_or_else(|| panic!("an actor: {event:#?}"));
        assert!(PERSONAS.iter().any(|p| p.username == sub), "{sub} is a persona");
    }
    let ids = ids_by_key(&events, &corpus);
    let keys: BTreeMap<&str, &str> = ids.iter().map(|(key, id)| (id.as_str(), key.as_str())).collect();

    // The one withdrawn sample, withdrawn by its own organisation.
    let withdrawn: Vec<&Entry> = corpus.iter().filter(|e| e.status == Status::Withdrawn).collect();
    assert_eq!(withdrawn.len(), 1);
    let withdrawals: Vec<&Event> = events.iter().filter(|e| e.action == Action::DocumentWithdraw).collect();
    assert_eq!(withdrawals.len(), 1, "{withdrawals:#?}");
    assert_eq!(withdrawals[0].outcome, Outcome::Allowed);
    assert_eq!(withdrawals[0].target.document_id.as_deref(), Some(ids[&withdrawn[0].key].as_str()));
    assert_eq!(withdrawals[0].actor.sub.as_deref(), Some(withdrawn[0].uploader.as_str()));

    // Albania opened every document once; what she may not see was refused — the other
    // organisations' drafts and the withdrawn one among them — and none of her own.
    let hers: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::DocumentView && e.actor.sub.as_deref() == Some("analyst-al"))
        .collect();
    assert_eq!(hers.len(), corpus.len(), "one attempt per document");
    let refused: Vec<&Event> = hers.iter().copied().filter(|e| e.outcome == Outcome::Denied).collect();
    let refused_ids: BTreeSet<&str> = refused.iter().filter_map(|e| e.target.document_id.as_deref()).collect();
    assert!(!refused_ids.is_empty());
    for entry in &corpus {
        let id = ids[&entry.key].as_str();
        if entry.uploader == "analyst-al" {
            assert!(!refused_ids.contains(id), "her own {} was refused", entry.key);
        } else if entry.status != Status::Published {
            assert!(refused_ids.contains(id), "{} ({:?}) was not refused", entry.key, entry.status);
        }
    }

    // EUROPOL downloaded, once each, what it may see: TLP:RED addressed to it, not Serbia-only.
    let downloads: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.action == Action::DocumentDownload
                && e.outcome == Outcome::Allowed
                && e.actor.sub.as_deref() == Some("advisor-europol")
        })
        .collect();
    let downloaded: BTreeSet<&str> = downloads.iter().filter_map(|e| e.target.document_id.as_deref()).collect();
    assert_eq!(downloaded.len(), downloads.len(), "each once");
    assert!(downloaded.contains(ids["rs-adriatik-logistics"].as_str()));
    assert!(!downloaded.contains(ids["rs-real-estate-laundering"].as_str()));
    assert!(!downloaded.contains(ids[&withdrawn[0].key].as_str()));
    let originators: BTreeSet<&str> = downloaded
        .iter()
        .map(|id| {
            let uploader = entry(&corpus, keys[id]).uploader.as_str();
            PERSONAS.iter().find(|p| p.username == uploader).expect("persona").organisation
        })
        .collect();

    // An auditor's first look flags the first hour: EUROPOL's bulk download of many
    // organisations' material and Albania's probing (when the seed's activity fell into one
    // clock hour, as it nearly always does).
    let auditor = app.token("auditor").await;
    let activity = ok_json(&app, &auditor, "/api/v1/audit/activity").await;
    if hours(&downloads).len() == 1 && hours(&refused).len() == 1 {
        let flags: BTreeMap<(String, String), i64> = activity["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .map(|f| {
                let text = |field: &str| f[field].as_str().expect("text").to_owned();
                ((text("rule"), text("actor")), f["count"].as_i64().expect("count"))
            })
            .collect();
        let expected: BTreeMap<(String, String), i64> = [
            (("bulk-downloads", "advisor-europol"), downloads.len() as i64),
            (("denials", "analyst-al"), refused.len() as i64),
            (("many-originators", "advisor-europol"), originators.len() as i64),
        ]
        .into_iter()
        .map(|((rule, actor), count)| ((rule.to_owned(), actor.to_owned()), count))
        .collect();
        assert_eq!(flags, expected, "{activity:#}");
    } else {
        eprintln!("the seed's activity straddled a clock hour: flags not compared");
    }
    assert_eq!(
        activity["top_downloads"][0],
        serde_json::json!({"actor": "advisor-europol", "count": downloads.len()}),
        "{activity:#}"
    );

    // The withdrawn sample's report: created and withdrawn by its organisation, refused to Albania.
    let id = &ids[&withdrawn[0].key];
    let report = ok_json(&app, &auditor, &format!("/api/v1/audit/documents/{id}/report")).await;
    assert_eq!(report["totals"]["changed"], 2, "{report:#}");
    let groups = report["groups"].as_array().expect("groups");
    assert!(groups.iter().any(|g| g["access"] == "denied" && g["organisation"] == "AL-ASP"), "{report:#}");
    assert!(!report.to_string().contains(&withdrawn[0].title), "no title in a report");

    // A restart on the same database (seed still on) adds nothing.
    let before = all_events(&app).await.len();
    let again = app.replica(|_| {}).await;
    assert!(again.settings.demo.seed, "the restart would seed an empty platform");
    let documents = document::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(documents as usize, corpus.len());
    assert_eq!(all_events(&app).await.len(), before, "no event added by the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanned_pdf_and_docx_are_searchable() {
    let app = seeded(|_| {}).await;
    let corpus = sample_corpus();
    let ids = ids_by_key(&all_events(&app).await, &corpus);
    wait_until_searchable(&app).await;
    let rs = app.token("analyst-rs").await;

    // Words of the text only — not of a title, summary or tag, nor of any other sample: found,
    // they were read from the file.
    let only_in_text = |key: &str, word: &str| {
        let sample = entry(&corpus, key);
        assert!(sample.text.contains(word), "`{word}` is in {key}'s text");
        let named: Vec<&str> = corpus
            .iter()
            .filter(|e| {
                let fields = [&e.title, &e.summary, &e.tags.join(" ")].map(|f| f.to_lowercase());
                let elsewhere = e.key != key && e.text.to_lowercase().contains(word);
                elsewhere || fields.iter().any(|f| f.contains(word))
            })
            .map(|e| e.key.as_str())
            .collect();
        assert!(named.is_empty(), "`{word}` is also in {named:?}");
    };
    let finds = async |key: &str, word: &str| {
        let found = search(&app, &rs, &format!("q={}", q(word))).await;
        let hit = found["hits"].as_array().expect("hits").iter().find(|h| h["id"] == ids[key].as_str()).cloned();
        if let Some(hit) = &hit {
            assert_eq!(hit["title"], entry(&corpus, key).title.as_str());
        }
        hit.is_some()
    };

    // The office scan (an image-only PDF, Albanian): read by OCR. A misread letter may hide a
    // word; most of them are found.
    let scan = "al-kakavije-cigarettes-scan";
    assert_eq!(entry(&corpus, scan).format, Format::ScannedPdf);
    let words = ["fiskale", "skaner", "fabrika"];
    let mut missed = Vec::new();
    for word in words {
        only_in_text(scan, word);
        if !finds(scan, word).await {
            missed.push(word);
        }
    }
    assert!(missed.len() <= 1, "the scan is not found by {missed:?}");

    // A Word document (Bosnian): its text exactly.
    let docx = "ba-drina-firearms";
    assert_eq!(entry(&corpus, docx).format, Format::Docx);
    for word in ["dobrovoljne", "devedesetih"] {
        only_in_text(docx, word);
        assert!(finds(docx, word).await, "`{word}` finds {docx}");
    }
}

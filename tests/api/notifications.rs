//! Saved searches, alerts and notifications (issue 17) on both backends: saved searches belong
//! to their owner alone; an alert tells its owner of a document when it becomes visible to them
//! and matches — on publication, on a widening of its releasability — never of one released
//! elsewhere, and a RED document only its recipients; what a notification points to is decided
//! again when it is read.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::documents::{add_version, create, metadata, patch, post, post_json, problem, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    saved_searches_belong_to_their_owner,
    an_alert_tells_of_a_document_when_it_becomes_visible_and_matches,
    a_red_document_alerts_only_its_recipients,
    a_withdrawn_document_is_no_longer_available_when_read,
    requests_and_decisions_are_told_to_the_two_sides,
    a_new_version_whose_text_now_matches_alerts,
    replicas_record_each_match_once,
    alerts_follow_the_owners_clearance_as_last_seen
);

async fn save(app: &TestApp, token: &str, body: Value) -> Value {
    let response = post_json(app, token, "/api/v1/saved-searches", &body).await;
    let status = response.status();
    let saved: Value = response.json().await.expect("json");
    assert_eq!(status, 201, "{saved}");
    saved
}

async fn notifications(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get_as(token, &format!("/api/v1/notifications{query}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// The notifications of `token` once they name `document` (the alerts run behind the index).
async fn notified_of(app: &TestApp, token: &str, document: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = notifications(app, token, "").await;
        let named = page["items"].as_array().expect("items").iter().any(|n| n["document"]["id"] == document);
        if named {
            return page;
        }
        assert!(Instant::now() < deadline, "no notification of {document}: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn documents_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["document"]["id"].as_str().map(str::to_owned))
        .collect()
}

async fn saved_searches_belong_to_their_owner(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let ba = app.token("analyst-ba").await;
    let me = app.token("analyst-me").await;
    let saved =
        save(&app, &ba, json!({"name": " Drina route ", "q": "drina", "filters": {"tlp": ["amber"]}, "alert": true}))
            .await;
    let id = saved["id"].as_str().expect("id");
    assert_eq!(saved["name"], "Drina route");
    assert_eq!(saved["filters"]["tlp"], json!(["AMBER"]));
    let listed: Value = app.get_as(&ba, "/api/v1/saved-searches").await.json().await.expect("json");
    assert_eq!(listed["items"][0]["id"], id);
    let others: Value = app.get_as(&me, "/api/v1/saved-searches").await.json().await.expect("json");
    assert_eq!(others["items"], json!([]), "another principal sees none of them");

    // Someone else's saved search answers like a missing one.
    let path = format!("/api/v1/saved-searches/{id}");
    let missing = format!("/api/v1/saved-searches/{}", uuid::Uuid::new_v4());
    let change = json!({"alert": false});
    let theirs = app.client.patch(app.url(&path)).bearer_auth(&me).json(&change).send().await.expect("patch");
    let nobodys = app.client.patch(app.url(&missing)).bearer_auth(&me).json(&change).send().await.expect("patch");
    assert_eq!(
        (theirs.status(), theirs.text().await.expect("body")),
        (nobodys.status(), nobodys.text().await.expect("body"))
    );
    let deleted = app.client.delete(app.url(&path)).bearer_auth(&me).send().await.expect("delete");
    assert_eq!(deleted.status(), 404);

    // Bad input names its field; the words are held to the search caps.
    for (body, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"name": "x", "q": "a ".repeat(600)}), "q"),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let refused = post_json(&app, &ba, "/api/v1/saved-searches", &body).await;
        assert_eq!(problem(refused, 422).await["field"], field);
    }

    let changed = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&ba)
        .json(&json!({"name": "Drina", "alert": false}))
        .send()
        .await
        .expect("patch");
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(
        (changed["name"].as_str(), changed["alert"].as_bool(), changed["q"].as_str()),
        (Some("Drina"), Some(false), Some("drina"))
    );
    let deleted = app.client.delete(app.url(&path)).bearer_auth(&ba).send().await.expect("delete");
    assert_eq!(deleted.status(), 204);
    let listed: Value = app.get_as(&ba, "/api/v1/saved-searches").await.json().await.expect("json");
    assert_eq!(listed["items"], json!([]));

    let auditor = app.token("auditor").await;
    for action in ["saved_search.create", "saved_search.update", "saved_search.delete"] {
        let trail: Value =
            app.get_as(&auditor, &format!("/api/v1/audit?action={action}")).await.json().await.expect("json");
        assert_eq!(trail["events"].as_array().map(Vec::len), Some(1), "{action}: {trail}");
        assert_eq!(trail["events"][0]["actor"]["sub"], "analyst-ba");
    }
}

async fn an_alert_tells_of_a_document_when_it_becomes_visible_and_matches(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    // Already there when the search is saved: not news.
    create(&app, &rs, &with(metadata("Drina archive"), json!({"releasable_to": ["BA"]})), b"Drina").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    save(&app, &ba, json!({"name": "Drina", "q": "drina", "alert": true})).await;
    save(&app, &ba, json!({"name": "Quiet", "q": "drina", "alert": false})).await;

    let elsewhere =
        create(&app, &rs, &with(metadata("Drina crossings"), json!({"releasable_to": ["ME"]})), b"Drina").await;
    let elsewhere = elsewhere["id"].as_str().expect("id").to_owned();
    let unrelated = create(&app, &rs, &with(metadata("Bar port"), json!({"releasable_to": ["BA"]})), b"Bar").await;
    let published =
        create(&app, &rs, &with(metadata("Drina ferries"), json!({"releasable_to": ["BA"]})), b"Drina").await;
    let published = published["id"].as_str().expect("id").to_owned();
    let page = notified_of(&app, &ba, &published).await;
    assert_eq!(
        documents_of(&page),
        [published.as_str()],
        "not the document released elsewhere, not the unrelated one: {page}"
    );
    let first = &page["items"][0];
    assert_eq!(first["kind"], "saved-search");
    assert_eq!(first["saved_search"]["name"], "Drina", "only the search with its alert on");
    assert_eq!(first["document"]["title"], "Drina ferries");
    assert_eq!(first["document"]["markings"]["releasable_to"], json!(["BA", "RS"]));
    assert_eq!((first["read"].as_bool(), page["unread"].as_u64()), (Some(false), Some(1)));
    assert!(unrelated["id"].is_string());

    // Widened to BA later: now it is visible, and it matches.
    let widened = patch(&app, &rs, &elsewhere, &json!({"releasable_to": ["ME", "BA"]})).await;
    assert_eq!(widened.status(), 200);
    let page = notified_of(&app, &ba, &elsewhere).await;
    assert_eq!(documents_of(&page), [elsewhere.clone(), published.clone()], "newest first");
    assert_eq!(page["unread"], 2);

    // Read one, then all.
    let id = page["items"][0]["id"].as_str().expect("id");
    assert_eq!(post(&app, &ba, &format!("/api/v1/notifications/{id}/read")).await.status(), 204);
    let unread = notifications(&app, &ba, "?unread=true").await;
    assert_eq!(documents_of(&unread), [published.as_str()]);
    assert_eq!(unread["unread"], 1);
    let rs_reads = post(&app, &rs, &format!("/api/v1/notifications/{id}/read")).await;
    assert_eq!(rs_reads.status(), 404, "another principal's notification does not exist for them");
    assert_eq!(post(&app, &ba, "/api/v1/notifications/read-all").await.status(), 204);
    assert_eq!(notifications(&app, &ba, "").await["unread"], 0);

    // Pages, newest first.
    let later = notifications(&app, &ba, "?limit=1").await;
    assert_eq!(later["items"].as_array().map(Vec::len), Some(1));
    let next = later["next_cursor"].as_str().expect("a next page");
    let older = notifications(&app, &ba, &format!("?limit=1&cursor={next}")).await;
    assert_eq!(documents_of(&older), [published.as_str()]);
    assert!(older.get("next_cursor").is_none(), "the last page has no next one: {older}");

    let auditor = app.token("auditor").await;
    let trail: Value = app.get_as(&auditor, "/api/v1/audit?action=notification.list").await.json().await.expect("json");
    assert!(
        trail["events"].as_array().expect("events").iter().any(|e| e["details"]["documents"][0] == published.as_str())
    );
}

async fn a_red_document_alerts_only_its_recipients(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let ba = app.token("analyst-ba").await;
    for token in [&al, &ba] {
        save(&app, token, json!({"name": "Vlora", "q": "vlora", "alert": true})).await;
    }
    let red = with(
        metadata("Vlora speedboats"),
        json!({"tlp": "RED", "recipients": ["analyst-al"], "releasable_to": ["AL", "BA"]}),
    );
    let red = create(&app, &rs, &red, b"Vlora").await["id"].as_str().expect("id").to_owned();
    let open = create(&app, &rs, &with(metadata("Vlora port"), json!({"releasable_to": ["AL", "BA"]})), b"Vlora").await;
    let open = open["id"].as_str().expect("id").to_owned();
    let at_al = notified_of(&app, &al, &open).await;
    let mut seen = documents_of(&at_al);
    seen.sort();
    let mut both = vec![red.clone(), open.clone()];
    both.sort();
    assert_eq!(seen, both, "the recipient is told of both");
    let at_ba = notified_of(&app, &ba, &open).await;
    assert_eq!(documents_of(&at_ba), [open.as_str()], "BA is no recipient of the RED one: {at_ba}");
    assert_eq!(at_ba["unread"], 1);

    // Recipients extended to analyst-ba: now the RED one reaches BA too.
    let extended = patch(&app, &rs, &red, &json!({"recipients": ["analyst-al", "analyst-ba"]})).await;
    assert_eq!(extended.status(), 200);
    let at_ba = notified_of(&app, &ba, &red).await;
    assert_eq!(documents_of(&at_ba), [red.as_str(), open.as_str()]);
}

async fn a_withdrawn_document_is_no_longer_available_when_read(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    save(&app, &ba, json!({"name": "Zvornik", "q": "zvornik", "alert": true})).await;
    let document =
        create(&app, &rs, &with(metadata("Zvornik crossing"), json!({"releasable_to": ["BA"]})), b"Zvornik").await;
    let id = document["id"].as_str().expect("id").to_owned();
    notified_of(&app, &ba, &id).await;
    assert_eq!(post(&app, &rs, &format!("/api/v1/documents/{id}/withdraw")).await.status(), 200);
    let page = notifications(&app, &ba, "").await;
    let item = &page["items"][0];
    assert_eq!(item["available"], false, "{page}");
    assert!(item.get("document").is_none(), "no title, no markings, no id: {page}");
    assert!(!page.to_string().contains("Zvornik crossing") && !page.to_string().contains(&id));
    assert_eq!(page["unread"], 0, "what the owner may not see is not counted");

    // Deleting the saved search leaves nothing of it.
    let saved: Value = app.get_as(&ba, "/api/v1/saved-searches").await.json().await.expect("json");
    let saved = saved["items"][0]["id"].as_str().expect("id");
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/saved-searches/{saved}")))
        .bearer_auth(&ba)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(notifications(&app, &ba, "").await["items"], json!([]));
}

async fn requests_and_decisions_are_told_to_the_two_sides(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let document = create(&app, &rs, &metadata("Doboj junction"), b"Doboj").await;
    let id = document["id"].as_str().expect("id").to_owned();
    let asked = post_json(
        &app,
        &ba,
        &format!("/api/v1/documents/{id}/requests"),
        &json!({"kind": "judicial-use", "justification": "Case"}),
    )
    .await;
    let request: Value = asked.json().await.expect("json");
    let request_id = request["id"].as_str().expect("id");

    let provider = notifications(&app, &rs, "").await;
    let told = &provider["items"][0];
    assert_eq!(
        (told["kind"].as_str(), told["request"]["id"].as_str()),
        (Some("request"), Some(request_id)),
        "{provider}"
    );
    assert_eq!(told["document"]["title"], "Doboj junction");
    assert_eq!(provider["unread"], 1);
    assert_eq!(
        notifications(&app, &ba, "").await["items"],
        json!([]),
        "the requester is not told of their own request"
    );

    let decided = post_json(
        &app,
        &rs,
        &format!("/api/v1/requests/{request_id}/decision"),
        &json!({"decision": "approve", "note": "Yes."}),
    )
    .await;
    assert_eq!(decided.status(), 200);
    let requester = notifications(&app, &ba, "").await;
    assert_eq!(requester["items"][0]["kind"], "decision", "{requester}");
    assert_eq!(requester["items"][0]["request"]["id"], request_id);

    // Withdrawn: the decision's document is no longer available to the requester.
    assert_eq!(post(&app, &rs, &format!("/api/v1/documents/{id}/withdraw")).await.status(), 200);
    let requester = notifications(&app, &ba, "").await;
    assert_eq!(requester["items"][0]["available"], false);
    assert!(requester["items"][0].get("request").is_none() && requester["items"][0].get("document").is_none());
    assert_eq!(requester["unread"], 0);
}

/// What the generated histories do to documents of analyst-rs.
#[derive(Clone, Debug)]
enum Change {
    /// A new document: matching the saved searches or not, released to these countries, RED
    /// to these recipients or not, published or a draft.
    Create {
        matching: bool,
        released: Vec<&'static str>,
        red_to: Option<Vec<&'static str>>,
        publish: bool,
    },
    /// Releasability of the n-th document changed.
    Release {
        document: usize,
        released: Vec<&'static str>,
    },
    Publish {
        document: usize,
    },
    Withdraw {
        document: usize,
    },
}

fn change() -> impl proptest::strategy::Strategy<Value = Change> {
    use proptest::prelude::*;
    let countries = proptest::sample::subsequence(vec!["AL", "BA", "ME"], 2..=3);
    // Biased towards documents that do alert someone, so that most histories notify and then
    // change what was notified of.
    let recipients = proptest::option::weighted(
        0.25,
        proptest::sample::subsequence(vec!["analyst-al", "analyst-ba", "analyst-me"], 1..=2),
    );
    prop_oneof![
        3 => (proptest::bool::weighted(0.8), countries.clone(), recipients, proptest::bool::weighted(0.8))
            .prop_map(|(matching, released, red_to, publish)| Change::Create { matching, released, red_to, publish }),
        2 => (0..3usize, countries).prop_map(|(document, released)| Change::Release { document, released }),
        1 => (0..3usize).prop_map(|document| Change::Publish { document }),
        2 => (0..3usize).prop_map(|document| Change::Withdraw { document }),
    ]
}

/// Over generated histories of creations, releasability changes, publications and withdrawals:
/// every notification a principal reads points to a document they may see at that moment (the
/// API answers 200 for it) and that matches their saved search, and the unread count counts
/// exactly those unread ones.
#[test]
fn notifications_never_show_what_the_reader_may_not_see() {
    use proptest::prelude::*;
    let config = ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(history in proptest::collection::vec(change(), 1..8))| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(replay(history));
    });
}

/// Until the alerts have seen every change made so far.
async fn alerts_caught_up(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let head = anaspoc::db::feed::head(&app.db).await.expect("head").seq;
        if anaspoc::db::saved_searches::alert_position(&app.db).await.expect("position") >= head {
            return;
        }
        assert!(Instant::now() < deadline, "alerts did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn replay(history: Vec<Change>) {
    let app = TestApp::spawn().await;
    let rs = app.token("analyst-rs").await;
    let readers = [
        ("analyst-al", app.token("analyst-al").await),
        ("analyst-ba", app.token("analyst-ba").await),
        ("analyst-me", app.token("analyst-me").await),
    ];
    for (_, token) in &readers {
        save(&app, token, json!({"name": "Drina", "q": "drina", "alert": true})).await;
    }
    let mut documents: Vec<String> = Vec::new();
    for change in history {
        // Each change is seen by the alerts before the next one (so that a notification can
        // outlive the state it was made in).
        alerts_caught_up(&app).await;
        match change {
            Change::Create { matching, released, red_to, publish } => {
                let title = if matching { "Drina crossing" } else { "Bar port" };
                let mut markings = json!({"releasable_to": released, "publish": publish, "handling_code": "H0"});
                if let Some(recipients) = red_to {
                    markings["tlp"] = json!("RED");
                    markings["recipients"] = json!(recipients);
                }
                let created = create(&app, &rs, &with(metadata(title), markings), title.as_bytes()).await;
                documents.push(created["id"].as_str().expect("id").to_owned());
            }
            Change::Release { document, released } => {
                if let Some(id) = documents.get(document) {
                    let _ = patch(&app, &rs, id, &json!({"releasable_to": released})).await;
                }
            }
            Change::Publish { document } | Change::Withdraw { document } if documents.get(document).is_none() => {}
            Change::Publish { document } => {
                let _ = post(&app, &rs, &format!("/api/v1/documents/{}/publish", documents[document])).await;
            }
            Change::Withdraw { document } => {
                let _ = post(&app, &rs, &format!("/api/v1/documents/{}/withdraw", documents[document])).await;
            }
        }
    }
    alerts_caught_up(&app).await;
    for (sub, token) in &readers {
        let page = notifications(&app, token, "").await;
        let mut unread = 0;
        for item in page["items"].as_array().expect("items") {
            if item["available"] == false {
                assert!(item.get("document").is_none(), "{sub}: nothing of an unavailable document: {item}");
                continue;
            }
            let id = item["document"]["id"].as_str().expect("id");
            let seen = app.get_as(token, &format!("/api/v1/documents/{id}")).await;
            assert_eq!(seen.status(), 200, "{sub} is told of {id}, which they may not see now");
            let seen: Value = seen.json().await.expect("json");
            assert_eq!(seen["title"], "Drina crossing", "{sub}: only matching documents");
            if item["read"] == false {
                unread += 1;
            }
        }
        assert_eq!(page["unread"], unread, "{sub}: the count is of what they may see");
    }
}

async fn a_new_version_whose_text_now_matches_alerts(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    save(&app, &ba, json!({"name": "Sava", "q": "sava", "alert": true})).await;
    let document =
        create(&app, &rs, &with(metadata("River report"), json!({"releasable_to": ["BA"]})), b"Nothing yet").await;
    let id = document["id"].as_str().expect("id").to_owned();
    let marker = create(&app, &rs, &with(metadata("Sava marker"), json!({"releasable_to": ["BA"]})), b"Sava").await;
    let marker = marker["id"].as_str().expect("id").to_owned();
    let page = notified_of(&app, &ba, &marker).await;
    assert_eq!(documents_of(&page), [marker.as_str()], "the report does not match yet");
    let added = add_version(&app, &rs, &id, b"Barges on the Sava near Brcko".to_vec(), "v2.txt").await;
    assert_eq!(added.status(), 201);
    let page = notified_of(&app, &ba, &id).await;
    assert_eq!(documents_of(&page), [id.clone(), marker.clone()], "its new text matches: {page}");
}

async fn replicas_record_each_match_once(backend: Backend) {
    let a = TestApp::spawn_on(backend).await;
    let (b, c) = tokio::join!(a.replica(|_| {}), a.replica(|_| {}));
    let rs = a.token("analyst-rs").await;
    let ba = a.token("analyst-ba").await;
    save(&b, &ba, json!({"name": "Neretva", "q": "neretva", "alert": true})).await;
    let mut ids = Vec::new();
    for (n, app) in [&a, &b, &c, &a, &b].into_iter().enumerate() {
        let title = format!("Neretva crossing {n}");
        let document = create(app, &rs, &with(metadata(&title), json!({"releasable_to": ["BA"]})), b"Neretva").await;
        ids.push(document["id"].as_str().expect("id").to_owned());
    }
    notified_of(&c, &ba, ids.last().expect("id")).await;
    for id in &ids {
        notified_of(&a, &ba, id).await;
    }
    // Three evaluators raced on the same changes; give them time to (wrongly) record again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut seen = documents_of(&notifications(&c, &ba, "").await);
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "each match once, whichever replica evaluated it");
}

async fn alerts_follow_the_owners_clearance_as_last_seen(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await; // SENSITIVE
    save(&app, &ba, json!({"name": "Mostar", "q": "mostar", "alert": true})).await;
    let restricted = json!({"classification": "RESTRICTED", "releasable_to": ["BA"]});
    let above = create(&app, &rs, &with(metadata("Mostar bridge, restricted"), restricted.clone()), b"Mostar").await;
    let marker = create(&app, &rs, &with(metadata("Mostar market"), json!({"releasable_to": ["BA"]})), b"Mostar").await;
    let marker = marker["id"].as_str().expect("id").to_owned();
    let page = notified_of(&app, &ba, &marker).await;
    assert_eq!(documents_of(&page), [marker.as_str()], "above the owner's clearance: no alert");
    assert!(above["id"].is_string());

    // Cleared to RESTRICTED: once they have used their saved searches, their alerts follow.
    let cleared = app.custom_token("analyst-ba", "BA-SIPA", "BA", "RESTRICTED", &["analyst"]);
    assert_eq!(app.get_as(&cleared, "/api/v1/saved-searches").await.status(), 200);
    let later = create(&app, &rs, &with(metadata("Mostar depot, restricted"), restricted), b"Mostar").await;
    let later = later["id"].as_str().expect("id").to_owned();
    let page = notified_of(&app, &cleared, &later).await;
    assert_eq!(documents_of(&page), [later.as_str(), marker.as_str()]);
}

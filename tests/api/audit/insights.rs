//! What auditors look at rather than read: the per-document access report ("who accessed this
//! document?"), the activity counts behind the audit page's charts (JSON and CSV), and the
//! anomaly flags with the links to the events behind them — all from the trail, on both
//! backends (the counts are raw SQL that SQLite and PostgreSQL must both run), each call audited,
//! never naming a document by its title or content.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anaspoc::audit::{Action, AlertSettings, Event, Outcome};
use anaspoc::db::entities::audit_document_ref;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::all_events;
use crate::documents::{create, metadata, patch, problem, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::search::{hit_ids, q, search};

on_both_backends!(
    report_groups_accesses_by_organisation_with_markings,
    activity_counts_days_denials_and_downloads,
    flags_for_bulk_downloads_denials_and_many_originators,
    search_hits_are_indexed_for_reports,
);

/// Upload `text` as `token`, released to every country; returns the document's id.
async fn released_to_all(app: &TestApp, token: &str, title: &str, text: &str) -> String {
    let created = create(app, token, &with(metadata(title), json!({"releasable_to": ["ALL"]})), text.as_bytes()).await;
    created["id"].as_str().expect("id").to_owned()
}

/// Upload as `token` with the default markings (released to BA and ME only); returns the id.
async fn released_to_ba_and_me(app: &TestApp, token: &str, title: &str) -> String {
    let created = create(app, token, &metadata(title), b"Released to Bosnia and Montenegro only.").await;
    created["id"].as_str().expect("id").to_owned()
}

/// Open the document's page; returns the status.
async fn view(app: &TestApp, token: &str, id: &str) -> u16 {
    app.get_as(token, &format!("/api/v1/documents/{id}")).await.status().as_u16()
}

/// Download the document's content (the whole body); returns the status.
async fn download(app: &TestApp, token: &str, id: &str) -> u16 {
    let response = app.get_as(token, &format!("/api/v1/documents/{id}/content")).await;
    let status = response.status().as_u16();
    response.bytes().await.expect("body");
    status
}

/// GET `path` as `token`: the status and the body as text.
async fn get_text(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let response = app.get_as(token, path).await;
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// GET `path` as `token`, asserting 200; the JSON body.
async fn ok_json(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, text) = get_text(app, token, path).await;
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
}

/// Search `word` as `token` until every one of `ids` is a hit (the index applies uploads
/// shortly after they commit); returns the answer that found them. Searches that miss a
/// document do not mention it in the trail.
async fn until_hits(app: &TestApp, token: &str, word: &str, ids: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = search(app, token, &format!("q={}", q(word))).await;
        let hits = hit_ids(&found);
        if ids.iter().all(|id| hits.iter().any(|hit| hit == id)) {
            return found;
        }
        assert!(Instant::now() < deadline, "`{word}` still does not find {ids:?}: {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The report's groups of one kind of access.
fn groups<'a>(report: &'a Value, access: &str) -> Vec<&'a Value> {
    report["groups"].as_array().expect("groups").iter().filter(|g| g["access"] == access).collect()
}

/// The one group of `access`, asserting there is exactly one.
fn only_group<'a>(report: &'a Value, access: &str) -> &'a Value {
    let found = groups(report, access);
    assert_eq!(found.len(), 1, "one `{access}` group: {report:#}");
    found[0]
}

/// If the clock hour ends within `margin`, wait until the next one has begun: the anomaly rules
/// count per actor and clock hour (UTC), and a test's events must fall into one hour.
async fn clear_of_hour_boundary(margin: Duration) {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let into_hour = Duration::from_secs(u64::from(now.minute() * 60 + now.second()));
    let left = Duration::from_secs(3600).saturating_sub(into_hour);
    if left < margin {
        eprintln!("waiting {left:?} for the next clock hour");
        tokio::time::sleep(left + Duration::from_secs(1)).await;
    }
}

/// Events per (day, action, outcome) — of one actor when given — counted from the events.
fn per_day_of(events: &[Event], actor: Option<&str>) -> BTreeMap<(String, String, String), i64> {
    let mut counts = BTreeMap::new();
    for event in events.iter().filter(|e| actor.is_none_or(|a| e.actor.sub.as_deref() == Some(a))) {
        let key = (event.at[..10].to_owned(), event.action.as_str().to_owned(), event.outcome.as_str().to_owned());
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// The `per_day` of an activity answer, keyed the same way.
fn per_day_answered(activity: &Value) -> BTreeMap<(String, String, String), i64> {
    activity["per_day"]
        .as_array()
        .expect("per_day")
        .iter()
        .map(|row| {
            let text = |field: &str| row[field].as_str().unwrap_or_else(|| panic!("{field}: {row}")).to_owned();
            ((text("day"), text("action"), text("outcome")), row["count"].as_i64().expect("count"))
        })
        .collect()
}

/// The flags of an activity answer as (rule, actor, count, threshold).
fn flag_summary(activity: &Value) -> BTreeSet<(String, String, i64, i64)> {
    activity["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|flag| {
            (
                flag["rule"].as_str().expect("rule").to_owned(),
                flag["actor"].as_str().expect("actor").to_owned(),
                flag["count"].as_i64().expect("count"),
                flag["threshold"].as_i64().expect("threshold"),
            )
        })
        .collect()
}

/// `anaspoc_audit_flags{rule="…"}` in `/metrics`, if exposed yet.
async fn flag_gauge(app: &TestApp, rule: &str) -> Option<i64> {
    let text = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let line = format!("anaspoc_audit_flags{{rule=\"{rule}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&line)).map(|n| n.trim().parse().expect("count"))
}

/// The documents `audit_document_refs` indexes for the event `seq`, sorted.
async fn refs_of(app: &TestApp, seq: i64) -> Vec<String> {
    let mut ids: Vec<String> = audit_document_ref::Entity::find()
        .filter(audit_document_ref::Column::Seq.eq(seq))
        .all(&app.db)
        .await
        .expect("select refs")
        .into_iter()
        .map(|row| row.document_id)
        .collect();
    ids.sort();
    ids
}

const TITLE: &str = "Kestenova ruta: strateška procjena";
/// A word of the document's content only (not of its title).
const WORD: &str = "vjetrogonja";

async fn report_groups_accesses_by_organisation_with_markings(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let europol = app.token("advisor-europol").await;
    let auditor = app.token("auditor").await;
    let id = released_to_all(&app, &rs, TITLE, &format!("Ruta {WORD} preko Subotice prema Segedinu.")).await;

    // Albania views it twice and downloads it once; EUROPOL finds it by a word of its text.
    for _ in 0..2 {
        assert_eq!(view(&app, &al, &id).await, 200);
    }
    assert_eq!(download(&app, &al, &id).await, 200);
    until_hits(&app, &europol, WORD, &[id.as_str()]).await;
    // Narrowed to Serbia: Albania is refused from now on.
    let narrowed = patch(&app, &rs, &id, &json!({"releasable_to": ["RS"]})).await;
    assert_eq!(narrowed.status(), 200);
    assert_eq!(view(&app, &al, &id).await, 404);

    let path = format!("/api/v1/audit/documents/{id}/report");
    let (status, text) = get_text(&app, &auditor, &path).await;
    assert_eq!(status, 200, "{text}");
    // Ids and markings only: neither the title nor any word of the content.
    for secret in [TITLE, "Kestenova", WORD, "Subotice"] {
        assert!(!text.to_lowercase().contains(&secret.to_lowercase()), "the report names `{secret}`: {text}");
    }
    let report: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(report["document_id"], id.as_str());
    assert_eq!(report["originator"], json!({"organisation": "RS-MUP", "country": "RS"}));
    assert_eq!(
        report["totals"],
        json!({"changed": 2, "viewed": 2, "downloaded": 1, "search-hit": 1, "notified": 0, "requested": 0, "denied": 1}),
        "{report:#}"
    );
    let kinds: Vec<&str> =
        report["groups"].as_array().expect("groups").iter().map(|g| g["access"].as_str().expect("access")).collect();
    assert_eq!(kinds, ["changed", "viewed", "downloaded", "search-hit", "denied"], "{report:#}");

    // Created and narrowed by Serbia.
    let changed = only_group(&report, "changed");
    assert_eq!(
        (changed["organisation"].as_str(), changed["country"].as_str(), changed["count"].as_u64()),
        (Some("RS-MUP"), Some("RS"), Some(2))
    );
    assert_eq!(changed["actors"][0]["sub"], "analyst-rs");

    // The two views: Albania's police, one analyst, the markings the document carried then.
    let viewed = only_group(&report, "viewed");
    assert_eq!(
        (viewed["organisation"].as_str(), viewed["country"].as_str(), viewed["count"].as_u64()),
        (Some("AL-ASP"), Some("AL"), Some(2))
    );
    let actors = viewed["actors"].as_array().expect("actors");
    assert_eq!(actors.len(), 1, "{viewed:#}");
    assert_eq!(
        (actors[0]["sub"].as_str(), actors[0]["name"].as_str(), actors[0]["count"].as_u64()),
        (Some("analyst-al"), Some("Arta Hoxha"), Some(2))
    );
    assert_eq!(actors[0]["first_at"], viewed["first_at"]);
    assert_eq!(actors[0]["last_at"], viewed["last_at"]);
    assert!(viewed["first_at"].as_str() <= viewed["last_at"].as_str(), "{viewed:#}");
    let markings = viewed["markings"].as_array().expect("markings");
    assert_eq!(markings.len(), 1, "{viewed:#}");
    assert_eq!(markings[0]["releasable_to"], json!(["ALL"]), "released to all when viewed");
    assert_eq!(markings[0]["classification"], "SENSITIVE");

    let downloaded = only_group(&report, "downloaded");
    assert_eq!((downloaded["organisation"].as_str(), downloaded["count"].as_u64()), (Some("AL-ASP"), Some(1)));
    assert_eq!(downloaded["markings"][0]["releasable_to"], json!(["ALL"]));

    let hit = only_group(&report, "search-hit");
    assert_eq!(
        (hit["organisation"].as_str(), hit["country"].as_str(), hit["count"].as_u64()),
        (Some("EUROPOL"), Some("EU"), Some(1))
    );
    assert_eq!(hit["actors"][0]["sub"], "advisor-europol");
    assert_eq!(hit["markings"][0]["releasable_to"], json!(["ALL"]));

    // The refusal came after the narrowing: the markings it was refused under.
    let denied = only_group(&report, "denied");
    assert_eq!(
        (denied["organisation"].as_str(), denied["country"].as_str(), denied["count"].as_u64()),
        (Some("AL-ASP"), Some("AL"), Some(1))
    );
    assert_eq!(denied["actors"][0]["sub"], "analyst-al");
    let narrowed_markings = report["markings_history"][1]["markings"].clone();
    assert_eq!(denied["markings"], json!([narrowed_markings]), "{report:#}");

    // The markings as created, then as narrowed.
    let history = report["markings_history"].as_array().expect("markings_history");
    assert_eq!(history.len(), 2, "{report:#}");
    assert_eq!(
        (history[0]["action"].as_str(), history[0]["actor"].as_str()),
        (Some("document.create"), Some("analyst-rs"))
    );
    assert_eq!(history[0]["markings"]["releasable_to"], json!(["ALL"]));
    assert_eq!(
        (history[1]["action"].as_str(), history[1]["actor"].as_str()),
        (Some("document.update"), Some("analyst-rs"))
    );
    assert_eq!(history[1]["markings"]["releasable_to"], json!(["RS"]));
    assert!(history[0]["seq"].as_i64() < history[1]["seq"].as_i64());
    assert!(history[0]["at"].as_str() <= history[1]["at"].as_str());

    // The report is itself audited, with the document as its target.
    let events = all_events(&app).await;
    let last = events.last().expect("events");
    assert_eq!((last.action, last.outcome), (Action::AuditReport, Outcome::Allowed), "{last:#?}");
    assert_eq!(last.actor.sub.as_deref(), Some("auditor"));
    assert_eq!(last.target.document_id.as_deref(), Some(id.as_str()));
    assert_eq!(last.details["totals"]["viewed"], 2, "{last:#?}");

    // Nobody else may ask — not even the originator — and the refusal is recorded.
    for persona in ["analyst-rs", "admin"] {
        let token = app.token(persona).await;
        let body = problem(app.get_as(&token, &path).await, 403).await;
        assert_eq!(body["type"], "urn:anaspoc:problem:forbidden", "{persona}");
        let events = all_events(&app).await;
        let last = events.last().expect("the attempt is audited");
        assert_eq!((last.action, last.outcome), (Action::AuditReport, Outcome::Denied), "{persona}: {last:#?}");
        assert_eq!(last.actor.sub.as_deref(), Some(persona));
        assert_eq!(last.details["query"], format!("document={id}"), "{last:#?}");
    }

    // Not an id: 422 naming the field. Any well-formed id answers, empty when the trail never
    // named it (it may name documents that no longer exist).
    let body = problem(app.get_as(&auditor, "/api/v1/audit/documents/not-a-document/report").await, 422).await;
    assert_eq!(body["field"], "id", "{body}");
    let unknown = uuid::Uuid::new_v4();
    let empty = ok_json(&app, &auditor, &format!("/api/v1/audit/documents/{unknown}/report")).await;
    assert_eq!(empty["document_id"], unknown.to_string());
    assert_eq!(empty["groups"], json!([]), "{empty}");
    assert_eq!(empty["markings_history"], json!([]), "{empty}");
    assert!(empty["originator"].is_null(), "{empty}");
    let totals = empty["totals"].as_object().expect("totals");
    assert_eq!(totals.len(), 7, "every kind of access, zero included: {empty}");
    assert!(totals.values().all(|n| n == 0), "{empty}");
}

async fn activity_counts_days_denials_and_downloads(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let mk = app.token("analyst-mk").await;
    let europol = app.token("advisor-europol").await;
    let auditor = app.token("auditor").await;
    let first = released_to_all(&app, &rs, "Prva procjena", "Prvi tekst.").await;
    let second = released_to_all(&app, &rs, "Druga procjena", "Drugi tekst.").await;
    let hidden = released_to_ba_and_me(&app, &rs, "Treća procjena").await;
    // EUROPOL downloads three times, Albania once; Albania is refused twice, North Macedonia once.
    for id in [&first, &second, &first] {
        assert_eq!(download(&app, &europol, id).await, 200);
    }
    assert_eq!(download(&app, &al, &first).await, 200);
    for token in [&al, &al, &mk] {
        assert_eq!(view(&app, token, &hidden).await, 404);
    }
    // The auditor's sign-in (if any is recorded) happens before the snapshot.
    app.get_as(&auditor, "/api/v1/me").await;
    let before = all_events(&app).await;
    let download_day =
        before.iter().rev().find(|e| e.action == Action::DocumentDownload).expect("downloads").at[..10].to_owned();

    let activity = ok_json(&app, &auditor, "/api/v1/audit/activity").await;
    // Every day of the last two weeks, the counts exactly what the trail holds.
    let days: Vec<&str> = activity["days"].as_array().expect("days").iter().map(|d| d.as_str().expect("day")).collect();
    assert_eq!(days.len(), 14, "{activity}");
    assert!(days.contains(&download_day.as_str()), "{activity}");
    assert_eq!(days.last().copied(), activity["to"].as_str().map(|to| &to[..10]), "the window ends today");
    assert!(activity["actor"].is_null());
    let per_day = per_day_answered(&activity);
    assert_eq!(per_day, per_day_of(&before, None), "events per day, action and outcome");
    let downloads: i64 = per_day
        .iter()
        .filter(|((_, action, outcome), _)| action == "document.download" && outcome == "allowed")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(downloads, 4);
    let refused: i64 = per_day
        .iter()
        .filter(|((_, action, outcome), _)| action == "document.view" && outcome == "denied")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(refused, 3);
    assert_eq!(
        activity["denials"],
        json!([
            {"organisation": "AL-ASP", "country": "AL", "count": 2},
            {"organisation": "MK-MVR", "country": "MK", "count": 1},
        ]),
        "refusals by organisation, most first"
    );
    assert_eq!(
        activity["top_downloads"],
        json!([{"actor": "advisor-europol", "count": 3}, {"actor": "analyst-al", "count": 1}]),
        "most downloads first"
    );
    assert_eq!(activity["flags"], json!([]), "nothing near the built-in thresholds");
    let events = all_events(&app).await;
    let last = events.last().expect("events");
    assert_eq!((last.action, last.outcome), (Action::AuditActivity, Outcome::Allowed), "{last:#?}");
    assert_eq!(last.actor.sub.as_deref(), Some("auditor"));
    assert_eq!(last.details["format"], "json", "{last:#?}");

    // One actor's timeline: only her events.
    let hers = ok_json(&app, &auditor, "/api/v1/audit/activity?actor=analyst-al").await;
    assert_eq!(hers["actor"], "analyst-al");
    let per_day = per_day_answered(&hers);
    assert_eq!(per_day, per_day_of(&before, Some("analyst-al")), "{hers}");
    assert!(
        per_day.contains_key(&(download_day.clone(), "document.download".to_owned(), "allowed".to_owned())),
        "{hers}"
    );
    assert!(per_day.keys().all(|(_, action, _)| !action.starts_with("audit.")), "no auditor's events in hers: {hers}");
    assert_eq!(hers["denials"], json!([{"organisation": "AL-ASP", "country": "AL", "count": 2}]));
    assert_eq!(hers["top_downloads"], json!([{"actor": "analyst-al", "count": 1}]));
    let last = all_events(&app).await.pop().expect("events");
    assert_eq!(last.action, Action::AuditActivity);
    assert_eq!(last.details["actor"], "analyst-al", "{last:#?}");

    // The same numbers as one CSV table.
    let response = app.get_as(&auditor, "/api/v1/audit/activity?format=csv").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let csv = response.text().await.expect("text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.first().copied(), Some("chart,day,action,outcome,organisation,country,actor,count"), "{csv}");
    for row in [
        format!("events-per-day,{download_day},document.download,allowed,,,,4"),
        format!("events-per-day,{download_day},document.view,denied,,,,3"),
        "denials,,,denied,AL-ASP,AL,,2".to_owned(),
        "denials,,,denied,MK-MVR,MK,,1".to_owned(),
        "top-downloads,,document.download,allowed,,,advisor-europol,3".to_owned(),
        "top-downloads,,document.download,allowed,,,analyst-al,1".to_owned(),
    ] {
        assert!(lines.contains(&row.as_str()), "`{row}` in\n{csv}");
    }
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), 8, "{line}");
        assert!(
            ["events-per-day,", "denials,", "top-downloads,"].iter().any(|chart| line.starts_with(chart)),
            "{line}"
        );
    }
    let last = all_events(&app).await.pop().expect("events");
    assert_eq!((last.action, last.outcome), (Action::AuditActivity, Outcome::Allowed));
    assert_eq!(last.details["format"], "csv", "{last:#?}");

    // Auditors only, and the refusal is recorded.
    let body = problem(app.get_as(&al, "/api/v1/audit/activity").await, 403).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:forbidden");
    let last = all_events(&app).await.pop().expect("events");
    assert_eq!((last.action, last.outcome), (Action::AuditActivity, Outcome::Denied), "{last:#?}");
    assert_eq!(last.actor.sub.as_deref(), Some("analyst-al"));

    // Bad values name their field; an unknown parameter is a bad request.
    for (query, field) in [("format=xml", "format"), ("from=2026-01-05&to=2026-01-01", "from"), ("to=soon", "to")] {
        let body = problem(app.get_as(&auditor, &format!("/api/v1/audit/activity?{query}")).await, 422).await;
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let body = problem(app.get_as(&auditor, "/api/v1/audit/activity?colour=red").await, 400).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:invalid-query", "{body}");
}

async fn flags_for_bulk_downloads_denials_and_many_originators(backend: Backend) {
    clear_of_hour_boundary(Duration::from_secs(90)).await;
    let app = TestApp::spawn_on_with(backend, |s| {
        s.audit.alerts.downloads_per_hour = 2;
        s.audit.alerts.denials_per_hour = 2;
        s.audit.alerts.originators_per_hour = 2;
        s.audit.alerts.check_interval_secs = 1;
    })
    .await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let europol = app.token("advisor-europol").await;
    let auditor = app.token("auditor").await;
    let serbian = [
        released_to_all(&app, &rs, "Prva procjena", "Prvi tekst.").await,
        released_to_all(&app, &rs, "Druga procjena", "Drugi tekst.").await,
    ];
    let albanian = released_to_all(&app, &al, "Raporti", "Teksti i parë.").await;
    let hidden = released_to_ba_and_me(&app, &rs, "Treća procjena").await;
    // EUROPOL downloads three documents of two organisations; Albania is refused three times.
    for id in [&serbian[0], &serbian[1], &albanian] {
        assert_eq!(download(&app, &europol, id).await, 200);
    }
    for _ in 0..3 {
        assert_eq!(view(&app, &al, &hidden).await, 404);
    }

    let activity = ok_json(&app, &auditor, "/api/v1/audit/activity").await;
    let expected: BTreeSet<(String, String, i64, i64)> = [
        ("bulk-downloads", "advisor-europol", 3, 2),
        ("denials", "analyst-al", 3, 2),
        ("many-originators", "advisor-europol", 2, 2),
    ]
    .into_iter()
    .map(|(rule, actor, count, threshold)| (rule.to_owned(), actor.to_owned(), count, threshold))
    .collect();
    assert_eq!(flag_summary(&activity), expected, "{activity:#}");

    // Each flag names its hour and links to exactly the events behind it.
    for flag in activity["flags"].as_array().expect("flags") {
        let (rule, actor) = (flag["rule"].as_str().expect("rule"), flag["actor"].as_str().expect("actor"));
        let (from, to) = (flag["from"].as_str().expect("from"), flag["to"].as_str().expect("to"));
        assert!(from.ends_with(":00:00.000Z") && to.ends_with(":59:59.999Z") && from[..13] == to[..13], "{flag}");
        let link = flag["link"].as_str().expect("link");
        assert!(link.starts_with("/audit?actor="), "{link}");
        let query = &link["/audit?".len()..];
        let pairs: BTreeMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        assert_eq!(pairs.get("actor").map(String::as_str), Some(actor), "{link}");
        assert_eq!(
            (pairs.get("from").map(String::as_str), pairs.get("to").map(String::as_str)),
            (Some(from), Some(to)),
            "{link}"
        );
        let listed = ok_json(&app, &auditor, &format!("/api/v1/audit?{query}&limit=1000")).await;
        let events: Vec<Event> = serde_json::from_value(listed["events"].clone()).expect("events");
        assert!(events.iter().all(|e| e.actor.sub.as_deref() == Some(actor)), "{rule}: {events:#?}");
        match rule {
            "bulk-downloads" | "denials" => {
                assert_eq!(events.len() as i64, flag["count"].as_i64().expect("count"), "{rule}: {events:#?}");
            }
            "many-originators" => {
                // The downloads behind it, of documents of the two organisations.
                let documents: BTreeSet<&str> = events.iter().filter_map(|e| e.target.document_id.as_deref()).collect();
                let expected: BTreeSet<&str> = [serbian[0].as_str(), serbian[1].as_str(), albanian.as_str()].into();
                assert_eq!(documents, expected, "{events:#?}");
                assert!(events.iter().all(|e| e.action == Action::DocumentDownload && e.outcome == Outcome::Allowed));
            }
            other => panic!("unexpected rule {other}"),
        }
    }

    // One actor's flags only on her timeline; the flags as CSV rows.
    let hers = ok_json(&app, &auditor, "/api/v1/audit/activity?actor=analyst-al").await;
    let summary: Vec<(String, String, i64, i64)> = flag_summary(&hers).into_iter().collect();
    assert_eq!(summary, [("denials".to_owned(), "analyst-al".to_owned(), 3, 2)], "{hers:#}");
    let csv = app.get_as(&auditor, "/api/v1/audit/activity?format=csv").await.text().await.expect("csv");
    for (rule, actor, count) in [
        ("bulk-downloads", "advisor-europol", 3),
        ("denials", "analyst-al", 3),
        ("many-originators", "advisor-europol", 2),
    ] {
        assert!(
            csv.lines()
                .any(|line| line.starts_with(&format!("flag:{rule},"))
                    && line.ends_with(&format!(",,,,,{actor},{count}"))),
            "flag:{rule} in\n{csv}"
        );
    }

    // /metrics counts the flags of the lookback window, recounted every second here.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let counts = [
            flag_gauge(&app, "bulk-downloads").await,
            flag_gauge(&app, "denials").await,
            flag_gauge(&app, "many-originators").await,
        ];
        if counts == [Some(1), Some(1), Some(1)] {
            break;
        }
        assert!(Instant::now() < deadline, "anaspoc_audit_flags still {counts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(flag_gauge(&app, "off-hours").await, Some(0), "working hours are off");

    // The same trail under the built-in thresholds raises nothing.
    let calm = app.replica(|s| s.audit.alerts = AlertSettings::default()).await;
    let activity = ok_json(&calm, &auditor, "/api/v1/audit/activity").await;
    assert_eq!(activity["flags"], json!([]), "{activity:#}");
    assert_eq!(activity["top_downloads"], json!([{"actor": "advisor-europol", "count": 3}]), "the same counts");
}

async fn search_hits_are_indexed_for_reports(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let me = app.token("analyst-me").await;
    let word = "burovjesnik";
    let first = released_to_all(&app, &rs, "Prva luka", &format!("Operacija {word} u luci Bar.")).await;
    let second = released_to_all(&app, &rs, "Druga luka", &format!("Operacija {word} u luci Kotor.")).await;
    until_hits(&app, &me, word, &[first.as_str(), second.as_str()]).await;

    // The search that found both is indexed under each.
    let events = all_events(&app).await;
    let found = events.last().expect("events");
    assert_eq!((found.action, found.actor.sub.as_deref()), (Action::SearchQuery, Some("analyst-me")), "{found:#?}");
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(refs_of(&app, found.seq).await, both);
    // A search that finds nothing indexes nothing.
    assert_eq!(search(&app, &me, "q=nepostojecarijec").await["total"], 0);
    let missed = all_events(&app).await.pop().expect("events");
    assert_eq!(missed.action, Action::SearchQuery);
    assert_eq!(refs_of(&app, missed.seq).await, Vec::<String>::new());
    // The index holds exactly what the events mention, nothing else.
    let events = all_events(&app).await;
    let mentions: BTreeSet<(String, i64)> =
        events.iter().flat_map(|e| e.mentioned_documents().into_iter().map(move |d| (d, e.seq))).collect();
    let rows: BTreeSet<(String, i64)> = audit_document_ref::Entity::find()
        .all(&app.db)
        .await
        .expect("select refs")
        .into_iter()
        .map(|row| (row.document_id, row.seq))
        .collect();
    assert_eq!(rows, mentions);

    // The report counts every search that returned the document.
    let hits_of_first =
        events.iter().filter(|e| e.action == Action::SearchQuery && e.mentioned_documents().contains(&first)).count();
    assert!(hits_of_first >= 1);
    let auditor = app.token("auditor").await;
    let report = ok_json(&app, &auditor, &format!("/api/v1/audit/documents/{first}/report")).await;
    assert_eq!(report["totals"]["search-hit"], hits_of_first, "{report:#}");
    assert_eq!(only_group(&report, "search-hit")["organisation"], "ME-UP");

    // Append-only, like the trail it indexes.
    for statement in [
        format!("UPDATE audit_document_refs SET document_id = 'forged' WHERE seq = {}", found.seq),
        format!("DELETE FROM audit_document_refs WHERE seq = {}", found.seq),
        "DELETE FROM audit_document_refs".to_owned(),
    ] {
        let refused = app.db.execute_unprepared(&statement).await.expect_err(&statement);
        assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
    }
    assert_eq!(refs_of(&app, found.seq).await, both);
}

//! The access matrix over HTTP: principals of every kind (countries, organisations, clearances,
//! roles) × documents of every marking kind × every document operation. The expectation comes
//! from a literal reading of the rules in docs/architecture.md written here, independent of `policy::decide`; a hidden
//! document must answer byte for byte like a missing one.

use serde_json::{Value, json};

use super::{add_version, create, derive, metadata, patch, post, post_json, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    every_principal_against_every_document,
    malformed_ids_answer_like_missing,
    corrupt_stored_lists_fail_closed_and_loudly
);

struct Who {
    label: &'static str,
    token: String,
    sub: &'static str,
    org: &'static str,
    country: &'static str,
    clearance: usize,
    read: bool,
    write: bool,
}

struct Doc {
    label: &'static str,
    id: String,
    level: usize,
    org: &'static str,
    country: &'static str,
    /// Effective releasability, the originator's country included.
    releasable: &'static [&'static str],
    red_recipients: Option<&'static [&'static str]>,
    published: bool,
    status: &'static str,
}

const LEVELS: [&str; 4] = ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"];

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).expect("level")
}

/// docs/architecture.md, "Where access is decided", read literally: an organisation is its
/// (country, name).
fn own(who: &Who, doc: &Doc) -> bool {
    (who.country, who.org) == (doc.country, doc.org)
}

fn may_see(who: &Who, doc: &Doc) -> bool {
    who.read
        && who.clearance >= doc.level
        && (own(who, doc)
            || (doc.published
                && (doc.releasable.contains(&"ALL") || doc.releasable.contains(&who.country))
                && doc.red_recipients.is_none_or(|r| r.contains(&who.sub))))
}

fn may_change(who: &Who, doc: &Doc) -> bool {
    may_see(who, doc) && who.write && own(who, doc)
}

/// A handling-code request made in the matrix: on `doc`, by `who`.
struct Req {
    id: String,
    doc: usize,
    sub: &'static str,
    org: &'static str,
    country: &'static str,
}

/// A request to the provider: hidden documents are missing, the provider asks nobody (403),
/// anyone else who may see it may ask (`allowed`).
fn request_status(who: &Who, doc: &Doc, allowed: u16) -> u16 {
    if !may_see(who, doc) {
        404
    } else if own(who, doc) {
        403
    } else {
        allowed
    }
}

/// A decision: only the two organisations know the request exists, and only while they may see
/// the document; the provider with write decides (`allowed`), never the requester.
fn decision_status(who: &Who, doc: &Doc, req: &Req) -> u16 {
    let requesting = (who.country, who.org) == (req.country, req.org);
    if !(own(who, doc) || requesting) || !may_see(who, doc) {
        404
    } else if who.sub == req.sub || !may_change(who, doc) {
        403
    } else {
        // The probe's empty note: refused as invalid once every permission holds.
        422
    }
}

/// 404 when hidden, 403 when visible but not changeable, `allowed` otherwise.
fn change_status(who: &Who, doc: &Doc, allowed: u16) -> u16 {
    if !may_see(who, doc) {
        404
    } else if !may_change(who, doc) {
        403
    } else {
        allowed
    }
}

async fn principals(app: &TestApp) -> Vec<Who> {
    let persona = |label, sub: &'static str, org, country, clearance: &'static str, read, write| async move {
        Who { label, token: app.token(sub).await, sub, org, country, clearance: rank(clearance), read, write }
    };
    let custom = |label, sub: &'static str, org, country, clearance: &'static str, roles: &'static [&'static str]| async move {
        let read = roles.iter().any(|r| *r == "analyst" || *r == "reader");
        let write = roles.contains(&"analyst");
        Who {
            label,
            token: app.custom_token(sub, org, country, clearance, roles),
            sub,
            org,
            country,
            clearance: rank(clearance),
            read,
            write,
        }
    };
    vec![
        persona("analyst AL", "analyst-al", "AL-ASP", "AL", "RESTRICTED", true, true).await,
        persona("analyst BA", "analyst-ba", "BA-SIPA", "BA", "SENSITIVE", true, true).await,
        persona("analyst XK", "analyst-xk", "XK-KP", "XK", "RESTRICTED", true, true).await,
        persona("analyst ME", "analyst-me", "ME-UP", "ME", "SENSITIVE", true, true).await,
        persona("analyst MK", "analyst-mk", "MK-MVR", "MK", "RESTRICTED", true, true).await,
        persona("analyst RS (originator org)", "analyst-rs", "RS-MUP", "RS", "CONFIDENTIAL", true, true).await,
        persona("EUROPOL advisor", "advisor-europol", "EUROPOL", "EU", "RESTRICTED", true, true).await,
        persona("auditor", "auditor", "ANASPOC-AUDIT", "EU", "RESTRICTED", false, false).await,
        persona("admin", "admin", "ANASPOC-OPS", "EU", "UNCLASSIFIED", false, false).await,
        custom("RS colleague, read only", "rs-reader", "RS-MUP", "RS", "RESTRICTED", &["reader"]).await,
        custom("RS colleague, low clearance", "rs-junior", "RS-MUP", "RS", "UNCLASSIFIED", &["analyst"]).await,
        custom("AL colleague, not a recipient", "al-second", "AL-ASP", "AL", "RESTRICTED", &["analyst"]).await,
        // Tokens from outside the network's countries are refused outright (identity.rs).
        custom("ME organisation of the same name as RS-MUP", "me-mup", "RS-MUP", "ME", "RESTRICTED", &["analyst"])
            .await,
        custom("RS police, other organisation", "rs-bia", "RS-BIA", "RS", "RESTRICTED", &["analyst"]).await,
    ]
}

async fn documents(app: &TestApp) -> Vec<Doc> {
    let rs = app.token("analyst-rs").await;
    let europol = app.token("advisor-europol").await;
    let make = |token: String, meta: Value| async move {
        create(app, &token, &meta, b"matrix").await["id"].as_str().expect("id").to_owned()
    };
    let base = metadata("Matrix");
    let d_all = make(
        rs.clone(),
        with(
            base.clone(),
            json!({"classification": "UNCLASSIFIED", "tlp": "CLEAR", "handling_code": "H0", "releasable_to": ["ALL"]}),
        ),
    )
    .await;
    let d_restricted =
        make(rs.clone(), with(base.clone(), json!({"classification": "RESTRICTED", "releasable_to": ["BA"]}))).await;
    let d_strict = make(
        rs.clone(),
        with(base.clone(), json!({"tlp": "AMBER+STRICT", "handling_code": "H2", "releasable_to": ["ME", "MK"]})),
    )
    .await;
    let d_red = make(
        rs.clone(),
        with(
            base.clone(),
            json!({"tlp": "RED", "handling_code": "H0", "releasable_to": ["AL", "BA"], "recipients": ["analyst-al"]}),
        ),
    )
    .await;
    let d_draft =
        make(rs.clone(), with(base.clone(), json!({"tlp": "GREEN", "releasable_to": ["ALL"], "publish": false}))).await;
    let d_withdrawn = make(rs.clone(), with(base.clone(), json!({"tlp": "GREEN", "releasable_to": ["ALL"]}))).await;
    assert_eq!(post(app, &rs, &format!("/api/v1/documents/{d_withdrawn}/withdraw")).await.status(), 200);
    let d_h3 = make(europol, with(base, json!({"classification": "UNCLASSIFIED", "tlp": "GREEN", "handling_code": "H3", "handling_note": "Training use only.", "releasable_to": ["ALL"]}))).await;
    vec![
        Doc {
            label: "UNCLASSIFIED CLEAR to ALL",
            id: d_all,
            level: 0,
            org: "RS-MUP",
            country: "RS",
            releasable: &["ALL"],
            red_recipients: None,
            published: true,
            status: "published",
        },
        Doc {
            label: "RESTRICTED AMBER to BA",
            id: d_restricted,
            level: 2,
            org: "RS-MUP",
            country: "RS",
            releasable: &["BA", "RS"],
            red_recipients: None,
            published: true,
            status: "published",
        },
        Doc {
            label: "SENSITIVE AMBER+STRICT to ME MK",
            id: d_strict,
            level: 1,
            org: "RS-MUP",
            country: "RS",
            releasable: &["ME", "MK", "RS"],
            red_recipients: None,
            published: true,
            status: "published",
        },
        Doc {
            label: "SENSITIVE RED to AL BA for analyst-al",
            id: d_red,
            level: 1,
            org: "RS-MUP",
            country: "RS",
            releasable: &["AL", "BA", "RS"],
            red_recipients: Some(&["analyst-al"]),
            published: true,
            status: "published",
        },
        Doc {
            label: "SENSITIVE draft",
            id: d_draft,
            level: 1,
            org: "RS-MUP",
            country: "RS",
            releasable: &["ALL"],
            red_recipients: None,
            published: false,
            status: "draft",
        },
        Doc {
            label: "SENSITIVE withdrawn",
            id: d_withdrawn,
            level: 1,
            org: "RS-MUP",
            country: "RS",
            releasable: &["ALL"],
            red_recipients: None,
            published: false,
            status: "withdrawn",
        },
        Doc {
            label: "EUROPOL H3 to ALL",
            id: d_h3,
            level: 0,
            org: "EUROPOL",
            country: "EU",
            releasable: &["ALL"],
            red_recipients: None,
            published: true,
            status: "published",
        },
    ]
}

/// Status, content type and body: what a client can observe of a refusal.
async fn observe(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().expect("ascii").to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.expect("body"))
}

async fn every_principal_against_every_document(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| {
        s.policy.roles.insert("reader".into(), [anaspoc::policy::Capability::DocumentRead].into());
    })
    .await;
    let whos = principals(&app).await;
    let docs = documents(&app).await;

    // One sanitised-version request on each published document, by the first principal who may
    // see it and is not of its provider.
    let mut reqs = Vec::new();
    for (index, doc) in docs.iter().enumerate().filter(|(_, doc)| doc.published) {
        let who = whos.iter().find(|who| may_see(who, doc) && !own(who, doc)).expect("a reader outside");
        let body = json!({"kind": "sanitised-version", "justification": "Matrix"});
        let asked = post_json(&app, &who.token, &format!("/api/v1/documents/{}/requests", doc.id), &body).await;
        let asked: Value = asked.json().await.expect("json");
        let id = asked["id"].as_str().unwrap_or_else(|| panic!("{}: {asked}", doc.label)).to_owned();
        reqs.push(Req { id, doc: index, sub: who.sub, org: who.org, country: who.country });
    }

    let missing = uuid::Uuid::new_v4();
    let probe_request = json!({"kind": "sanitised-version", "justification": ""});
    let probe_decision = json!({"decision": "approve", "note": ""});
    let probe_derivative = with(metadata(""), json!({}));
    let mut checked = 0;
    for who in &whos {
        let not_found = observe(app.get_as(&who.token, &format!("/api/v1/documents/{missing}")).await).await;
        assert_eq!(not_found.0, 404);
        let missing_path = format!("/api/v1/documents/{missing}/requests");
        let request_missing = observe(post_json(&app, &who.token, &missing_path, &probe_request).await).await;
        assert_eq!(request_missing, not_found, "{}: a request on a missing document", who.label);
        let derivative_missing =
            observe(derive(&app, &who.token, &missing.to_string(), &probe_derivative, b"x").await).await;
        assert_eq!(derivative_missing, not_found, "{}: a derivative of a missing document", who.label);
        let decision_missing = observe(
            post_json(&app, &who.token, &format!("/api/v1/requests/{missing}/decision"), &probe_decision).await,
        )
        .await;
        assert_eq!(decision_missing, not_found, "{}: a decision on no request", who.label);
        for doc in &docs {
            let case = format!("{} × {}", who.label, doc.label);
            let see = may_see(who, doc);
            let base = format!("/api/v1/documents/{}", doc.id);

            let metadata = observe(app.get_as(&who.token, &base).await).await;
            let content = observe(app.get_as(&who.token, &format!("{base}/content")).await).await;
            let version_one = observe(app.get_as(&who.token, &format!("{base}/content?version=1")).await).await;
            if see {
                assert_eq!(metadata.0, 200, "{case}: metadata");
                let body: Value = serde_json::from_str(&metadata.2).expect("json");
                assert_eq!(body["status"], doc.status, "{case}");
                assert_eq!(body["can_change"], may_change(who, doc), "{case}: can_change");
                assert_eq!((content.0, content.2.as_str()), (200, "matrix"), "{case}: content");
                assert_eq!(version_one.0, 200, "{case}: version 1");
            } else {
                // Hidden answers exactly like missing: status, type and body.
                assert_eq!(metadata, not_found, "{case}: metadata of a hidden document");
                assert_eq!(content, not_found, "{case}: content of a hidden document");
                assert_eq!(version_one, not_found, "{case}: a version of a hidden document");
            }

            // Change operations, probed without changing anything: an empty title (422 when
            // permitted) and an empty file (422 when permitted).
            let patched = observe(patch(&app, &who.token, &doc.id, &json!({"title": ""})).await).await;
            assert_eq!(patched.0, change_status(who, doc, 422), "{case}: PATCH");
            let versioned = observe(add_version(&app, &who.token, &doc.id, Vec::new(), "empty.txt").await).await;
            assert_eq!(versioned.0, change_status(who, doc, 422), "{case}: new version");
            // Publishing a published document and withdrawing a withdrawn one change nothing.
            if doc.status == "published" || !may_change(who, doc) {
                let published = observe(post(&app, &who.token, &format!("{base}/publish")).await).await;
                assert_eq!(published.0, change_status(who, doc, 200), "{case}: publish");
            }
            if doc.status == "withdrawn" || !may_change(who, doc) {
                let withdrawn = observe(post(&app, &who.token, &format!("{base}/withdraw")).await).await;
                assert_eq!(withdrawn.0, change_status(who, doc, 200), "{case}: withdraw");
            }
            // Requests and derivatives, probed the same way: an empty justification, an empty
            // title (422 when permitted).
            let requested =
                observe(post_json(&app, &who.token, &format!("{base}/requests"), &probe_request).await).await;
            assert_eq!(requested.0, request_status(who, doc, 422), "{case}: request {}", requested.2);
            let derived = observe(derive(&app, &who.token, &doc.id, &probe_derivative, b"x").await).await;
            assert_eq!(derived.0, change_status(who, doc, 422), "{case}: derivative {}", derived.2);
            for refused in [&patched, &versioned, &requested, &derived].into_iter().filter(|r| r.0 == 404) {
                assert_eq!(refused, &not_found, "{case}: a refusal reveals nothing");
            }
            checked += 1;
        }

        // Decisions on every request, and the boxes.
        for req in &reqs {
            let doc = &docs[req.doc];
            let case = format!("{} deciding a request of {} on {}", who.label, req.sub, doc.label);
            let path = format!("/api/v1/requests/{}/decision", req.id);
            let decided = observe(post_json(&app, &who.token, &path, &probe_decision).await).await;
            assert_eq!(decided.0, decision_status(who, doc, req), "{case}: {}", decided.2);
            if decided.0 == 404 {
                assert_eq!(decided, decision_missing, "{case}: an unknown request reveals nothing");
            }
        }
        let listed = |query: &'static str| {
            let token = who.token.clone();
            let app = &app;
            async move {
                let response = app.get_as(&token, &format!("/api/v1/requests?box={query}")).await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("json");
                let mut ids: Vec<String> = body["items"]
                    .as_array()
                    .map(|items| items.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                ids.sort();
                (status, ids)
            }
        };
        let expected = |mine: &dyn Fn(&Req) -> bool, allowed: bool| {
            let mut ids: Vec<String> = reqs.iter().filter(|r| mine(r)).map(|r| r.id.clone()).collect();
            ids.sort();
            if allowed { (200, ids) } else { (403, Vec::new()) }
        };
        let provided = |r: &Req| own(who, &docs[r.doc]);
        let made = |r: &Req| (who.country, who.org) == (r.country, r.org);
        assert_eq!(listed("incoming").await, expected(&provided, who.write), "{}: incoming box", who.label);
        assert_eq!(listed("outgoing").await, expected(&made, who.read), "{}: outgoing box", who.label);
    }
    assert_eq!(checked, whos.len() * docs.len());
    eprintln!(
        "access matrix: {} principals × {} documents = {checked} pairs, 8–9 operations each; × {} requests",
        whos.len(),
        docs.len(),
        reqs.len()
    );

    // The matrix left every document as it was.
    let rs = app.token("analyst-rs").await;
    for doc in &docs {
        let body: Value = app.get_as(&rs, &format!("/api/v1/documents/{}", doc.id)).await.json().await.expect("json");
        if doc.org == "RS-MUP" {
            assert_eq!(body["status"], doc.status, "{}", doc.label);
            assert_eq!(body["current_version"], 1, "{}", doc.label);
            assert_eq!(body["title"], "Matrix", "{}", doc.label);
        }
    }
}

/// Ids that are not quite an id — padded, NUL, oversized — are missing documents: the same 404
/// on SQLite and PostgreSQL, and a padded id changes nothing even for the originator.
async fn malformed_ids_answer_like_missing(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let created = create(&app, &rs, &metadata("Padded"), b"padded").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let not_found = observe(app.get_as(&rs, &format!("/api/v1/documents/{}", uuid::Uuid::new_v4())).await).await;
    assert_eq!(not_found.0, 404);
    let long = "a".repeat(300);
    for odd in [format!("%20{id}"), format!("{id}%20"), "%00".to_owned(), format!("{id}%00"), long] {
        let base = format!("/api/v1/documents/{odd}");
        assert_eq!(observe(app.get_as(&rs, &base).await).await, not_found, "GET {odd}");
        assert_eq!(observe(app.get_as(&rs, &format!("{base}/content")).await).await, not_found, "content {odd}");
        let patched = observe(patch(&app, &rs, &odd, &json!({"title": "changed"})).await).await;
        assert_eq!(patched, not_found, "PATCH {odd}");
        let withdrawn = observe(post(&app, &rs, &format!("{base}/withdraw")).await).await;
        assert_eq!(withdrawn, not_found, "withdraw {odd}");
    }
    let body: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    assert_eq!((body["title"].as_str(), body["status"].as_str()), (Some("Padded"), Some("published")));
}

/// A stored list (releasability, recipients, tags) that is no longer a JSON array is corruption:
/// the document fails closed — hidden from everyone, even its originator, exactly like a missing
/// one, never read with the list as empty (which would change who may see it) — loudly (each
/// refusal is audited as unreadable), and every other document is unaffected.
async fn corrupt_stored_lists_fail_closed_and_loudly(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let released = json!({"releasable_to": ["BA"], "tags": ["route"]});
    let mut ids = Vec::new();
    for title in ["Corrupt releasability", "Corrupt tags", "Healthy"] {
        let created = create(&app, &rs, &with(metadata(title), released.clone()), b"Drina crossing").await;
        let id = created["id"].as_str().expect("id").to_owned();
        crate::search::wait_until_ingested(&app, &rs, &id).await;
        ids.push(id);
    }
    let (releasability, tags, healthy) = (&ids[0], &ids[1], &ids[2]);
    for (column, id) in [("releasable_to", releasability), ("tags", tags)] {
        let sql = format!("UPDATE documents SET {column} = '[\"BA\"' WHERE id = '{id}'");
        app.db.execute_unprepared(&sql).await.expect("corrupt the row");
    }

    let missing = uuid::Uuid::new_v4().to_string();
    let ba = app.token("analyst-ba").await;
    let al = app.token("analyst-al").await;
    for token in [&rs, &ba, &al] {
        let expected = observe(app.get_as(token, &format!("/api/v1/documents/{missing}")).await).await;
        for id in [releasability, tags] {
            let answer = observe(app.get_as(token, &format!("/api/v1/documents/{id}")).await).await;
            assert_eq!(answer, expected, "answers like a missing document");
            let content = observe(app.get_as(token, &format!("/api/v1/documents/{id}/content")).await).await;
            assert_eq!(content.0, 404);
        }
    }
    assert_eq!(app.get_as(&ba, &format!("/api/v1/documents/{healthy}")).await.status(), 200);
    let events = crate::audit::all_events(&app).await;
    let refused = events
        .iter()
        .filter(|e| e.target.document_id.as_deref() == Some(releasability.as_str()))
        .filter(|e| e.details["reason"] == "unreadable_markings")
        .count();
    assert_eq!(refused, 6, "each refusal recorded (view and download, three callers)");

    // Search: the index still holds the corrupt rows, but the re-check drops them, uncounted.
    let found: Value = app.get_as(&ba, "/api/v1/search?q=drina").await.json().await.expect("json");
    let hits: Vec<&str> = found["hits"].as_array().expect("hits").iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(hits, [healthy.as_str()], "{found}");
    assert_eq!(found["total"], 1);
}

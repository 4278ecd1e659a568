//! Handling-code requests (issue 16) on both backends: a reader asks the provider (judicial use
//! of H1, dissemination of H2 to a named recipient, a sanitised version of anything), the
//! provider decides once, a derivative answers a sanitised-version request and links to its
//! source only for those who may see the source; the repository's boxes; withdrawing a document
//! closes its open requests. The access matrix over these routes is in documents/access_matrix.rs.

use anaspoc::db::entities::handling_request;
use anaspoc::db::requests::{self, Decided, RequestBox};
use anaspoc::policy::organisation_key;
use serde_json::json;

use crate::documents::{create, derive, metadata, post_json, problem, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    requests_are_listed_per_organisation_and_decided_once,
    withdrawing_a_document_closes_its_open_requests,
    judicial_use_is_asked_decided_once_and_held_as_written_permission,
    a_sanitised_version_is_answered_by_a_derivative_that_stands_on_its_own,
    requests_on_hidden_documents_answer_like_missing_ones,
    derivatives_are_listed_only_to_their_readers
);

fn request(id: &str, document_id: &str, kind: &str, at: chrono::DateTime<chrono::Utc>) -> handling_request::Model {
    handling_request::Model {
        id: id.into(),
        document_id: document_id.into(),
        kind: kind.into(),
        status: requests::PENDING.into(),
        justification: "Indictment of the Bar port network".into(),
        case_reference: Some("KT-112/26".into()),
        recipient_organisation: None,
        recipient_country: None,
        requester_sub: "analyst-ba".into(),
        requester_name: "Analyst BA".into(),
        requester_organisation: "BA-SIPA".into(),
        requester_country: "BA".into(),
        requester_key: organisation_key("BA", "BA-SIPA"),
        provider_key: organisation_key("RS", "RS-MUP"),
        created_at: at,
        decided_at: None,
        decided_by: None,
        decision_note: None,
        derivative_id: None,
    }
}

/// An app with one published H1 document of analyst-rs (RS-MUP): the app, the provider's token,
/// the document's id, and now to the microsecond (what PostgreSQL keeps of a timestamp).
async fn provider_document(backend: Backend) -> (TestApp, String, String, chrono::DateTime<chrono::Utc>) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let document = create(&app, &rs, &with(metadata("Bar port"), json!({"handling_code": "H1"})), b"Luka Bar").await;
    let id = document["id"].as_str().expect("id").to_owned();
    (app, rs, id, chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6))
}

async fn requests_are_listed_per_organisation_and_decided_once(backend: Backend) {
    let (app, _, document_id, now) = provider_document(backend).await;
    let document_id = document_id.as_str();
    let first = requests::insert(&app.db, request("r-1", document_id, "judicial-use", now)).await.expect("insert");
    let later = now + chrono::Duration::seconds(1);
    requests::insert(&app.db, request("r-2", document_id, "sanitised-version", later)).await.expect("insert");
    assert_eq!(requests::find(&app.db, "r-1").await.expect("find"), Some(first.clone()), "stored as given");

    let incoming = RequestBox::Incoming(organisation_key("RS", "RS-MUP"));
    let ids = |rows: Vec<handling_request::Model>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(requests::list(&app.db, &incoming, None, 10).await.expect("list")), ["r-2", "r-1"], "newest first");
    let outgoing = RequestBox::Outgoing(organisation_key("BA", "BA-SIPA"));
    assert_eq!(ids(requests::list(&app.db, &outgoing, Some(requests::PENDING), 10).await.expect("list")).len(), 2);
    for other in [
        RequestBox::Incoming(organisation_key("BA", "BA-SIPA")),
        RequestBox::Outgoing(organisation_key("ME", "BA-SIPA")),
    ] {
        assert!(requests::list(&app.db, &other, None, 10).await.expect("list").is_empty(), "{other:?}");
    }

    let approve = |by: &'static str| Decided {
        status: requests::APPROVED,
        decided_by: by,
        note: "Approved for KT-112/26",
        derivative_id: None,
        at: later,
    };
    assert!(requests::decide(&app.db, "r-1", approve("provider-rs")).await.expect("decide"));
    let deny =
        Decided { status: requests::DENIED, decided_by: "someone-else", note: "No", derivative_id: None, at: later };
    assert!(!requests::decide(&app.db, "r-1", deny).await.expect("decide"), "decided once");
    let decided = requests::find(&app.db, "r-1").await.expect("find").expect("row");
    assert_eq!((decided.status.as_str(), decided.decided_by.as_deref()), (requests::APPROVED, Some("provider-rs")));
    assert_eq!(ids(requests::list(&app.db, &incoming, Some(requests::PENDING), 10).await.expect("list")), ["r-2"]);

    // The document withdrawn: what is still open closes, what was decided stays.
    assert_eq!(requests::close_open_on(&app.db, document_id, later).await.expect("close"), 1);
    assert_eq!(requests::find(&app.db, "r-2").await.expect("find").expect("row").status, requests::WITHDRAWN);
    assert_eq!(requests::find(&app.db, "r-1").await.expect("find").expect("row").status, requests::APPROVED);
    assert!(!requests::decide(&app.db, "r-2", approve("provider-rs")).await.expect("decide"), "closed is final");
}

async fn withdrawing_a_document_closes_its_open_requests(backend: Backend) {
    let (app, rs, id, now) = provider_document(backend).await;
    let id = id.as_str();
    requests::insert(&app.db, request("open", id, "judicial-use", now)).await.expect("insert");
    requests::insert(&app.db, request("decided", id, "sanitised-version", now)).await.expect("insert");
    let denied =
        Decided { status: requests::DENIED, decided_by: "provider-rs", note: "No", derivative_id: None, at: now };
    assert!(requests::decide(&app.db, "decided", denied).await.expect("decide"));

    let withdrawn = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/withdraw")))
        .bearer_auth(&rs)
        .send()
        .await
        .expect("withdraw");
    assert_eq!(withdrawn.status(), 200);
    let status = |id: &'static str| {
        let db = app.db.clone();
        async move { requests::find(&db, id).await.expect("find").expect("row").status }
    };
    assert_eq!(status("open").await, requests::WITHDRAWN);
    assert_eq!(status("decided").await, requests::DENIED, "a decision stands");

    let auditor = app.token("auditor").await;
    let trail: serde_json::Value = app
        .get_as(&auditor, &format!("/api/v1/audit?action=document.withdraw&document={id}"))
        .await
        .json()
        .await
        .expect("json");
    let event = &trail["events"][0];
    assert_eq!(event["details"]["closed_requests"], 1, "{trail}");
}

/// `POST /api/v1/documents/{id}/requests`.
async fn ask(app: &TestApp, token: &str, document: &str, body: serde_json::Value) -> reqwest::Response {
    post_json(app, token, &format!("/api/v1/documents/{document}/requests"), &body).await
}

/// `POST /api/v1/requests/{id}/decision`.
async fn answer(app: &TestApp, token: &str, request: &str, body: serde_json::Value) -> reqwest::Response {
    post_json(app, token, &format!("/api/v1/requests/{request}/decision"), &body).await
}

async fn json_of(response: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = response.status();
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(actual, status, "{body}");
    body
}

/// The ids of a request box as `token` sees it.
async fn request_box(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let listed = json_of(app.get_as(token, &format!("/api/v1/requests?{query}")).await, 200).await;
    listed["items"].as_array().expect("items").iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect()
}

async fn judicial_use_is_asked_decided_once_and_held_as_written_permission(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let ba = app.token("analyst-ba").await;
    let marked = with(metadata("Vlora speedboats"), json!({"handling_code": "H1", "releasable_to": ["AL", "BA"]}));
    let document = create(&app, &rs, &marked, b"Speedboats leave Vlora at night").await;
    let id = document["id"].as_str().expect("id");

    // A kind that does not fit the code, and the provider asking itself, are refused.
    let misfit = ask(&app, &al, id, json!({"kind": "dissemination", "justification": "x", "recipient": {"organisation": "Prokuroria", "country": "AL"}})).await;
    assert_eq!(problem(misfit, 422).await["field"], "kind");
    let unknown = ask(&app, &al, id, json!({"kind": "permission", "justification": "x"})).await;
    assert_eq!(problem(unknown, 422).await["field"], "kind");
    let own = ask(&app, &rs, id, json!({"kind": "judicial-use", "justification": "x"})).await;
    assert_eq!(problem(own, 403).await["type"], "urn:anaspoc:problem:forbidden");
    let blank = ask(&app, &al, id, json!({"kind": "judicial-use", "justification": "  "})).await;
    assert_eq!(problem(blank, 422).await["field"], "justification");

    let asked = ask(
        &app,
        &al,
        id,
        json!({"kind": "judicial-use", "justification": "Indictment of the Vlora cell", "case_reference": "PR-77/26"}),
    )
    .await;
    let request = json_of(asked, 201).await;
    let request_id = request["id"].as_str().expect("id").to_owned();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["kind"], "judicial-use");
    assert_eq!(request["document_id"], id);
    assert_eq!(
        request["requester"],
        json!({"sub": "analyst-al", "name": request["requester"]["name"], "organisation": "AL-ASP", "country": "AL"})
    );

    // Only the two organisations see it: the provider's incoming box, the requester's outgoing.
    assert_eq!(request_box(&app, &rs, "box=incoming&status=pending").await, [request_id.as_str()]);
    assert_eq!(request_box(&app, &al, "box=outgoing").await, [request_id.as_str()]);
    assert!(request_box(&app, &al, "box=incoming").await.is_empty());
    assert!(request_box(&app, &ba, "box=outgoing").await.is_empty());
    assert!(request_box(&app, &rs, "box=incoming&status=approved").await.is_empty());
    let listed = json_of(app.get_as(&rs, "/api/v1/requests?box=incoming").await, 200).await;
    assert_eq!(listed["items"][0]["document_title"], "Vlora speedboats");
    assert_eq!(listed["items"][0]["case_reference"], "PR-77/26");
    let auditor = app.token("auditor").await;
    problem(app.get_as(&auditor, "/api/v1/requests?box=incoming").await, 403).await;
    problem(app.get_as(&rs, "/api/v1/requests").await, 400).await;

    // Outsiders are answered as if there were no such request; the requester's side may not decide.
    let approve = json!({"decision": "approve", "note": "Approved for PR-77/26 only."});
    let nobody = answer(&app, &ba, &uuid::Uuid::new_v4().to_string(), approve.clone()).await;
    let outsider = answer(&app, &ba, &request_id, approve.clone()).await;
    let (nobody, outsider) = (nobody.text().await.expect("body"), outsider.text().await.expect("body"));
    assert_eq!(outsider, nobody, "an outsider learns nothing");
    assert_eq!(
        problem(answer(&app, &al, &request_id, approve.clone()).await, 403).await["type"],
        "urn:anaspoc:problem:forbidden"
    );
    let colleague = app.custom_token("al-chief", "AL-ASP", "AL", "RESTRICTED", &["analyst"]);
    problem(answer(&app, &colleague, &request_id, approve.clone()).await, 403).await;
    let rs_colleague = app.custom_token("rs-chief", "RS-MUP", "RS", "RESTRICTED", &["analyst"]);
    let no_note = answer(&app, &rs_colleague, &request_id, json!({"decision": "approve", "note": " "})).await;
    assert_eq!(problem(no_note, 422).await["field"], "note");
    let with_derivative =
        answer(&app, &rs, &request_id, json!({"decision": "approve", "note": "ok", "derivative_id": id})).await;
    assert_eq!(problem(with_derivative, 422).await["field"], "derivative_id");

    let decided = json_of(answer(&app, &rs, &request_id, approve.clone()).await, 200).await;
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["decided_by"], "analyst-rs");
    assert_eq!(decided["decision_note"], "Approved for PR-77/26 only.");
    let again = answer(&app, &rs_colleague, &request_id, json!({"decision": "deny", "note": "No."})).await;
    assert_eq!(problem(again, 409).await["type"], "urn:anaspoc:problem:already-decided");

    // The requester's organisation holds the written permission on the document; others do not.
    let seen = json_of(app.get_as(&colleague, &format!("/api/v1/documents/{id}")).await, 200).await;
    assert_eq!(seen["permissions"][0]["id"], request_id.as_str(), "{seen}");
    assert_eq!(seen["permissions"][0]["decision_note"], "Approved for PR-77/26 only.");
    let other = json_of(app.get_as(&ba, &format!("/api/v1/documents/{id}")).await, 200).await;
    assert_eq!(other["permissions"], json!([]));

    // Audited with the markings at the time, the refusals too.
    let trail = json_of(app.get_as(&auditor, &format!("/api/v1/audit?document={id}&limit=200")).await, 200).await;
    let events = trail["events"].as_array().expect("events");
    let find = |action: &str, outcome: &str| {
        events.iter().filter(|e| e["action"] == action && e["outcome"] == outcome).collect::<Vec<_>>()
    };
    let created = find("request.create", "allowed");
    assert_eq!(created.len(), 1, "{trail}");
    assert_eq!(created[0]["details"]["request"], request_id.as_str());
    assert_eq!(created[0]["details"]["markings"]["handling_code"], "H1");
    assert_eq!(created[0]["details"]["justification"], "Indictment of the Vlora cell");
    let decided = find("request.decide", "allowed");
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0]["details"]["decision"], "approve");
    assert_eq!(decided[0]["details"]["markings"]["classification"], "SENSITIVE");
    assert_eq!(find("request.create", "denied").len(), 1, "the provider asking itself");
    assert_eq!(
        find("request.decide", "denied").len(),
        3,
        "an outsider, the requester and a colleague of theirs refused: {trail}"
    );
    assert_eq!(find("request.decide", "error").len(), 1, "decided twice");
}

async fn a_sanitised_version_is_answered_by_a_derivative_that_stands_on_its_own(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let ba = app.token("analyst-ba").await;
    let source = create(
        &app,
        &rs,
        &with(
            metadata("Drina crossings, full report"),
            json!({"classification": "RESTRICTED", "handling_code": "H2", "releasable_to": ["AL"]}),
        ),
        b"Informant Marko says the Zvornik crossing is used on Tuesdays",
    )
    .await;
    let source_id = source["id"].as_str().expect("id").to_owned();

    // A dissemination names to whom, in the network.
    let bare = ask(&app, &al, &source_id, json!({"kind": "dissemination", "justification": "Joint team"})).await;
    assert_eq!(problem(bare, 422).await["field"], "recipient");
    let abroad = json!({"kind": "dissemination", "justification": "Joint team", "recipient": {"organisation": "BKA", "country": "DE"}});
    assert_eq!(problem(ask(&app, &al, &source_id, abroad).await, 422).await["field"], "recipient.country");
    let to_ba = json!({"kind": "dissemination", "justification": "Joint team", "recipient": {"organisation": "BA-SIPA", "country": "ba"}});
    let dissemination = json_of(ask(&app, &al, &source_id, to_ba).await, 201).await;
    assert_eq!(dissemination["recipient"], json!({"organisation": "BA-SIPA", "country": "BA"}));
    let sanitised = json_of(
        ask(&app, &al, &source_id, json!({"kind": "sanitised-version", "justification": "To share with BA-SIPA"}))
            .await,
        201,
    )
    .await;
    let sanitised_id = sanitised["id"].as_str().expect("id").to_owned();

    // Only the provider derives; a reader of another organisation may not, a stranger finds nothing.
    let lowered = with(
        metadata("Drina crossings (sanitised)"),
        json!({"classification": "SENSITIVE", "handling_code": "H0", "releasable_to": ["ALL"]}),
    );
    problem(derive(&app, &al, &source_id, &lowered, b"tear line").await, 403).await;
    let hidden = derive(&app, &ba, &source_id, &lowered, b"tear line").await.text().await.expect("body");
    let missing = derive(&app, &ba, &uuid::Uuid::new_v4().to_string(), &lowered, b"tear line").await;
    assert_eq!(hidden, missing.text().await.expect("body"), "hidden answers like missing");

    // Approving a sanitised-version request names its derivative, and a real one.
    let approve = |derivative: Option<&str>| json!({"decision": "approve", "note": "Released as sanitised.", "derivative_id": derivative});
    assert_eq!(problem(answer(&app, &rs, &sanitised_id, approve(None)).await, 422).await["field"], "derivative_id");
    let unrelated = create(&app, &rs, &metadata("Unrelated"), b"unrelated").await;
    let not_derived = answer(&app, &rs, &sanitised_id, approve(unrelated["id"].as_str())).await;
    assert_eq!(problem(not_derived, 422).await["field"], "derivative_id");

    // A derivative the requester could not read does not answer their request.
    let unreleased = with(lowered.clone(), json!({"releasable_to": ["BA"]}));
    let elsewhere = json_of(derive(&app, &rs, &source_id, &unreleased, b"for Sarajevo").await, 201).await;
    let not_theirs = answer(&app, &rs, &sanitised_id, approve(elsewhere["id"].as_str())).await;
    let refused = problem(not_theirs, 422).await;
    assert_eq!(refused["field"], "derivative_id");
    assert!(refused["detail"].as_str().expect("detail").contains("does not reach the requester"), "{refused}");

    let derivative =
        json_of(derive(&app, &rs, &source_id, &lowered, b"The Zvornik crossing is used weekly").await, 201).await;
    let derivative_id = derivative["id"].as_str().expect("id").to_owned();
    assert_eq!(derivative["derived_from"], source_id.as_str());
    assert_eq!(derivative["markings"]["classification"], "SENSITIVE");
    let decided = json_of(answer(&app, &rs, &sanitised_id, approve(Some(&derivative_id))).await, 200).await;
    assert_eq!(decided["derivative_id"], derivative_id.as_str());

    // Who may see the source sees the link both ways; a reader of the derivative alone learns
    // nothing of the source, not even that it exists — and finds the derivative by its text.
    let at_al = json_of(app.get_as(&al, &format!("/api/v1/documents/{derivative_id}")).await, 200).await;
    assert_eq!(at_al["derived_from"], source_id.as_str());
    let source_at_al = json_of(app.get_as(&al, &format!("/api/v1/documents/{source_id}")).await, 200).await;
    assert_eq!(source_at_al["derivatives"][0]["id"], derivative_id.as_str());
    assert_eq!(source_at_al["permissions"][0]["derivative_id"], derivative_id.as_str());
    let at_ba = crate::search::wait_until_ingested(&app, &ba, &derivative_id).await;
    assert!(at_ba.get("derived_from").is_none(), "{at_ba}");
    assert!(!at_ba.to_string().contains(&source_id), "nothing of the source: {at_ba}");
    let found = crate::search::search(&app, &ba, "q=zvornik").await;
    let hits: Vec<&str> = found["hits"].as_array().expect("hits").iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(hits, [derivative_id.as_str()], "{found}");

    // Withdrawing the source closes the open dissemination request; the derivative stands.
    let withdrawn = post_json(&app, &rs, &format!("/api/v1/documents/{source_id}/withdraw"), &json!({})).await;
    assert_eq!(withdrawn.status(), 200);
    let closed =
        answer(&app, &rs, dissemination["id"].as_str().expect("id"), json!({"decision": "approve", "note": "late"}))
            .await;
    assert_eq!(problem(closed, 409).await["detail"], "The request is withdrawn already: a request is decided once.");
    assert_eq!(app.get_as(&ba, &format!("/api/v1/documents/{derivative_id}")).await.status(), 200);
    let at_al = json_of(app.get_as(&al, &format!("/api/v1/documents/{derivative_id}")).await, 200).await;
    assert!(at_al.get("derived_from").is_none(), "the withdrawn source is no longer shown: {at_al}");
    let outgoing = json_of(app.get_as(&al, "/api/v1/requests?box=outgoing").await, 200).await;
    let statuses: Vec<&str> =
        outgoing["items"].as_array().expect("items").iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, ["approved", "withdrawn"], "{outgoing}");
    assert!(outgoing["items"][1].get("document_title").is_none(), "no title of a document al may no longer see");

    // The derivative's creation is audited with the source's markings.
    let auditor = app.token("auditor").await;
    let trail = json_of(
        app.get_as(&auditor, &format!("/api/v1/audit?document={derivative_id}&action=document.create")).await,
        200,
    )
    .await;
    let details = &trail["events"][0]["details"];
    assert_eq!(details["derived_from"]["id"], source_id.as_str(), "{trail}");
    assert_eq!(details["derived_from"]["markings"]["classification"], "RESTRICTED");
}

async fn requests_on_hidden_documents_answer_like_missing_ones(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let mk = app.token("analyst-mk").await;
    let document = create(&app, &rs, &with(metadata("Ohrid"), json!({"handling_code": "H1"})), b"Ohrid").await;
    let id = document["id"].as_str().expect("id");
    let body = json!({"kind": "judicial-use", "justification": "Case"});
    let observe = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    };
    let hidden = observe(ask(&app, &mk, id, body.clone()).await).await;
    let missing = observe(ask(&app, &mk, &uuid::Uuid::new_v4().to_string(), body.clone()).await).await;
    let malformed = observe(ask(&app, &mk, "not-an-id", body).await).await;
    assert_eq!(hidden.0, 404);
    assert_eq!(hidden, missing);
    assert_eq!(hidden, malformed);
    let auditor = app.token("auditor").await;
    let trail =
        json_of(app.get_as(&auditor, &format!("/api/v1/audit?document={id}&action=request.create")).await, 200).await;
    assert_eq!(trail["events"][0]["outcome"], "denied", "the attempt is audited: {trail}");
    assert_eq!(trail["events"][0]["details"]["hidden"], true);
}

async fn derivatives_are_listed_only_to_their_readers(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let al = app.token("analyst-al").await;
    let ba = app.token("analyst-ba").await;
    let released = json!({"releasable_to": ["AL", "BA"], "handling_code": "H2"});
    let source = create(&app, &rs, &with(metadata("Bar port"), released), b"Bar port").await;
    let source_id = source["id"].as_str().expect("id");
    let for_al = with(
        metadata("Bar port, for Tirana"),
        json!({"tlp": "RED", "recipients": ["analyst-al"], "releasable_to": ["AL", "BA"], "handling_code": "H0"}),
    );
    let red = json_of(derive(&app, &rs, source_id, &for_al, b"for Tirana").await, 201).await;
    let draft = with(metadata("Bar port, draft"), json!({"publish": false}));
    let drafted = json_of(derive(&app, &rs, source_id, &draft, b"draft").await, 201).await;
    let listed = |token: String| {
        let app = &app;
        async move {
            let source = json_of(app.get_as(&token, &format!("/api/v1/documents/{source_id}")).await, 200).await;
            source["derivatives"]
                .as_array()
                .expect("derivatives")
                .iter()
                .map(|d| d["id"].as_str().expect("id").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let (red_id, draft_id) = (red["id"].as_str().expect("id"), drafted["id"].as_str().expect("id"));
    assert_eq!(listed(rs.clone()).await, [red_id, draft_id], "the provider sees both");
    assert_eq!(listed(al.clone()).await, [red_id], "the recipient sees the RED one, not the draft");
    assert!(listed(ba.clone()).await.is_empty(), "BA is no recipient and sees no draft");
}

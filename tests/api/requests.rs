//! Handling-code requests (issue 16). So far: the repository on both backends — boxes per
//! organisation, a request decided once — and withdrawing a document closes its open requests,
//! in the same transaction, audited with the withdrawal.

use anaspoc::db::entities::handling_request;
use anaspoc::db::requests::{self, Decided, RequestBox};
use anaspoc::policy::organisation_key;
use serde_json::json;

use crate::documents::{create, metadata, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    requests_are_listed_per_organisation_and_decided_once,
    withdrawing_a_document_closes_its_open_requests
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

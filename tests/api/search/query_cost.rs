//! What one query may cost: over a cap — length, terms, ranges, nesting — the search is refused
//! with 422 naming the limit, before it runs; within the caps it answers as before. The caps
//! are configuration.

use serde_json::Value;

use super::{q, search, wait_until_ingested};
use crate::documents::{metadata, problem, upload};
use crate::helpers::TestApp;

async fn refused(app: &TestApp, token: &str, text: &str) -> Value {
    let response = app.get_as(token, &format!("/api/v1/search?q={}", q(text))).await;
    let body = problem(response, 422).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:query-too-costly", "{text:.60}: {body}");
    assert_eq!(body["field"], "q", "{body}");
    body
}

#[tokio::test]
async fn costly_queries_are_refused_naming_the_limit() {
    let app = TestApp::spawn_with(|s| s.search.max_query_terms = 8).await;
    let rs = app.token("analyst-rs").await;
    let response = upload(&app, &rs, &metadata("Трговина људима"), "Трговина људима у Београду".into(), "a.txt").await;
    let id = response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    wait_until_ingested(&app, &rs, &id).await;

    let words: Vec<String> = (0..9).map(|n| format!("w{n}")).collect();
    let cases = [
        ("x".repeat(1001), "search.max_query_chars"),
        (words.join(" "), "search.max_query_terms"),
        (format!("\"{}\"", words.join(" ")), "search.max_query_terms"),
        ("body:[a TO z]".to_owned(), "no_range_queries"),
        ("title:*".to_owned(), "no_exists_queries"),
        (format!("{}beograd{}", "(a ".repeat(9), ")".repeat(9)), "max_query_depth"),
    ];
    for (text, limit) in cases {
        let body = refused(&app, &rs, &text).await;
        assert_eq!(body["limit"], limit, "{text:.60}: {body}");
        assert!(body["detail"].as_str().expect("detail").contains(limit), "{body}");
    }

    // Within the caps, the same words find the document.
    let found = search(&app, &rs, &format!("q={}", q(&words[..7].join(" OR ").replace("w0", "beograd")))).await;
    assert_eq!(found["total"], 1, "{found}");
    let found = search(&app, &rs, &format!("q={}", q("\"трговина људи\"*"))).await;
    assert_eq!(found["total"], 1, "a phrase prefix stays: {found}");
}

/// Fuzz finding (`search_query`): excluding a phrase whose first match comes after the first
/// included document made tantivy panic in builds with debug assertions (a 500 here). The
/// exclusion now answers, and excludes exactly the documents holding the phrase.
#[tokio::test]
async fn an_excluded_phrase_answers_and_excludes_its_matches() {
    let app = TestApp::spawn().await;
    let rs = app.token("analyst-rs").await;
    let mut ids = Vec::new();
    for (title, text) in [
        ("Шверц А", "Шверц дроге, извештај из Београда"),
        ("Шверц Б", "Шверц преко границе, гранични прелаз Хоргош"),
        ("Шверц В", "Шверц оружја; прелаз и граница"),
    ] {
        let response = upload(&app, &rs, &metadata(title), text.into(), "a.txt").await;
        ids.push(response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned());
    }
    // Uploaded back to back, they are indexed in one batch: one segment, where the phrase's
    // first match comes after the first included document.
    for id in &ids {
        wait_until_ingested(&app, &rs, id).await;
    }
    for (text, expected) in [
        ("шверц -\"гранични прелаз\"", vec![&ids[0], &ids[2]]),
        ("шверц -\"оружја извештај\"", vec![&ids[0], &ids[1], &ids[2]]),
        ("(шверц -(\"гранични прелаз\" OR оружја))^2", vec![&ids[0]]),
        ("O+++-O\\O\\-", vec![]),
    ] {
        let found = search(&app, &rs, &format!("q={}", q(text))).await;
        let mut hits: Vec<&str> =
            found["hits"].as_array().expect("hits").iter().map(|h| h["id"].as_str().expect("id")).collect();
        hits.sort();
        let mut expected: Vec<&str> = expected.into_iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(hits, expected, "{text}: {found}");
        assert_eq!(found["total"], expected.len(), "{text}: {found}");
    }
}

//! The OpenAPI document: served to anyone, valid OpenAPI 3.1, and in agreement with the routes
//! both ways — every registered `/api/v1` operation is documented, every documented one is
//! routed. (Its full validation and the property-based run against it are schemathesis and
//! openapi-spec-validator in `.ci/run`.)

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::TestApp;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn spec(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/api/openapi.json")).send().await.expect("request");
    assert_eq!(response.status(), 200, "served without a token");
    response.json().await.expect("json")
}

fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

fn registered() -> BTreeSet<(String, String)> {
    anaspoc::api::operations()
        .iter()
        .map(|operation| (operation.method.to_string(), format!("{}{}", anaspoc::api::V1, operation.path)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_routes_agree_both_ways() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    assert_eq!(spec["openapi"], "3.1.0");
    let (documented, registered) = (documented(&spec), registered());
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(undocumented.is_empty() && unrouted.is_empty(), "undocumented: {undocumented:?}; not routed: {unrouted:?}");
    assert!(registered.len() >= 12, "the table is read at all: {registered:?}");

    // Every operation of the table is really routed: without a token it asks for one (401),
    // where a path that is not routed answers not-found and a wrong method 405.
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in &registered {
        let url = app.url(&path.replace("{id}", &id));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = app.client.request(method.clone(), &url).send().await.expect("request");
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    let stray = app.client.get(app.url(&format!("/api/v1/documents/{id}/shred"))).send().await.expect("request");
    assert_eq!(stray.status(), 404);
    let wrong = app.client.delete(app.url("/api/v1/search")).send().await.expect("request");
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_this_deployment_and_is_cacheable() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/openapi.json")).send().await.expect("request");
    let etag = response.headers()["etag"].to_str().expect("etag").to_owned();
    assert!(response.headers()["cache-control"].to_str().expect("cc").starts_with("public"));
    let spec: Value = response.json().await.expect("json");
    assert_eq!(spec["servers"][0]["url"], app.base.as_str());
    let discovery = spec["components"]["securitySchemes"]["oidc"]["openIdConnectUrl"].as_str().expect("oidc");
    assert!(discovery.ends_with("/.well-known/openid-configuration"), "{discovery}");
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // The upload's metadata part is JSON, and every problem is application/problem+json.
    let upload = &spec["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"];
    assert_eq!(upload["encoding"]["metadata"]["contentType"], "application/json");
    let not_found = &spec["paths"]["/api/v1/documents/{id}"]["get"]["responses"]["404"];
    assert!(not_found["content"]["application/problem+json"].is_object(), "{not_found}");
    assert!(not_found["description"].as_str().expect("description").contains("urn:anaspoc:problem:not-found"));

    let again =
        app.client.get(app.url("/api/openapi.json")).header("If-None-Match", &etag).send().await.expect("request");
    assert_eq!(again.status(), 304);
}

/// The reference page for people is the same document, rendered on the server: every operation
/// is on it, it needs no sign-in, and it loads nothing from elsewhere under the platform's CSP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_shows_every_operation_without_loading_anything_from_elsewhere() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let response = app.client.get(app.url("/api/reference")).send().await.expect("request");
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    // The page escapes `/` as minijinja does (`&#x2f;`).
    let html = response.text().await.expect("html").replace("&#x2f;", "/");
    for (method, path) in documented(&spec) {
        assert!(html.contains(&format!("{method} {path}")), "{method} {path} is on the page");
    }
    for schema in spec["components"]["schemas"].as_object().expect("schemas").keys() {
        assert!(html.contains(&format!("id=\"schema-{schema}\"")), "schema {schema} is on the page");
    }
    // The descriptions' `code` spans are code on the page, escaped, with no stray backticks.
    assert!(html.contains("<code>urn:anaspoc:problem:not-found</code>"), "code spans rendered");
    assert!(!html.contains('`'), "no raw backticks");
    for tag in ["<script src=\"http", "<link rel=\"stylesheet\" href=\"http", "<img src=\"http"] {
        assert!(!html.contains(tag), "nothing loaded from elsewhere: {tag}");
    }
}

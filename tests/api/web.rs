//! The web interface over HTTP, as a browser without JavaScript uses it: sign-in through the
//! demo provider's code flow, session cookie, escaping, CSRF, security headers, languages,
//! upload with errors next to the field, document actions, the audit page.

use serde_json::{Value, json};

use crate::documents::{create, metadata, with};
use crate::helpers::TestApp;

/// A cookie-keeping client signed in as `persona` through /login → provider → /auth/callback.
pub async fn signed_in(app: &TestApp, persona: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("anaspoc-tests")
        .build()
        .expect("client");
    let callback = crate::sign_in::callback_link(app, &client, persona).await;
    let done = client.get(callback).send().await.expect("callback");
    assert_eq!(done.status(), 303, "{:?}", done.text().await);
    let cookie = done.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.starts_with("anaspoc_session="),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback: no Secure flag");
    client
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').expect("end")].to_owned()
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let response = client.get(app.url(path)).send().await.expect("page");
    (response.status().as_u16(), response.text().await.expect("html"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sessions_and_security_headers() {
    let app = TestApp::spawn().await;
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = anonymous.get(app.url("/documents/x?y=1")).send().await.expect("get");
    assert_eq!(response.status(), 303, "pages need a session");
    assert_eq!(response.headers()["location"], "/login?return_to=%2Fdocuments%2Fx%3Fy%3D1");

    let browser = signed_in(&app, "analyst-rs").await;
    let response = browser.get(app.url("/")).send().await.expect("search page");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers.get("strict-transport-security").is_none(), "no HSTS without TLS");
    let html = response.text().await.expect("html");
    assert!(html.contains("Ђорђе Петровић") && html.contains("RS-MUP"));
    assert!(
        html.split("<script").skip(1).all(|tag| tag.trim_start().starts_with("src=")),
        "no inline script: every <script> loads a file"
    );
    assert!(html.contains("<script src=\"/static/app.js\" defer></script>"));

    // Sign-out needs the session's CSRF token, then the session is gone.
    let refused = browser.post(app.url("/logout")).form(&[("csrf", "forged")]).send().await.expect("logout");
    assert_eq!(refused.status(), 403);
    let token = csrf_of(&html);
    let out = browser.post(app.url("/logout")).form(&[("csrf", token.as_str())]).send().await.expect("logout");
    assert_eq!(out.status(), 200);
    assert_eq!(browser.get(app.url("/")).send().await.expect("get").status(), 303, "signed out");

    let events = crate::audit::all_events(&app).await;
    let login = events.iter().find(|e| e.action == anaspoc::audit::Action::AuthLogin).expect("login audited");
    assert_eq!(login.details["via"], "browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_escaped_and_forms_need_csrf() {
    let app = TestApp::spawn().await;
    let rs = app.token("analyst-rs").await;
    let created = create(
        &app,
        &rs,
        &with(metadata("<script>alert('x')</script> & <b>bold</b>"), json!({"tags": ["<img src=x onerror=alert(1)>"]})),
        b"body",
    )
    .await;
    let id = created["id"].as_str().expect("id");
    let browser = signed_in(&app, "analyst-rs").await;
    let (status, html) = page(&browser, &app, &format!("/documents/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "the title is text, not markup");
    assert!(!html.contains("<img src=x"), "tags are text too");
    assert!(html.contains("class=\"banner level-sensitive\""));
    assert_eq!(html.matches("class=\"banner ").count(), 2, "banner at top and bottom");
    assert!(html.contains("Not to be used in judicial proceedings"), "the handling code in words");

    // Every state-changing form refuses a missing or wrong token and changes nothing.
    for path in ["publish", "withdraw", "edit"] {
        for form in [vec![], vec![("csrf", "wrong")]] {
            let response =
                browser.post(app.url(&format!("/documents/{id}/{path}"))).form(&form).send().await.expect("post");
            assert_eq!(response.status(), 403, "{path} without a valid token");
        }
    }
    let document: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    assert_eq!(document["status"], "published");
    let token = csrf_of(&html);
    let withdrawn = browser
        .post(app.url(&format!("/documents/{id}/withdraw")))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(withdrawn.status(), 303);
    let document: Value = app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    assert_eq!(document["status"], "withdrawn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_search_document_and_audit_pages() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app, "analyst-rs").await;
    let (_, form) = page(&browser, &app, "/upload").await;
    assert!(
        form.contains("<option value=\"RESTRICTED\">RESTRICTED</option>") && !form.contains("CONFIDENTIAL</option>"),
        "levels up to the platform maximum"
    );
    assert!(
        form.contains(">Detect automatically</option>") && form.contains(">Serbian (Latin script)</option>"),
        "document languages by name"
    );
    let token = csrf_of(&form);
    let upload = |fields: Vec<(&'static str, &'static str)>, token: String| {
        let mut multipart = reqwest::multipart::Form::new().text("csrf", token);
        for (name, value) in fields {
            multipart = multipart.text(name, value);
        }
        multipart = multipart.part(
            "file",
            reqwest::multipart::Part::bytes("Шверц цигарета преко Дрине.".as_bytes().to_vec()).file_name("drina.txt"),
        );
        browser.post(app.url("/upload")).multipart(multipart).send()
    };
    let base = vec![
        ("title", "Дрина"),
        ("classification", "SENSITIVE"),
        ("handling_code", "H1"),
        ("releasable_to", "BA"),
        ("publish", "1"),
    ];
    // RED without recipients: the form comes back with the error next to the field.
    let mut red = base.clone();
    red.push(("tlp", "RED"));
    let refused = upload(red, token.clone()).await.expect("upload");
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.expect("html");
    assert!(html.contains("id=\"recipients\"") && html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("value=\"Дрина\""), "what was typed is kept");

    let mut amber = base.clone();
    amber.push(("tlp", "AMBER"));
    let created = upload(amber, token.clone()).await.expect("upload");
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with("/documents/"));
    let id = location.trim_start_matches("/documents/").to_owned();
    crate::search::wait_until_ingested(&app, &app.token("analyst-rs").await, &id).await;

    let (_, results) = page(&browser, &app, "/?q=drine").await;
    assert!(results.contains(&format!("/documents/{id}")), "found from the Latin spelling");
    assert!(results.contains("<mark>Дрине</mark>"), "snippet in the original script");

    let (status, html) = page(&browser, &app, &location).await;
    assert_eq!(status, 200);
    assert!(html.contains("Bosnia and Herzegovina") && html.contains("Serbia"), "countries by name");
    let download = browser.get(app.url(&format!("{location}/download?version=1"))).send().await.expect("download");
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), "Шверц цигарета преко Дрине.".as_bytes());

    // Languages: Accept-Language, then the switcher's cookie.
    let (_, albanian) = {
        let response =
            browser.get(app.url("/")).header("accept-language", "sq-AL,sq;q=0.9,en;q=0.5").send().await.expect("sq");
        (response.status(), response.text().await.expect("html"))
    };
    assert!(albanian.contains("Kërko dokumente"), "Albanian from Accept-Language");
    let (_, results) = page(&browser, &app, "/?q=drine").await;
    let switch = results.split("href=\"").find(|link| link.starts_with("/language?lang=sr-Cyrl")).expect("switcher");
    let switch = switch[..switch.find('"').expect("end of link")].replace("&amp;", "&").replace("&#x2f;", "/");
    let switched = browser.get(app.url(&switch)).send().await.expect("switch");
    assert_eq!(switched.status(), 303);
    assert_eq!(switched.headers()["location"], "/?q=drine", "back to the same search: {switch}");
    let (_, cyrillic) = page(&browser, &app, "/?q=drine").await;
    assert!(cyrillic.contains("Претражи документе"), "Serbian Cyrillic from the cookie");
    assert!(cyrillic.contains("Пронађено докумената: 1"), "{cyrillic}");
    let (status, missing) = page(&browser, &app, "/documents/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, 404);
    assert!(missing.contains("Није пронађено") && missing.contains("lang=\"sr-Cyrl\""), "error pages speak it too");

    // The audit page: auditors only.
    let (status, _) = page(&browser, &app, "/audit").await;
    assert_eq!(status, 403);
    let auditor = signed_in(&app, "auditor").await;
    let (status, audit) = page(&auditor, &app, "/audit?action=document.create").await;
    assert_eq!(status, 200);
    assert!(audit.contains(&id) && audit.contains("document.create"), "{audit}");
    let (_, verified) = page(&auditor, &app, "/audit?verify=1").await;
    assert!(verified.contains("Chain intact"), "{verified}");
    let export = auditor.get(app.url("/audit/export?format=csv")).send().await.expect("export");
    assert_eq!(export.status(), 200);
    assert!(export.text().await.expect("csv").starts_with("seq,id,at,"));

    // Above the events: the window's charts, drawn as SVG with their numbers, and the CSV.
    assert!(audit.contains("id=\"chart-per-day-outcome\"") && audit.contains("<svg"), "{audit}");
    assert!(audit.contains("class=\"chart-numbers\""), "a text alternative beside each chart");
    let numbers = auditor.get(app.url("/audit/activity.csv")).send().await.expect("numbers");
    assert_eq!(numbers.status(), 200);
    assert_eq!(numbers.headers()["content-type"], "text/csv; charset=utf-8");
    let numbers = numbers.text().await.expect("csv");
    assert!(numbers.starts_with("chart,day,action,outcome,organisation,country,actor,count\n"), "{numbers}");
    assert!(numbers.contains(",document.create,allowed,"), "{numbers}");
    // A window too long for charts still lists its events.
    let (status, long) = page(&auditor, &app, "/audit?from=2020-01-01&action=document.create").await;
    assert_eq!(status, 200);
    assert!(long.contains(&id) && !long.contains("chart-per-day-outcome"), "{long}");
    // The document's access report, linked from its events: ids and markings, never the title.
    assert!(audit.contains(&format!("href=\"/audit/documents/{id}\"")), "{audit}");
    let (status, report) = page(&auditor, &app, &format!("/audit/documents/{id}")).await;
    assert_eq!(status, 200);
    assert!(report.contains("report-changed") && report.contains("AMBER") && !report.contains("Дрина"), "{report}");
    let (status, _) = page(&browser, &app, &format!("/audit/documents/{id}")).await;
    assert_eq!(status, 403, "auditors only");
}

#[actix_web::test]
async fn result_pages_keep_the_search_and_its_filters() {
    let app = TestApp::spawn().await;
    let token = app.token("analyst-rs").await;
    let mut ids = Vec::new();
    for title in ["Granica prva", "Granica druga"] {
        let created = create(&app, &token, &metadata(title), "Šverc preko granice na Drini.".as_bytes()).await;
        let id = created["id"].as_str().expect("id").to_owned();
        crate::search::wait_until_ingested(&app, &token, &id).await;
        ids.push(id);
    }
    let browser = signed_in(&app, "analyst-rs").await;
    let link = |html: &str, marker: &str| -> String {
        let start = html.find(marker).unwrap_or_else(|| panic!("no {marker} in {html}")) + marker.len();
        html[start..start + html[start..].find('"').expect("end of link")].replace("&amp;", "&").replace("&#x2f;", "/")
    };
    let (_, first_page) = page(&browser, &app, "/?q=granice&tlp=AMBER&limit=1").await;
    assert!(first_page.contains("Documents found: 2") && !first_page.contains("first-page"), "{first_page}");
    let next = link(&first_page, "rel=\"next\" href=\"");
    assert!(next.contains("tlp=AMBER") && next.contains("q=granice") && next.contains("cursor="), "{next}");

    let (status, second_page) = page(&browser, &app, &next).await;
    assert_eq!(status, 200);
    let shown = |html: &str| ids.iter().filter(|id| html.contains(&format!("/documents/{id}\""))).count();
    assert_eq!((shown(&first_page), shown(&second_page)), (1, 1), "one result per page");
    assert!(ids.iter().any(|id| first_page.contains(id.as_str()) != second_page.contains(id.as_str())));
    let back = link(&second_page, "class=\"first-page\" href=\"");
    assert!(back.contains("tlp=AMBER") && !back.contains("cursor="), "the first page keeps the filters: {back}");
}

/// Bad input to a page is the user's to correct, never an internal error: an audit filter that
/// is not a date, and a new-version form without a file (or with a field after it), answer 4xx
/// pages that say what is wrong — and store nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_form_input_answers_4xx_pages_not_500() {
    let app = TestApp::spawn().await;
    let auditor = signed_in(&app, "auditor").await;
    let (status, html) = page(&auditor, &app, "/audit?from=01/01/2026").await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("from") && html.contains("01&#x2f;01&#x2f;2026") && html.contains("YYYY-MM-DD"), "{html}");
    let (status, _) = page(&auditor, &app, "/audit/export?format=xml").await;
    assert_eq!(status, 422);

    let token = app.token("analyst-rs").await;
    let created = create(&app, &token, &metadata("Versions"), b"first").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let browser = signed_in(&app, "analyst-rs").await;
    let (_, document) = page(&browser, &app, &format!("/documents/{id}")).await;
    let csrf = csrf_of(&document);
    let versions = || async {
        let body: Value = app.get_as(&token, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
        body["versions"].as_array().expect("versions").len()
    };

    let without_file = reqwest::multipart::Form::new().text("csrf", csrf.clone());
    let response =
        browser.post(app.url(&format!("/documents/{id}/versions"))).multipart(without_file).send().await.expect("post");
    assert_eq!(response.status(), 422);
    let html = response.text().await.expect("html");
    assert!(html.contains("file: choose a file") && html.contains("id=\"version-file\""), "{html}");

    let trailing = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part("file", reqwest::multipart::Part::bytes(b"second".to_vec()).file_name("v2.txt"))
        .text("after", "the file");
    let response =
        browser.post(app.url(&format!("/documents/{id}/versions"))).multipart(trailing).send().await.expect("post");
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("html").contains("unexpected part"));
    assert_eq!(versions().await, 1, "neither request added a version");
    assert_eq!(crate::documents::stored_objects(&app).await.len(), 1, "and nothing stayed in storage");

    let good = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .part("file", reqwest::multipart::Part::bytes(b"second".to_vec()).file_name("v2.txt"));
    let response =
        browser.post(app.url(&format!("/documents/{id}/versions"))).multipart(good).send().await.expect("post");
    assert_eq!(response.status(), 303);
    assert_eq!(versions().await, 2);
}

/// A multipart form is read no further than it must be: the CSRF token has to come first and is
/// checked before anything else; text fields are bounded in number and size; a body declared too
/// large is refused before any of it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_forms_check_csrf_first_and_bound_their_fields() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app, "analyst-rs").await;
    let (_, form) = page(&browser, &app, "/upload").await;
    let token = csrf_of(&form);
    let post = |form: reqwest::multipart::Form| browser.post(app.url("/upload")).multipart(form).send();

    let late_token = reqwest::multipart::Form::new().text("title", "x").text("csrf", token.clone());
    assert_eq!(post(late_token).await.expect("post").status(), 403, "the token must come first");
    let wrong = reqwest::multipart::Form::new().text("csrf", "forged").text("title", "x");
    assert_eq!(post(wrong).await.expect("post").status(), 403);

    let mut many = reqwest::multipart::Form::new().text("csrf", token.clone());
    for n in 0..100 {
        many = many.text(format!("field{n}"), "x");
    }
    assert_eq!(post(many).await.expect("post").status(), 400, "at most a few dozen fields");
    let mut large = reqwest::multipart::Form::new().text("csrf", token.clone());
    for n in 0..8 {
        large = large.text(format!("note{n}"), "x".repeat(60 * 1024));
    }
    assert_eq!(post(large).await.expect("post").status(), 400, "and a few hundred KiB of them");

    let declared = browser
        .post(app.url("/upload"))
        .header("content-type", "multipart/form-data; boundary=x")
        .header("content-length", (app.settings.limits.max_upload_bytes + 1024 * 1024).to_string())
        .body("--x--\r\n")
        .send()
        .await;
    // The server answers 413 without reading the body (the client may see the connection close).
    if let Ok(response) = declared {
        assert_eq!(response.status(), 413);
    }
    assert_eq!(crate::documents::stored_objects(&app).await.len(), 0, "nothing was stored");
}

/// Whatever a link says, the language switch and the sign-in send the browser back to a path on
/// this site only: backslashes, tabs and line breaks, percent-encoded forms, `//`, schemes and
/// look-alike slashes all go home instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_never_leaves_the_site() {
    let app = TestApp::spawn().await;
    let hostile = [
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "/%09/evil.example",
        "/%0D%0A/evil.example",
        "//evil.example",
        "/%2F%2Fevil.example",
        "/%255C%255Cevil.example",
        "https://evil.example",
        "%2F%2Fevil.example",
        "/%E2%88%95%E2%88%95evil.example",
        "/%EF%BC%8Fevil.example",
    ];
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for target in hostile {
        let response = client.get(app.url(&format!("/language?lang=sq&return_to={target}"))).send().await.expect("get");
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().expect("location");
        assert_eq!(location, "/", "{target}");
    }
    let response = client.get(app.url("/language?lang=sq&return_to=/%3Fq%3DBeograd")).send().await.expect("get");
    assert_eq!(response.headers()["location"], "/?q=Beograd", "a local path is kept");

    // The sign-in stores where to return; a hostile target comes back home.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for target in ["/%09/evil.example", "/%5Cevil.example"] {
        let login = browser.get(app.url(&format!("/login?return_to={target}"))).send().await.expect("login");
        let authorize = login.headers()["location"].to_str().expect("location").to_owned();
        let query = authorize.split_once('?').expect("query").1.to_owned();
        let chosen = browser
            .post(app.url("/demo-idp/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{query}&username=analyst-rs"))
            .send()
            .await
            .expect("choose persona");
        let callback = chosen.headers()["location"].to_str().expect("location").to_owned();
        let done = browser.get(callback).send().await.expect("callback");
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], "/", "{target}");
    }
}

/// Two editors: the page that is out of date does not overwrite what the other saved; it comes
/// back as the document is now, saying it was changed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_from_an_outdated_page_is_refused_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let token = app.token("analyst-rs").await;
    let created = create(&app, &token, &metadata("Two editors"), b"body").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let browser = signed_in(&app, "analyst-rs").await;
    let (_, html) = page(&browser, &app, &format!("/documents/{id}")).await;
    let csrf = csrf_of(&html);
    let marker = "name=\"revision\" value=\"";
    let start = html.find(marker).expect("the form carries the revision") + marker.len();
    let revision = html[start..start + html[start..].find('"').expect("end")].to_owned();

    // Meanwhile, someone narrows the releasability.
    let narrowed = crate::documents::patch(&app, &token, &id, &json!({"releasable_to": ["BA"]})).await;
    assert_eq!(narrowed.status(), 200);

    let form = [
        ("csrf", csrf.as_str()),
        ("revision", revision.as_str()),
        ("title", "Two editors, stale"),
        ("classification", "SENSITIVE"),
        ("tlp", "AMBER"),
        ("handling_code", "H1"),
        ("releasable_to", "BA"),
        ("releasable_to", "ME"),
    ];
    let response = browser.post(app.url(&format!("/documents/{id}/edit"))).form(&form).send().await.expect("edit");
    assert_eq!(response.status(), 422);
    let html = response.text().await.expect("html");
    assert!(html.contains("changed by someone else meanwhile"), "{html}");
    let now: Value = app.get_as(&token, &format!("/api/v1/documents/{id}")).await.json().await.expect("json");
    assert_eq!(now["title"], "Two editors");
    assert_eq!(now["markings"]["releasable_to"], json!(["BA", "RS"]), "the narrowing was not undone");
}

/// The handling-code request forms without JavaScript: the document page offers what fits the
/// code, a blank justification comes back next to its field, the provider's box denies with a
/// written note (a blank one refused), and the pages speak the reader's language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_forms_ask_decide_and_answer_in_the_readers_language() {
    let app = TestApp::spawn().await;
    let token = app.token("analyst-rs").await;
    let created =
        create(&app, &token, &with(metadata("Sarajevo route"), json!({"handling_code": "H1"})), b"route").await;
    let id = created["id"].as_str().expect("id").to_owned();

    let reader = signed_in(&app, "analyst-ba").await;
    let (status, document) = page(&reader, &app, &format!("/documents/{id}")).await;
    assert_eq!(status, 200);
    assert!(document.contains("Request permission to use in judicial proceedings"), "{document}");
    assert!(!document.contains("Request permission to disseminate"), "H1 calls for judicial use only");
    let csrf = csrf_of(&document);
    let ask = |csrf: &str, justification: &str| {
        let form = [("csrf", csrf), ("kind", "judicial-use"), ("justification", justification), ("case_reference", "")];
        reader.post(app.url(&format!("/documents/{id}/requests"))).form(&form).send()
    };
    assert_eq!(ask("forged", "Case").await.expect("post").status(), 403, "CSRF");
    let blank = ask(&csrf, " ").await.expect("post");
    assert_eq!(blank.status(), 422);
    let html = blank.text().await.expect("html");
    assert!(
        html.contains("justification: must not be empty") && html.contains("<details class=\"request-form\" open>"),
        "{html}"
    );
    let asked = ask(&csrf, "Indictment of the Sarajevo cell").await.expect("post");
    assert_eq!(asked.status(), 303);
    assert_eq!(asked.headers()["location"], "/requests?box=outgoing");
    let (_, outgoing) = page(&reader, &app, "/requests?box=outgoing").await;
    assert!(outgoing.contains("Pending") && outgoing.contains("Sarajevo route"), "{outgoing}");

    let provider = signed_in(&app, "analyst-rs").await;
    let (_, inbox) = page(&provider, &app, "/requests").await;
    assert!(inbox.contains("Indictment of the Sarajevo cell"), "incoming by default for providers: {inbox}");
    let listed: Value = app.get_as(&token, "/api/v1/requests?box=incoming").await.json().await.expect("json");
    let request = listed["items"][0]["id"].as_str().expect("id").to_owned();
    let decide = |note: &str| {
        let form = [("csrf", csrf_of(&inbox)), ("note", note.to_owned()), ("decision", "deny".to_owned())];
        provider.post(app.url(&format!("/requests/{request}/decision"))).form(&form).send()
    };
    let blank = decide("").await.expect("post");
    assert_eq!(blank.status(), 422);
    assert!(blank.text().await.expect("html").contains("note: must not be empty"));
    let denied = decide("Not for this indictment.").await.expect("post");
    assert_eq!(denied.status(), 303);
    let (_, outgoing) = page(&reader, &app, "/requests?box=outgoing").await;
    assert!(outgoing.contains("Denied") && outgoing.contains("Not for this indictment."), "{outgoing}");

    let switched = reader.get(app.url("/language?lang=sr-Cyrl&return_to=/requests")).send().await.expect("switch");
    assert_eq!(switched.status(), 303);
    let (_, cyrillic) = page(&reader, &app, "/requests?box=outgoing").await;
    assert!(cyrillic.contains("Захтеви за дозволу") && cyrillic.contains("Одбијен"), "{cyrillic}");
}

/// Saved searches and notifications without JavaScript: save from the search page (CSRF), the
/// bell counts what the viewer may see, opening a notification reads it and shows the document,
/// and the alert switches off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_a_search_hear_of_a_match_and_open_it() {
    let app = TestApp::spawn().await;
    let reader = signed_in(&app, "analyst-ba").await;
    let (_, results) = page(&reader, &app, "/?q=trebinje&tlp=AMBER").await;
    assert!(results.contains("id=\"save-search\""), "{results}");
    let csrf = csrf_of(&results);
    let form = [("csrf", csrf.as_str()), ("q", "trebinje"), ("tlp", "AMBER"), ("name", "Trebinje"), ("alert", "1")];
    assert_eq!(
        reader.post(app.url("/saved-searches")).form(&form[1..]).send().await.expect("post").status(),
        403,
        "CSRF"
    );
    let saved = reader.post(app.url("/saved-searches")).form(&form).send().await.expect("post");
    assert_eq!(saved.status(), 303);
    let (_, list) = page(&reader, &app, "/saved-searches").await;
    assert!(list.contains("Trebinje") && list.contains("Alert on") && list.contains("tlp=AMBER"), "{list}");

    let token = app.token("analyst-rs").await;
    let created =
        create(&app, &token, &with(metadata("Trebinje depot"), json!({"releasable_to": ["BA"]})), b"Trebinje").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let bell = loop {
        let (_, home) = page(&reader, &app, "/").await;
        if home.contains("class=\"unread-count\">1<") {
            break home;
        }
        assert!(std::time::Instant::now() < deadline, "the bell never rang: {home}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(bell.contains("id=\"bell\""));
    let (_, notices) = page(&reader, &app, "/notifications").await;
    assert!(notices.contains("Trebinje depot") && notices.contains("Unread: 1"), "{notices}");
    let end = notices.find("/open\"").expect("an open form") + "/open".len();
    let start = notices[..end].rfind('"').expect("start") + 1;
    let action = &notices[start..end];
    let opened = reader.post(app.url(action)).form(&[("csrf", csrf_of(&notices))]).send().await.expect("open");
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()["location"], format!("/documents/{id}").as_str());
    let (_, home) = page(&reader, &app, "/").await;
    assert!(!home.contains("class=\"unread-count\""), "read: the bell is quiet");

    let (_, list) = page(&reader, &app, "/saved-searches").await;
    let start = list.find("action=\"/saved-searches/").expect("a form") + "action=\"".len();
    let action = &list[start..start + list[start..].find('"').expect("end")];
    let off = reader.post(app.url(action)).form(&[("csrf", csrf_of(&list)), ("alert", "0".to_owned())]).send().await;
    assert_eq!(off.expect("post").status(), 303);
    let (_, list) = page(&reader, &app, "/saved-searches").await;
    assert!(list.contains("Alert off"), "{list}");
}

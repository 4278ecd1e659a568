//! End to end in headless Chromium (WebDriver, fantoccini), signing in through the real
//! OpenID Connect provider of CI: an analyst uploads a Cyrillic document with markings, finds it
//! from a Latin query, opens and downloads it; an analyst of a country it is not released to
//! finds nothing and gets "not found" on its URL; the auditor sees all of it on the audit page.
//! Screenshots of each page go to target/e2e-screenshots/. Runs when ANASPOC_TEST_CHROMEDRIVER
//! (the chromedriver binary) and ANASPOC_TEST_OIDC_ISSUER are set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{OIDC_ISSUER_VAR, TestApp, peer};

pub const CHROMEDRIVER_VAR: &str = "ANASPOC_TEST_CHROMEDRIVER";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn start_driver(binary: &str) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let process = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { process, url }
}

/// A fresh browser (own profile, so no cookies carry over between users).
async fn browser(driver: &Driver, downloads: &Path) -> Client {
    let profile = tempfile::tempdir().expect("profile").keep();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
                "--no-first-run", "--window-size=1280,1100", "--lang=en-GB",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Wait until the page source satisfies `ready`.
async fn wait_for(client: &Client, what: &str, ready: impl Fn(&str, &str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let source = client.source().await.unwrap_or_default();
        if ready(&url, &source) {
            return source;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what} at {url}: {source}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Through the provider's login and consent pages and back to the platform.
async fn sign_in(client: &Client, app: &TestApp, login: &str, first: bool) {
    client.goto(&app.url("/")).await.expect("open the platform");
    wait_for(client, "the provider's login page", |_, s| s.contains("name=\"login\"")).await;
    if first {
        shot(client, "01-provider-sign-in").await;
    }
    client.find(Locator::Css("input[name=login]")).await.expect("login").send_keys(login).await.expect("type");
    client.find(Locator::Css("input[name=password]")).await.expect("password").send_keys("any").await.expect("type");
    client.find(Locator::Css("button[type=submit]")).await.expect("button").click().await.expect("submit");
    let base = app.base.clone();
    let source =
        wait_for(client, "consent or the platform", |u, s| s.contains("value=\"consent\"") || u.starts_with(&base))
            .await;
    if source.contains("value=\"consent\"") {
        client.find(Locator::Css("button[type=submit]")).await.expect("continue").click().await.expect("consent");
    }
    wait_for(client, "the search page", |u, s| u.starts_with(&base) && s.contains("role=\"search\"")).await;
}

/// The platform signing in at the OpenID Connect provider of CI (`issuer`) as its web client.
async fn signing_in_at(issuer: String) -> TestApp {
    TestApp::spawn_with(move |s| {
        s.demo.enabled = false;
        s.oidc.issuer_url = issuer;
        s.oidc.audience = "urn:anaspoc".into();
        s.oidc.resource = "urn:anaspoc".into();
        s.oidc.claims.roles = "/roles".into();
        s.oidc.client_id = "anaspoc-web".into();
        s.oidc.client_secret = anaspoc::config::Secret::new("web-secret");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_and_auditor_in_a_real_browser() {
    let Some(chromedriver) = peer(CHROMEDRIVER_VAR) else { return };
    let Some(issuer) = peer(OIDC_ISSUER_VAR) else { return };
    let app = signing_in_at(issuer).await;
    let driver = start_driver(&chromedriver).await;
    let work = tempfile::tempdir().expect("dir");
    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads");
    let file = work.path().join("procena-beograd.txt");
    let text = "Процена претњи: кријумчарење дроге кроз Београд и Шабац, мрежа Ђорђевић.";
    std::fs::write(&file, text).expect("file");

    // An analyst in Belgrade: sign in, upload, find from a Latin query, open, download.
    let analyst = browser(&driver, &downloads).await;
    sign_in(&analyst, &app, "analyst.rs", true).await;
    analyst.goto(&app.url("/upload")).await.expect("upload page");
    analyst.find(Locator::Id("title")).await.expect("title").send_keys("Процена претњи — Београд").await.expect("type");
    analyst
        .find(Locator::Id("classification"))
        .await
        .expect("level")
        .select_by_value("SENSITIVE")
        .await
        .expect("select");
    analyst.find(Locator::Id("handling_code")).await.expect("code").select_by_value("H1").await.expect("select");
    analyst.find(Locator::Css("input[name=releasable_to][value=BA]")).await.expect("BA").click().await.expect("tick");
    analyst.find(Locator::Id("tags")).await.expect("tags").send_keys("drugs").await.expect("type");
    analyst
        .find(Locator::Id("file"))
        .await
        .expect("file")
        .send_keys(&file.display().to_string())
        .await
        .expect("attach");
    shot(&analyst, "02-upload").await;
    analyst
        .find(Locator::Css("form.upload-form button[type=submit]"))
        .await
        .expect("upload")
        .click()
        .await
        .expect("submit");
    let base = app.base.clone();
    wait_for(&analyst, "the new document", |u, _| u.starts_with(&format!("{base}/documents/"))).await;
    let document_url = analyst.current_url().await.expect("url").to_string();
    let id = document_url.rsplit('/').next().expect("id").to_owned();
    // Reload until its text is searchable.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let source = analyst.source().await.expect("source");
        if source.contains(">searchable<") {
            break;
        }
        assert!(Instant::now() < deadline, "ingest did not finish: {source}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        analyst.refresh().await.expect("reload");
    }
    shot(&analyst, "03-document").await;

    analyst.goto(&app.url("/?q=beograd+dordevic")).await.expect("search");
    let results = wait_for(&analyst, "results", |_, s| s.contains("class=\"hits\"")).await;
    assert!(results.contains(&format!("/documents/{id}")), "found from Latin: {results}");
    assert!(results.contains("<mark>"), "highlighted");
    shot(&analyst, "04-search").await;
    analyst.find(Locator::Css(&format!("a[href='/documents/{id}']"))).await.expect("hit").click().await.expect("open");
    wait_for(&analyst, "the document page", |u, _| u.ends_with(&id)).await;
    analyst.find(Locator::Css("a[download]")).await.expect("download link").click().await.expect("download");
    let deadline = Instant::now() + Duration::from_secs(20);
    let downloaded = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(&downloads)
            .expect("dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_none_or(|x| x != "crdownload"))
            // Chromium's own temporary files while it writes the download.
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.')))
            .collect();
        if let Some(path) = done.first() {
            break path.clone();
        }
        assert!(Instant::now() < deadline, "the download did not arrive");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(std::fs::read_to_string(&downloaded).expect("downloaded"), text);
    assert_eq!(downloaded.file_name().and_then(|n| n.to_str()), Some("procena-beograd.txt"));
    analyst.close().await.expect("close");

    // An analyst in Tirana: the document is not released to Albania.
    let other = browser(&driver, &downloads).await;
    sign_in(&other, &app, "analyst.al", false).await;
    other.goto(&app.url("/?q=beograd")).await.expect("search");
    let results = wait_for(&other, "results", |_, s| s.contains("class=\"total\"")).await;
    assert!(!results.contains(&id) && results.contains("Documents found: 0"), "{results}");
    other.goto(&app.url(&format!("/documents/{id}"))).await.expect("direct URL");
    let refused = wait_for(&other, "not found", |_, s| s.contains("Not found")).await;
    assert!(!refused.contains("Процена"), "nothing of the document shows");
    shot(&other, "05-not-released").await;
    other.close().await.expect("close");

    // The auditor sees who did what.
    let auditor = browser(&driver, &downloads).await;
    sign_in(&auditor, &app, "auditor", false).await;
    auditor.goto(&app.url("/audit")).await.expect("audit page");
    let audit = wait_for(&auditor, "the audit table", |_, s| s.contains("class=\"audit\"")).await;
    for needle in ["document.create", "document.view", "document.download", "search.query", "analyst.al", "denied"] {
        assert!(audit.contains(needle), "audit page shows {needle}");
    }
    auditor.goto(&app.url("/audit?verify=1")).await.expect("verify");
    wait_for(&auditor, "verification", |_, s| s.contains("Chain intact")).await;
    shot(&auditor, "06-audit").await;
    auditor.close().await.expect("close");
}

/// Upload `file` through the upload page as a SENSITIVE document under `code` released to
/// Albania; its id.
async fn upload_for_albania(client: &Client, app: &TestApp, title: &str, code: &str, file: &Path) -> String {
    client.goto(&app.url("/upload")).await.expect("upload page");
    fill(client, "#title", title).await;
    client
        .find(Locator::Id("classification"))
        .await
        .expect("level")
        .select_by_value("SENSITIVE")
        .await
        .expect("select");
    client.find(Locator::Id("handling_code")).await.expect("code").select_by_value(code).await.expect("select");
    click(client, "input[name=releasable_to][value=AL]").await;
    fill(client, "#file", &file.display().to_string()).await;
    click(client, "form.upload-form button[type=submit]").await;
    let base = app.base.clone();
    wait_for(client, "the new document", |u, _| u.starts_with(&format!("{base}/documents/"))).await;
    client.current_url().await.expect("url").to_string().rsplit('/').next().expect("id").to_owned()
}

/// Type `text` into the field `css`.
async fn fill(client: &Client, css: &str, text: &str) {
    client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).send_keys(text).await.expect("type");
}

async fn click(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).click().await.expect("click");
}

/// The handling-code workflow end to end (issue 16): Tirana asks Belgrade for a sanitised version
/// of an H2 document, Belgrade answers with a derivative carrying lower markings and a written
/// note, Tirana finds the approval, the derivative and its link back to the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sanitised_version_is_asked_for_answered_and_found_in_a_real_browser() {
    let Some(chromedriver) = peer(CHROMEDRIVER_VAR) else { return };
    let Some(issuer) = peer(OIDC_ISSUER_VAR) else { return };
    let app = signing_in_at(issuer).await;
    let driver = start_driver(&chromedriver).await;
    let work = tempfile::tempdir().expect("dir");
    let source_file = work.path().join("drina-full.txt");
    std::fs::write(&source_file, "Doušnik Marko: prelaz Zvornik koristi se utorkom, čamci iz Karakaja.").expect("file");
    let sanitised_file = work.path().join("drina-sanitised.txt");
    std::fs::write(&sanitised_file, "Prelaz Zvornik koristi se nedeljno za krijumčarenje cigareta.").expect("file");
    let base = app.base.clone();

    // Belgrade provides an H2 document released to Albania.
    let provider = browser(&driver, work.path()).await;
    sign_in(&provider, &app, "analyst.rs", false).await;
    let source_id = upload_for_albania(&provider, &app, "Drina crossings — full report", "H2", &source_file).await;

    // Tirana asks for a sanitised version (H2 also offers dissemination, not judicial use).
    let requester = browser(&driver, work.path()).await;
    sign_in(&requester, &app, "analyst.al", false).await;
    requester.goto(&app.url(&format!("/documents/{source_id}"))).await.expect("source page");
    let page = wait_for(&requester, "the request forms", |_, s| s.contains("id=\"request-title\"")).await;
    assert!(page.contains("Request permission to disseminate"), "{page}");
    assert!(!page.contains("Request permission to use in judicial proceedings"));
    click(&requester, "details:has(#request-sanitised-version) summary").await;
    fill(&requester, "#justification-sanitised-version", "To brief the border police at Kapshticë").await;
    shot(&requester, "07-request").await;
    click(&requester, "#request-sanitised-version button[type=submit]").await;
    let outgoing = wait_for(&requester, "the outgoing box", |u, _| u.contains("/requests?box=outgoing")).await;
    assert!(outgoing.contains("Pending") && outgoing.contains("To brief the border police"), "{outgoing}");

    // Belgrade answers with a derivative: the form comes filled in with the source's markings.
    provider.goto(&app.url("/requests")).await.expect("inbox");
    let inbox = wait_for(&provider, "the incoming box", |_, s| s.contains("Answer with a sanitised version")).await;
    assert!(inbox.contains("Blerina Shehu") && inbox.contains("Drina crossings"), "{inbox}");
    shot(&provider, "08-inbox").await;
    click(&provider, "a[href*='/upload?derive=']").await;
    let form = wait_for(&provider, "the derivative form", |_, s| s.contains("name=\"derive\"")).await;
    assert!(form.contains("Drina crossings — full report (sanitised)"), "prefilled title: {form}");
    provider
        .find(Locator::Id("classification"))
        .await
        .expect("level")
        .select_by_value("UNCLASSIFIED")
        .await
        .expect("select");
    provider.find(Locator::Id("handling_code")).await.expect("code").select_by_value("H0").await.expect("select");
    fill(&provider, "#note", "Released without the informant's name.").await;
    fill(&provider, "#file", &sanitised_file.display().to_string()).await;
    shot(&provider, "09-derivative-form").await;
    click(&provider, "form.upload-form button[type=submit]").await;
    let derivative_page = wait_for(&provider, "the derivative", |u, s| {
        u.starts_with(&format!("{base}/documents/")) && !u.ends_with(&source_id) && s.contains("id=\"derived-from\"")
    })
    .await;
    assert!(derivative_page.contains("UNCLASSIFIED"), "its own markings");
    let derivative_id =
        provider.current_url().await.expect("url").to_string().rsplit('/').next().expect("id").to_owned();
    provider.close().await.expect("close");

    // Tirana finds the approval with its note, the derivative, and the permission on the source.
    requester.goto(&app.url("/requests?box=outgoing")).await.expect("outgoing");
    let approved = wait_for(&requester, "the approval", |_, s| s.contains("Approved")).await;
    assert!(approved.contains("Released without the informant"), "{approved}");
    shot(&requester, "10-approved").await;
    click(&requester, "a.derivative-link").await;
    let derivative = wait_for(&requester, "the derivative page", |u, _| u.ends_with(&derivative_id)).await;
    assert!(derivative.contains("(sanitised)") && derivative.contains("id=\"derived-from\""), "{derivative}");
    click(&requester, "#derived-from").await;
    let source = wait_for(&requester, "the source page", |u, _| u.ends_with(&source_id)).await;
    assert!(source.contains("Permissions held by your organisation"), "{source}");
    assert!(source.contains("Sanitised versions") && source.contains(&derivative_id));
    shot(&requester, "11-permission").await;
    // And search finds the derivative by its text once indexed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        requester.goto(&app.url("/?q=cigareta")).await.expect("search");
        let results = wait_for(&requester, "results", |_, s| s.contains("class=\"total\"")).await;
        if results.contains(&format!("/documents/{derivative_id}")) {
            break;
        }
        assert!(Instant::now() < deadline, "the derivative was not found: {results}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    requester.close().await.expect("close");
}

/// Saved searches and alerts end to end (issue 17): Tirana saves a search with its alert on,
/// Belgrade uploads a matching document released to Albania, the bell in Tirana's header shows
/// one, and the notification opens the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_search_rings_the_bell_and_opens_the_match_in_a_real_browser() {
    let Some(chromedriver) = peer(CHROMEDRIVER_VAR) else { return };
    let Some(issuer) = peer(OIDC_ISSUER_VAR) else { return };
    let app = signing_in_at(issuer).await;
    let driver = start_driver(&chromedriver).await;
    let work = tempfile::tempdir().expect("dir");
    let file = work.path().join("kapshtice.txt");
    std::fs::write(&file, "Kalimi i Kapshticës: kontrabandë cigaresh me kamionë.").expect("file");

    let watcher = browser(&driver, work.path()).await;
    sign_in(&watcher, &app, "analyst.al", false).await;
    watcher.goto(&app.url("/?q=kapshtic%C3%AB")).await.expect("search");
    wait_for(&watcher, "the save form", |_, s| s.contains("id=\"save-search\"")).await;
    watcher.find(Locator::Id("saved-name")).await.expect("name").clear().await.expect("clear");
    fill(&watcher, "#saved-name", "Kapshticë crossing").await;
    shot(&watcher, "12-save-search").await;
    click(&watcher, "#save-search button[type=submit]").await;
    let list = wait_for(&watcher, "the saved searches", |u, _| u.ends_with("/saved-searches")).await;
    assert!(list.contains("Kapshticë crossing") && list.contains("Alert on"), "{list}");

    let provider = browser(&driver, work.path()).await;
    sign_in(&provider, &app, "analyst.rs", false).await;
    let id = upload_for_albania(&provider, &app, "Kapshticë crossing, November", "H1", &file).await;
    provider.close().await.expect("close");

    // The bell rings on the next page Tirana opens.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        watcher.goto(&app.url("/saved-searches")).await.expect("a page");
        let page = watcher.source().await.expect("source");
        if page.contains("class=\"unread-count\">1<") {
            break;
        }
        assert!(Instant::now() < deadline, "the bell never rang: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    shot(&watcher, "13-bell").await;
    click(&watcher, "#bell").await;
    let notices = wait_for(&watcher, "the notifications", |u, _| u.ends_with("/notifications")).await;
    assert!(notices.contains("Kapshticë crossing, November") && notices.contains("Unread: 1"), "{notices}");
    shot(&watcher, "14-notifications").await;
    click(&watcher, "form.inline-form button.link").await;
    let document = wait_for(&watcher, "the document", |u, _| u.ends_with(&id)).await;
    assert!(document.contains("Kapshticë crossing, November"));
    assert!(!document.contains("class=\"unread-count\""), "read: the bell is quiet");
    watcher.close().await.expect("close");
}

/// Signed in at the demo's own identity provider as `persona` (its persona list).
async fn sign_in_as_persona(client: &Client, app: &TestApp, persona: &str) {
    client.goto(&app.url("/")).await.expect("open the platform");
    wait_for(client, "the demo provider's personas", |_, s| s.contains("class=\"personas\"")).await;
    click(client, &format!("button[name=username][value='{persona}']")).await;
    let base = app.base.clone();
    wait_for(client, "the search page", |u, s| u.starts_with(&base) && s.contains("role=\"search\"")).await;
}

/// How many documents a search page says it found.
fn found(page: &str) -> usize {
    let Some(start) = page.find("Documents found: ") else { return 0 };
    page[start + 17..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
}

/// The seeded demo as a new user meets it (and as the README's screenshots show it): three
/// personas search the same word and find different documents; the auditor sees the charts, the
/// anomaly flags the sample activity raised, follows one to its events, opens a document's access
/// report, and reads the page in Macedonian. With ANASPOC_README_SCREENSHOTS=DIR the README's
/// pictures are written there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_demo_in_a_real_browser() {
    let Some(chromedriver) = peer(CHROMEDRIVER_VAR) else { return };
    let app = TestApp::spawn_with(|s| {
        s.demo.seed = true;
        // The demo profile's thresholds; its working-hours rule depends on the clock: left off.
        s.audit.alerts.downloads_per_hour = 10;
        s.audit.alerts.denials_per_hour = 5;
        s.audit.alerts.originators_per_hour = 4;
    })
    .await;
    let driver = start_driver(&chromedriver).await;
    let work = tempfile::tempdir().expect("dir");
    let readme = std::env::var_os("ANASPOC_README_SCREENSHOTS").map(PathBuf::from);
    let picture = |client: &Client, name: &'static str| {
        let readme = readme.clone();
        let client = client.clone();
        async move {
            shot(&client, name).await;
            if let Some(dir) = readme {
                let png = client.screenshot().await.expect("screenshot");
                std::fs::write(dir.join(format!("{name}.png")), png).expect("write README screenshot");
            }
        }
    };

    // The same word, three personas, three different sets (text documents are indexed at once;
    // waiting for the count to settle covers the office files and the scan).
    let mut totals = Vec::new();
    for persona in ["analyst-al", "analyst-rs", "advisor-europol"] {
        let client = browser(&driver, work.path()).await;
        sign_in_as_persona(&client, &app, persona).await;
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = (0, Instant::now());
        let page = loop {
            client.goto(&app.url("/?q=adriatik")).await.expect("search");
            let page = wait_for(&client, "results", |_, s| s.contains("class=\"total\"")).await;
            let total = found(&page);
            if total != last.0 {
                last = (total, Instant::now());
            } else if total > 0 && last.1.elapsed() > Duration::from_secs(8) {
                break page;
            }
            assert!(Instant::now() < deadline, "{persona}'s results never settled: {page}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        if persona == "analyst-al" {
            picture(&client, "demo-search-analyst-al").await;
        }
        totals.push((persona, found(&page), page));
        client.close().await.expect("close");
    }
    for (i, (a, count_a, page_a)) in totals.iter().enumerate() {
        for (b, count_b, page_b) in &totals[i + 1..] {
            assert!(count_a != count_b || page_a != page_b, "{a} and {b} see the same");
        }
        assert!(*count_a > 0, "{a} finds something");
    }

    let auditor = browser(&driver, work.path()).await;
    // Tall enough for the flags and all four charts in one picture.
    auditor.set_window_size(1280, 1900).await.expect("window size");
    sign_in_as_persona(&auditor, &app, "auditor").await;
    auditor.goto(&app.url("/audit")).await.expect("audit page");
    let audit = wait_for(&auditor, "the charts", |_, s| s.contains("id=\"chart-per-day-outcome\"")).await;
    for chart in ["per-day-outcome", "per-day-action", "denials", "top-downloads"] {
        let figure = auditor.find(Locator::Css(&format!("#chart-{chart}"))).await.expect("figure");
        figure.find(Locator::Css("svg")).await.unwrap_or_else(|_| panic!("{chart} is drawn"));
    }
    for flag in ["flag-bulk-downloads", "flag-many-originators", "flag-denials"] {
        assert!(audit.contains(flag), "the sample activity raises {flag}");
    }
    assert!(audit.contains("advisor-europol") && audit.contains("AL-ASP (AL)"), "who and from where");
    picture(&auditor, "demo-audit-charts").await;

    // A flag's link shows exactly its events.
    click(&auditor, "li.flag-bulk-downloads a").await;
    let events = wait_for(&auditor, "the flagged events", |u, _| u.contains("actor=advisor-europol")).await;
    assert!(events.contains("document.download") && !events.contains("<td>document.view</td>"), "only downloads");

    // A document's access report, from an event row.
    click(&auditor, "table.audit a[href^='/audit/documents/']").await;
    let report = wait_for(&auditor, "the report", |_, s| s.contains("report-section")).await;
    assert!(report.contains("Downloaded") && report.contains("EUROPOL"), "{report}");
    assert!(!report.contains("ADRIATIK") && !report.contains("АДРИАТИК"), "no document text for auditors");
    picture(&auditor, "demo-audit-report").await;

    // In Macedonian.
    auditor.goto(&app.url("/language?lang=mk&return_to=/audit")).await.expect("language");
    let macedonian = wait_for(&auditor, "the Macedonian audit page", |_, s| s.contains("Активност")).await;
    assert!(macedonian.contains("Предупредувања за аномалии") && macedonian.contains("Настани по ден според исходот"));
    auditor.close().await.expect("close");
}

//! The browser sign-in against a hostile world: callback links sent to someone else's browser,
//! replayed callbacks, floods of anonymous sign-ins, a TLS-terminating proxy in front, and
//! forwarding headers from anyone but a trusted proxy.

use anaspoc::audit::{Action, Outcome};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::helpers::TestApp;

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Start a sign-in in `browser` and take it through the provider as `persona`; returns the
/// callback URL the provider sends the browser to (not visited).
pub async fn callback_link(app: &TestApp, browser: &reqwest::Client, persona: &str) -> String {
    let login = browser.get(app.url("/login?return_to=/")).send().await.expect("login");
    assert_eq!(login.status(), 303);
    let authorize = login.headers()["location"].to_str().expect("location").to_owned();
    let query = authorize.split_once('?').expect("query").1.to_owned();
    let chosen = browser
        .post(app.url("/demo-idp/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&username={persona}"))
        .send()
        .await
        .expect("choose persona");
    assert_eq!(chosen.status(), 303);
    chosen.headers()["location"].to_str().expect("location").to_owned()
}

/// Login CSRF: an attacker starts a sign-in as themself and sends the callback link to a
/// victim. The victim's browser never started that sign-in, so it signs nobody in; and a
/// callback works once only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_signs_in_only_the_browser_that_started_it() {
    let app = TestApp::spawn().await;
    let attacker = browser();
    let link = callback_link(&app, &attacker, "analyst-al").await;

    let victim = browser();
    let refused = victim.get(&link).send().await.expect("callback");
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap_or("").starts_with("anaspoc_session="))
    );
    assert_eq!(victim.get(app.url("/")).send().await.expect("page").status(), 303, "the victim is not signed in");
    let events = crate::audit::all_events(&app).await;
    let denied = events.last().expect("events");
    assert_eq!((denied.action, denied.outcome), (Action::AuthDenied, Outcome::Denied));
    assert!(denied.details["reason"].as_str().expect("reason").contains("did not start"), "{:?}", denied.details);

    // The refused attempt did not use the sign-in up: in its own browser it completes — once.
    assert_eq!(attacker.get(&link).send().await.expect("callback").status(), 303);
    let replay = attacker.get(&link).send().await.expect("callback");
    assert_eq!(replay.status(), 403, "a callback is consumed by its first use");

    // The ordinary way still works, once — even after someone else's browser tried the link.
    let user = browser();
    let link = callback_link(&app, &user, "analyst-rs").await;
    let meddler = browser();
    assert_eq!(meddler.get(&link).send().await.expect("callback").status(), 403);
    assert_eq!(user.get(&link).send().await.expect("callback").status(), 303, "not spoiled by the meddler");
    assert_eq!(user.get(app.url("/")).send().await.expect("page").status(), 200);
    assert_eq!(user.get(&link).send().await.expect("again").status(), 403, "not twice");
}

/// Two tabs signing in at once: each sign-in has its own cookie, so both complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sign_ins_in_one_browser_both_complete() {
    let app = TestApp::spawn().await;
    let tabs = browser();
    let first = callback_link(&app, &tabs, "analyst-rs").await;
    let second = callback_link(&app, &tabs, "analyst-rs").await;
    assert_eq!(tabs.get(&first).send().await.expect("first").status(), 303);
    assert_eq!(tabs.get(&second).send().await.expect("second").status(), 303);
}

/// Anonymous `GET /login` costs a database row and, uncached, a request to the identity
/// provider: one client keeps a bounded number of sign-ins in progress (a flood drops its own
/// oldest, and a sign-in started afterwards still completes), the discovery document is fetched
/// once, and abandoned sign-ins and expired sessions are purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_bounded_cached_and_purged() {
    use anaspoc::db::entities::{web_login, web_session};
    let app = TestApp::spawn().await;
    assert_eq!(app.client.get(app.url("/readyz")).send().await.expect("readyz").status(), 200);
    let before = app.idp().discovery_requests();
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for n in 0..120 {
        let login = anonymous.get(app.url("/login")).send().await.expect("login");
        assert_eq!(login.status(), 303, "sign-in {n}");
    }
    let pending = web_login::Entity::find().all(&app.db).await.expect("rows").len();
    assert_eq!(pending, 100, "the flood is bounded");
    assert_eq!(app.idp().discovery_requests() - before, 1, "discovery fetched once for 120 sign-ins");
    let user = browser();
    let link = callback_link(&app, &user, "analyst-rs").await;
    assert_eq!(user.get(&link).send().await.expect("callback").status(), 303, "no lock-out");

    let long_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    web_session::Entity::insert(web_session::ActiveModel {
        id_hash: Set("0".repeat(64)),
        principal: Set("{}".into()),
        csrf: Set("x".into()),
        expires_at: Set(long_ago),
        created_at: Set(long_ago),
    })
    .exec_without_returning(&app.db)
    .await
    .expect("expired session");
    let ten: Vec<String> =
        web_login::Entity::find().all(&app.db).await.expect("rows").into_iter().take(10).map(|r| r.state).collect();
    web_login::Entity::update_many()
        .col_expr(web_login::Column::CreatedAt, sea_orm::sea_query::Expr::value(long_ago))
        .filter(web_login::Column::State.is_in(ten))
        .exec(&app.db)
        .await
        .expect("age ten sign-ins");
    let purged = anaspoc::auth::purge_expired(&app.db).await.expect("purge");
    assert_eq!(purged, (1, 10), "the expired session and the ten abandoned sign-ins");
    let left = web_login::Entity::find().all(&app.db).await.expect("rows").len();
    assert_eq!(left, 89, "sign-ins still in progress stay (the user's own was completed)");
}

/// Behind a TLS-terminating proxy (plain HTTP here, an `https` public URL) browsers are on
/// HTTPS: cookies are `Secure` with the `__Host-` prefix, and HSTS is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_follow_the_public_url_not_the_local_socket() {
    let (idp, handle) = crate::token_hardening::standalone_idp("anaspoc").await;
    let issuer = idp.issuer().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let _app = TestApp::spawn_with(move |s| {
        s.demo.enabled = false;
        s.oidc.issuer_url = issuer;
        s.oidc.client_id = "anaspoc-web".into();
        s.server.bind = format!("127.0.0.1:{port}");
        s.server.public_url = "https://analysis.anaspoc.example".into();
        s.server.allow_plain_http = true;
    })
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    // The proxy would forward to this plain-HTTP socket.
    let login = client.get(format!("http://127.0.0.1:{port}/login")).send().await.expect("login");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(cookie.starts_with("__Host-anaspoc_signin_"), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert!(login.headers()["strict-transport-security"].to_str().expect("hsts").contains("max-age="));
    handle.stop(false).await;
}

/// The client address in the audit trail is the TCP peer's — unless the peer is a configured
/// proxy, whose forwarding headers are then believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    for (trusted, expected) in [(false, "127.0.0.1"), (true, "203.0.113.7")] {
        let app = TestApp::spawn_with(move |s| {
            if trusted {
                s.server.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
            }
        })
        .await;
        let token = app.token("analyst-rs").await;
        let response = app
            .client
            .get(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
            // What a client smuggles in the header the proxy does not write is never read.
            .header("forwarded", "for=6.6.6.6")
            .send()
            .await
            .expect("me");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["sub"], "analyst-rs");
        let events = crate::audit::all_events(&app).await;
        let login = events.iter().rev().find(|e| e.action == Action::AuthLogin).expect("login");
        assert_eq!(login.request.ip, expected, "trusted: {trusted}");
    }
}

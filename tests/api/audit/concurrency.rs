//! The chain stays linear under concurrency: parallel audited requests through one server (its
//! group-commit writer), parallel appends that each take the head-row lock themselves, from
//! several connection pools, and — on PostgreSQL — two server processes writing to one trail.
//! Each time the chain verifies and `seq` has no gaps.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anaspoc::audit::{self, Action, Actor, NewEvent, Outcome};
use anaspoc::caller::RequestInfo;

use super::{all_events, verify};
use crate::documents::{create, metadata, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(parallel_requests_keep_one_linear_chain, direct_appends_contend_for_the_head_and_stay_linear);

/// The chain as stored: `seq` 1, 2, 3 … and each event linked to the one before.
fn assert_linear(events: &[audit::Event]) {
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "no gaps, no duplicates");
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "linked at seq {}", pair[1].seq);
    }
}

/// Appends that each lock the head row themselves — no group-commit writer to serialise them —
/// from several tasks over several connection pools at once.
async fn direct_appends_contend_for_the_head_and_stay_linear(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let before = all_events(&app).await.len();
    let (pools, tasks, each) = (3, 4, 15);
    let mut writers = Vec::new();
    for pool in 0..pools {
        let db = anaspoc::db::connect(&app.settings.database).await.expect("another pool");
        for task in 0..tasks {
            let log = audit::Log::new(db.clone());
            writers.push(tokio::spawn(async move {
                for n in 0..each {
                    let request = RequestInfo { id: format!("{pool}-{task}-{n}"), ..RequestInfo::default() };
                    let event = NewEvent::new(Actor::anonymous(), &request, Action::AuthDenied, Outcome::Denied);
                    log.record(event).await.expect("append");
                }
            }));
        }
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let events = all_events(&app).await;
    assert_eq!(events.len(), before + pools * tasks * each);
    assert_linear(&events);
    assert_eq!(verify(&app).await["status"], "ok");
}

/// Three server processes started together on one fresh PostgreSQL database, all busy: the
/// migrations ran once (under the advisory lock), and there is one trail, linear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_write_one_linear_trail_on_postgresql() {
    let Some(admin_url) = crate::helpers::peer(crate::helpers::DATABASE_URL_VAR) else { return };
    let database = crate::database::PgDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().expect("dir");
    // Replicas on PostgreSQL share one checkpoint signing key, made beforehand.
    let key = dir.path().join("audit.pem");
    audit::SigningKey::create(&key).expect("signing key");
    let mut servers = Vec::new();
    // Started together: migrations run once, under the database's advisory lock.
    let starting = (0..3).map(|n| Process::start(&database.url, &key, dir.path().join(format!("replica-{n}"))));
    servers.extend(futures_util::future::join_all(starting).await);
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for server in &servers {
        let token = server.token(&client).await;
        for _ in 0..40 {
            let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
            calls.push(async move {
                client.get(format!("{base}/api/v1/me")).bearer_auth(token).send().await.expect("me").status()
            });
        }
    }
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    drop(servers);

    let db = anaspoc::db::connect(&anaspoc::config::DatabaseSettings {
        url: database.url.clone(),
        max_connections: 2,
        auto_migrate: false,
        acquire_timeout_ms: 5000,
        statement_timeout_ms: 30000,
    })
    .await
    .expect("connect");
    let trail = audit::Trail::new(db);
    let mut events: Vec<audit::Event> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e.seq);
        let page = trail.events_after(&audit::Filter::default(), after, 500).await.expect("events");
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    let logins = events.iter().filter(|e| e.action == Action::AuthLogin).count();
    assert_eq!(logins, 120, "every sign-in of the three processes");
    assert_linear(&events);
    let verified = audit::verify::verify_database(&trail, Vec::new(), None).await.expect("verify");
    assert!(verified.is_ok(), "{verified:?}");
    database.drop_now().await;
}

/// A real `anaspoc demo` process on a PostgreSQL database.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    async fn start(database_url: &str, key: &std::path::Path, dir: std::path::PathBuf) -> Self {
        let dir = dir.as_path();
        std::fs::create_dir_all(dir).expect("dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = Command::new(env!("CARGO_BIN_EXE_anaspoc"))
            .args(["demo", "--empty"])
            .current_dir(dir)
            .env("ANASPOC__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("ANASPOC__SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("ANASPOC__DATABASE__URL", database_url)
            .env("ANASPOC__STORAGE__PATH", dir.join("objects"))
            .env("ANASPOC__SEARCH__INDEX_DIR", dir.join("index"))
            .env("ANASPOC__AUDIT__SIGNING_KEY_FILE", key)
            .env("ANASPOC__LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start anaspoc");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{base}/readyz")).await.map(|r| r.status() != 200).unwrap_or(true) {
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base }
    }

    async fn token(&self, client: &reqwest::Client) -> String {
        let body: serde_json::Value = client
            .post(format!("{}/demo-idp/token", self.base))
            .form(&[("grant_type", "password"), ("username", "analyst-rs")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn parallel_requests_keep_one_linear_chain(backend: Backend) {
    let app = TestApp::spawn_on_with(backend, |s| s.server.workers = 4).await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    let created =
        create(&app, &rs, &with(metadata("Busy"), serde_json::json!({"releasable_to": ["ALL"]})), b"busy").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let before = all_events(&app).await.len();

    let requests = 64;
    let calls = (0..requests).map(|n| {
        let (token, path) = match n % 4 {
            0 => (&rs, format!("/api/v1/documents/{id}")),
            1 => (&ba, format!("/api/v1/documents/{id}/content")),
            2 => (&ba, "/api/v1/me".to_owned()),
            _ => (&ba, format!("/api/v1/documents/{}", uuid::Uuid::new_v4())),
        };
        let app = &app;
        async move { app.get_as(token, &path).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");

    let events = all_events(&app).await;
    assert_eq!(events.len(), before + requests);
    assert_linear(&events);
    let result = verify(&app).await;
    assert_eq!(result["status"], "ok", "{result}");
    assert_eq!(result["count"], events.len());
}

//! Several replicas on one database and one object store, each with its own search index that
//! follows the database's change feed (DESIGN.md, "Scale-out"; README, "Running several
//! replicas"): a change made through one replica is found through the others within 2 s; a
//! withdrawn or narrowed document stops counting on a replica at once, even on one whose index
//! lags behind; a replica killed in the middle of the feed, or started with an empty index,
//! catches up with nothing missing or doubled; a lapsed extraction lease cannot finish its job.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::documents::{create, metadata, patch, post, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::search::{hit_ids, q, search};

/// A change made through one replica is searchable through the others within this long.
const PROPAGATION: Duration = Duration::from_secs(2);

on_both_backends!(
    changes_on_one_replica_show_on_the_others,
    a_lagging_replica_never_counts_what_the_caller_may_not_see,
    a_lapsed_lease_cannot_finish_its_job,
);

/// Wait until `check` holds (at most 30 s, then fail naming `what`); returns how long it took.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(30), "{what}: still not so after 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Sum of every facet count of a search answer.
fn facet_total(result: &Value) -> u64 {
    result["facets"]
        .as_object()
        .expect("facets")
        .values()
        .filter(|facet| facet.is_object())
        .map(|facet| facet.as_object().expect("counts").values().map(|n| n.as_u64().expect("count")).sum::<u64>())
        .sum()
}

fn counts(result: &Value, id: &str) -> bool {
    result["total"].as_u64().expect("total") > 0
        || hit_ids(result).iter().any(|hit| hit == id)
        || facet_total(result) > 0
}

async fn changes_on_one_replica_show_on_the_others(backend: Backend) {
    let a = TestApp::spawn_on(backend).await;
    let (b, c) = tokio::join!(a.replica(|_| {}), a.replica(|_| {}));
    // Every replica trusts the first one's identity provider: one token works everywhere.
    let rs = a.token("analyst-rs").await;
    let al = a.token("analyst-al").await;
    let word = format!("replikacija{}", uuid::Uuid::new_v4().simple());
    let query = format!("q={}", q(&word));
    let body = format!("Strateška analiza: {word} na zapadnobalkanskoj ruti.");
    let released = with(metadata("Replicated analysis"), json!({"releasable_to": ["ALL"], "tlp": "GREEN"}));
    let document = create(&a, &rs, &released, body.as_bytes()).await;
    let id = document["id"].as_str().expect("id").to_owned();

    let started = Instant::now();
    for replica in [&a, &b, &c] {
        until("the upload is found through every replica", async || {
            hit_ids(&search(replica, &al, &query).await).contains(&id)
        })
        .await;
    }
    assert!(started.elapsed() <= PROPAGATION, "found everywhere after {:?}", started.elapsed());

    // Withdrawn through A: B and C stop counting it the moment the change is committed — in
    // hits, totals and facets — whether or not their index has applied it yet.
    let withdrawn = post(&a, &rs, &format!("/api/v1/documents/{id}/withdraw")).await;
    assert_eq!(withdrawn.status(), 200);
    for replica in [&b, &c] {
        let result = search(replica, &al, &query).await;
        assert!(!counts(&result, &id), "a withdrawn document still counts: {result}");
    }

    // Published again through B: back everywhere within the propagation time.
    assert_eq!(post(&b, &rs, &format!("/api/v1/documents/{id}/publish")).await.status(), 200);
    let started = Instant::now();
    for replica in [&a, &c] {
        until("the re-published document is found", async || {
            hit_ids(&search(replica, &al, &query).await).contains(&id)
        })
        .await;
    }
    assert!(started.elapsed() <= PROPAGATION, "re-published everywhere after {:?}", started.elapsed());

    // Narrowed through C to Serbia only: Albania stops seeing it through A and B at once.
    let narrowed = patch(&c, &rs, &id, &json!({"releasable_to": ["RS"]})).await;
    assert_eq!(narrowed.status(), 200);
    for replica in [&a, &b] {
        let result = search(replica, &al, &query).await;
        assert!(!counts(&result, &id), "a narrowed document still counts for AL: {result}");
    }
    // … while its originator still finds it everywhere once applied.
    for replica in [&a, &b, &c] {
        until("the originator finds the narrowed document", async || {
            hit_ids(&search(replica, &rs, &query).await).contains(&id)
        })
        .await;
    }
}

/// A change the property test makes through the first replica.
#[derive(Clone, Debug)]
enum Change {
    Withdraw,
    Publish,
    /// Releasable to these countries only.
    Release(Vec<&'static str>),
    /// TLP:RED for these demo subjects (or back to AMBER when empty).
    Red(Vec<&'static str>),
    Classify(&'static str),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Withdraw),
        Just(Change::Publish),
        proptest::sample::subsequence(vec!["AL", "BA", "ME", "MK", "RS", "XK", "EU"], 1..4).prop_map(Change::Release),
        Just(Change::Release(vec!["ALL"])),
        proptest::sample::subsequence(vec!["analyst-al", "analyst-ba", "advisor-europol"], 0..3).prop_map(Change::Red),
        prop_oneof![Just("UNCLASSIFIED"), Just("SENSITIVE"), Just("RESTRICTED")].prop_map(Change::Classify),
    ]
}

/// Searchers from different countries, organisations and clearances.
const READERS: [&str; 4] = ["analyst-al", "analyst-ba", "advisor-europol", "analyst-me"];

async fn a_lagging_replica_never_counts_what_the_caller_may_not_see(backend: Backend) {
    let a = TestApp::spawn_on(backend).await;
    let b = a.replica(|_| {}).await;
    let rs = a.token("analyst-rs").await;
    let mut readers = Vec::new();
    for persona in READERS {
        readers.push((persona, a.token(persona).await));
    }
    let word = format!("zaostajanje{}", uuid::Uuid::new_v4().simple());
    let query = format!("q={}&limit=50", q(&word));
    let mut ids = Vec::new();
    for n in 0..6 {
        let markings = with(metadata(&format!("Lagging {n}")), json!({"releasable_to": ["ALL"], "tlp": "AMBER"}));
        let created = create(&a, &rs, &markings, format!("{word} report {n}").as_bytes()).await;
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let (_, al) = &readers[0];
    until("B has indexed every document", async || search(&b, al, &query).await["total"] == ids.len()).await;

    let mut runner = TestRunner::new(proptest::test_runner::Config::with_cases(4));
    let plan = proptest::collection::vec((0..ids.len(), change()), 6..10);
    for case in 0..4 {
        let changes = plan.new_tree(&mut runner).expect("generated changes").current();
        // B's index is held where it is; every change below is made through A.
        b.feed.hold(true);
        for (step, (target, change)) in changes.iter().enumerate() {
            let id = &ids[*target];
            let response = match change {
                Change::Withdraw => post(&a, &rs, &format!("/api/v1/documents/{id}/withdraw")).await,
                Change::Publish => post(&a, &rs, &format!("/api/v1/documents/{id}/publish")).await,
                Change::Release(countries) => patch(&a, &rs, id, &json!({"releasable_to": countries})).await,
                Change::Red(subjects) if subjects.is_empty() => {
                    patch(&a, &rs, id, &json!({"tlp": "AMBER", "recipients": []})).await
                }
                Change::Red(subjects) => patch(&a, &rs, id, &json!({"tlp": "RED", "recipients": subjects})).await,
                Change::Classify(level) => patch(&a, &rs, id, &json!({"classification": level})).await,
            };
            assert_eq!(response.status(), 200, "case {case} step {step}: {change:?}");
            for (persona, token) in &readers {
                // What the database says now: the document API of A decides on current rows.
                let mut visible = Vec::new();
                for candidate in &ids {
                    if a.get_as(token, &format!("/api/v1/documents/{candidate}")).await.status() == 200 {
                        visible.push(candidate.clone());
                    }
                }
                let result = search(&b, token, &query).await;
                let hits = hit_ids(&result);
                let total = result["total"].as_u64().expect("total");
                let context = format!("case {case} step {step} {change:?} as {persona}: {result}");
                assert!(hits.iter().all(|hit| visible.contains(hit)), "a hit the reader may not see: {context}");
                assert_eq!(total, hits.len() as u64, "total counts more than the hits: {context}");
                assert!(total <= visible.len() as u64, "total above what the reader may see: {context}");
                assert!(facet_total(&result) <= 5 * total, "facets count hidden documents: {context}");
                for (name, counts) in result["facets"].as_object().expect("facets") {
                    for (value, count) in counts.as_object().expect("counts") {
                        assert!(count.as_u64().expect("count") <= total, "facet {name}={value}: {context}");
                    }
                }
            }
        }
        // Let go: B catches up and answers exactly what the database allows.
        b.feed.hold(false);
        for (persona, token) in &readers {
            let mut visible = Vec::new();
            for candidate in &ids {
                if a.get_as(token, &format!("/api/v1/documents/{candidate}")).await.status() == 200 {
                    visible.push(candidate.clone());
                }
            }
            visible.sort();
            until(&format!("B, caught up, shows {persona} exactly the visible documents"), async || {
                let mut hits = hit_ids(&search(&b, token, &query).await);
                hits.sort();
                hits == visible
            })
            .await;
        }
    }
}

async fn a_lapsed_lease_cannot_finish_its_job(backend: Backend) {
    use anaspoc::ingest::jobs::{self, Lease};
    // No workers: the job stays for the test to claim by hand.
    let app = TestApp::spawn_on_with(backend, |s| s.ingest.workers = false).await;
    let rs = app.token("analyst-rs").await;
    // Past the 8 KiB an upload extracts in hand, so that it gets a job.
    create(&app, &rs, &metadata("Leased"), "leased text ".repeat(1000).as_bytes()).await;

    let first = jobs::claim(&app.db, 8, Duration::from_millis(1)).await.expect("claim");
    assert_eq!(first.len(), 1, "the upload's extraction job");
    let old = Lease::of(&first[0]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The lease ran out (by the database's clock on PostgreSQL): another worker takes the job.
    let second = jobs::claim(&app.db, 8, Duration::from_secs(60)).await.expect("claim again");
    assert_eq!(second.len(), 1, "the lapsed job is claimable again");
    let new = Lease::of(&second[0]);
    assert_ne!(old.token, new.token);
    assert!(jobs::claim(&app.db, 8, Duration::from_secs(60)).await.expect("claim").is_empty(), "held now");

    // The old worker can neither finish, fail, retry nor renew it.
    assert!(!jobs::finish(&app.db, &old).await.expect("finish"), "the old lease finished the job");
    assert!(!jobs::fail(&app.db, &old, "late").await.expect("fail"), "the old lease failed the job");
    assert!(!jobs::retry_later(&app.db, &old, "late", Duration::ZERO).await.expect("retry"), "the old lease retried");
    assert!(!jobs::hold(&app.db, &old).await.expect("hold"));
    jobs::renew(&app.db, std::slice::from_ref(&old), Duration::from_secs(600)).await.expect("renew");
    assert_eq!(jobs::outstanding(&app.db).await.expect("count"), 1, "the job is still there");
    // Its current owner can.
    assert!(jobs::finish(&app.db, &new).await.expect("finish"));
    assert_eq!(jobs::outstanding(&app.db).await.expect("count"), 0);
}

/// A real `anaspoc demo` replica process on the database and object store of a test app (the
/// S3 peer or a local directory), trusting the app's identity provider.
struct Replica {
    child: Child,
    base: String,
}

impl Replica {
    fn start(app: &TestApp, dir: &std::path::Path, port: u16, env: &[(&str, String)]) -> Self {
        let settings = &app.settings;
        let mut command = Command::new(env!("CARGO_BIN_EXE_anaspoc"));
        command
            .args(["demo", "--empty"])
            .current_dir(dir)
            .env("ANASPOC__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("ANASPOC__SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("ANASPOC__SEARCH__INDEX_DIR", dir.join("index"))
            .env("ANASPOC__OIDC__ISSUER_URL", format!("{}{}", app.base, anaspoc::auth::demo_idp::MOUNT_PATH))
            .env("ANASPOC__INGEST__EXTRACTOR", env!("CARGO_BIN_EXE_anaspoc"))
            .env("ANASPOC__LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .envs(crate::helpers::shared_env(settings));
        for (key, value) in env {
            command.env(key, value);
        }
        Self { child: command.spawn().expect("start anaspoc"), base: format!("http://127.0.0.1:{port}") }
    }

    /// `anaspoc_search_feed_applied` from the replica's metrics (open in demo mode).
    async fn applied(&self) -> Option<i64> {
        let text = reqwest::get(format!("{}/metrics", self.base)).await.ok()?.text().await.ok()?;
        text.lines().find(|l| l.starts_with("anaspoc_search_feed_applied "))?.split(' ').nth(1)?.parse().ok()
    }

    async fn ready(&self) -> bool {
        reqwest::get(format!("{}/readyz", self.base)).await.is_ok_and(|r| r.status() == 200)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A replica started with an empty index builds it from the feed; killed with SIGKILL in the
/// middle, it restarts from its last committed cursor: every document once, none missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_feed_catches_up_without_gaps_or_doubles() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let a = TestApp::spawn_on_with(Backend::Production, |s| s.limits.uploads_per_minute = 10_000).await;
    let rs = a.token("analyst-rs").await;
    let word = format!("oporavak{}", uuid::Uuid::new_v4().simple());
    let documents = 100;
    let released = with(metadata("Feed"), json!({"releasable_to": ["ALL"], "tlp": "GREEN"}));
    let uploads =
        (0..documents).map(|n| {
            let (a, rs, released, word) = (&a, &rs, &released, &word);
            async move {
                create(a, rs, released, format!("{word} item {n}").as_bytes()).await["id"].as_str().map(str::to_owned)
            }
        });
    let mut ids: Vec<String> = futures_util::future::join_all(uploads).await.into_iter().flatten().collect();
    ids.sort();
    assert_eq!(ids.len(), documents);
    let al = a.token("analyst-al").await;
    let query = format!("q={}&limit=100", q(&word));
    until("A has every document", async || search(&a, &al, &query).await["total"] == documents).await;

    // A new replica, applying 5 changes per commit, slowed down so it can be killed midway.
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let slow = [("ANASPOC__SEARCH__FOLLOW_BATCH", "5".to_owned())];
    let mut replica = Replica::start(&a, dir.path(), port, &slow);
    let head = anaspoc::db::feed::head(&a.db).await.expect("head").seq;
    until("the new replica has applied part of the feed", async || {
        replica.applied().await.is_some_and(|applied| applied > 0)
    })
    .await;
    let killed_at = replica.applied().await.unwrap_or_default();
    let _ = Command::new("kill").args(["-KILL", &replica.child.id().to_string()]).status();
    let _ = replica.child.wait();
    assert!(killed_at < head, "killed after the feed was applied ({killed_at} of {head}): nothing tested");

    replica = Replica::start(&a, dir.path(), port, &[]);
    until("the restarted replica is ready (caught up)", async || replica.ready().await).await;
    let result: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/search?{query}", replica.base))
        .bearer_auth(&al)
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    let mut found = hit_ids(&result);
    found.sort();
    assert_eq!(result["total"], documents, "every document exactly once: {}", result["total"]);
    assert_eq!(found, ids, "the same documents");
}

/// Concurrent audited requests on three replicas: one trail, gap-free and linear, that verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audited_requests_on_three_replicas_leave_one_chain() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let a = TestApp::spawn_on(Backend::Production).await;
    let (b, c) = tokio::join!(a.replica(|_| {}), a.replica(|_| {}));
    let al = a.token("analyst-al").await;
    let calls = [&a, &b, &c].into_iter().flat_map(|replica| {
        let al = &al;
        (0..30).map(move |n| async move {
            let path = if n % 2 == 0 { "/api/v1/me".to_owned() } else { format!("/api/v1/search?q=ruta{n}") };
            replica.get_as(al, &path).await.status().as_u16()
        })
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let trail = anaspoc::audit::Trail::new(a.db.clone());
    let verified = anaspoc::audit::verify::verify_database(&trail, Vec::new(), None).await.expect("verify");
    assert!(verified.is_ok(), "{verified:?}");
    let searches = trail
        .events_after(&anaspoc::audit::Filter::default(), 0, 10_000)
        .await
        .expect("events")
        .iter()
        .filter(|e| e.action == anaspoc::audit::Action::SearchQuery)
        .count();
    assert_eq!(searches, 45, "every search of the three replicas is in the one trail");
}

/// A replica on PostgreSQL does not start without the shared checkpoint signing key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_replica_needs_the_shared_signing_key() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let a = TestApp::spawn_on(Backend::Production).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = a.replica_settings(dir.path());
    settings.audit.signing_key_file = dir.path().join("missing.pem").display().to_string();
    let refused = anaspoc::startup::Application::build(settings).await.err().expect("refused");
    assert!(refused.to_string().contains("anaspoc audit keygen"), "{refused}");
}

/// On PostgreSQL a user's allowance holds for the cluster: searches spread over two replicas are
/// refused once together they exceed `limits.searches_per_minute`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_replicas() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let a = TestApp::spawn_on_with(Backend::Production, |s| s.limits.searches_per_minute = 4).await;
    let b = a.replica(|_| {}).await;
    let al = a.token("analyst-al").await;
    for replica in [&a, &b, &a, &b] {
        assert_eq!(replica.get_as(&al, "/api/v1/search?q=granica").await.status(), 200);
    }
    for replica in [&b, &a] {
        let refused = replica.get_as(&al, "/api/v1/search?q=granica").await;
        assert_eq!(refused.status(), 429, "the fifth search of the minute, on either replica");
        let wait: u64 = refused.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=20).contains(&wait), "Retry-After {wait}");
    }
    // Another user's allowance is their own.
    let ba = a.token("analyst-ba").await;
    assert_eq!(b.get_as(&ba, "/api/v1/search?q=granica").await.status(), 200);
}

/// Two processes on one SQLite file and one local object store (the embedded platform run
/// twice on one machine): a document uploaded through the test's server is found through the
/// other process, and a withdrawal there stops counting here at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_sqlite_file_follow_each_other() {
    let a = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let b = Replica::start(&a, dir.path(), port, &[]);
    until("the second process is ready", async || b.ready().await).await;
    let rs = a.token("analyst-rs").await;
    let al = a.token("analyst-al").await;
    let word = format!("dvaprocesa{}", uuid::Uuid::new_v4().simple());
    let released = with(metadata("Two processes"), json!({"releasable_to": ["ALL"], "tlp": "GREEN"}));
    let created = create(&a, &rs, &released, format!("{word} izvjestaj").as_bytes()).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let client = reqwest::Client::new();
    let search_b = async |token: &str| -> Value {
        client
            .get(format!("{}/api/v1/search?q={word}", b.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("json")
    };
    until("found through the other process", async || hit_ids(&search_b(&al).await).contains(&id)).await;

    let withdrawn = client
        .post(format!("{}/api/v1/documents/{id}/withdraw", b.base))
        .bearer_auth(&rs)
        .send()
        .await
        .expect("withdraw");
    assert_eq!(withdrawn.status(), 200);
    let result = search(&a, &al, &format!("q={word}")).await;
    assert!(!counts(&result, &id), "withdrawn in the other process, still counted here: {result}");
}

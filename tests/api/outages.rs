//! When a dependency stalls or dies (README, "When a dependency fails"): the object store frozen
//! (SIGSTOP) or killed (SIGKILL) — an S3 server of the test's own —, a PostgreSQL cluster of the
//! test's own stopped as a crash under load, and what the platform answers meanwhile: `/readyz`
//! at once, 503 `dependency-unavailable` within the time-outs, nothing half-stored, the audit
//! chain intact, and recovery without a restart. Figures are printed (`--nocapture`).

use serde_json::Value;

use crate::helpers::TestApp;

/// An S3 server of the test's own (s3s-fs, installed with the S3 peer), to freeze and thaw.
struct OwnStore {
    child: std::process::Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl OwnStore {
    fn start() -> Self {
        let root = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(root.path().join("frozen")).expect("bucket");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = Self::spawn(root.path(), port);
        Self { child, port, _root: root }
    }

    fn spawn(root: &std::path::Path, port: u16) -> std::process::Child {
        let access = std::env::var("AWS_ACCESS_KEY_ID").expect("key");
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").expect("secret");
        std::process::Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", &access])
            .args(["--secret-key", &secret])
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("s3s-fs (installed with the S3 peer)")
    }

    /// SIGKILL, as a crash.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start again on the same port and data.
    fn restart(&mut self) {
        self.child = Self::spawn(self._root.path(), self.port);
    }

    /// Point `settings` at this store, with short time-outs.
    fn configure(&self, settings: &mut anaspoc::config::Settings) {
        settings.storage.kind = anaspoc::config::StorageKind::S3;
        settings.storage.endpoint = format!("http://127.0.0.1:{}", self.port);
        settings.storage.bucket = "frozen".into();
        settings.storage.allow_http = true;
        settings.storage.read_timeout_ms = 1000;
        settings.storage.max_retries = 1;
        settings.storage.retry_timeout_ms = 3000;
        settings.storage.breaker_failures = 1;
        settings.storage.breaker_cooldown_ms = 2000;
        settings.health.check_interval_ms = 200;
        settings.health.check_timeout_ms = 500;
    }

    fn signal(&self, name: &str) {
        std::process::Command::new("kill").args([name, &self.child.id().to_string()]).status().expect("kill");
    }
}

impl Drop for OwnStore {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ready(app: &TestApp) -> (reqwest::StatusCode, Value, std::time::Duration) {
    let started = std::time::Instant::now();
    let response = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    (status, body, started.elapsed())
}

async fn until_ready(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body, _) = ready(app).await;
        if status == 200 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not ready: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `/readyz` until it answers 503 — every answer within 1.5 s, whatever is down — and its body.
async fn until_not_ready(app: &TestApp) -> Value {
    for _ in 0..40 {
        let (status, body, took) = ready(app).await;
        assert!(took < std::time::Duration::from_millis(1500), "the probe took {took:?}");
        if status == 503 {
            eprintln!("/readyz answered 503 in {took:?}: {body}");
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("/readyz never reported the outage");
}

/// Upload until the platform accepts again — only 503 meanwhile, at most 20 s.
async fn upload_once_recovered(app: &TestApp, token: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let meta = crate::documents::metadata("Poslije oporavka");
    loop {
        let response = crate::documents::upload(app, token, &meta, b"Opet radi.".to_vec(), "o.txt").await;
        if response.status() == 201 {
            return;
        }
        assert_eq!(response.status(), 503, "only 503 while recovering");
        assert!(std::time::Instant::now() < deadline, "uploads never worked again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A frozen object store (its own s3s-fs, SIGSTOPped) does not freeze the probe: `/readyz`
/// answers within the check time-out with storage failing and the other components good, and
/// reports storage good again by itself once the store thaws (SIGCONT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_answers_at_once_while_the_object_store_is_frozen() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let store = OwnStore::start();
    // The store's own time-outs long: only readiness's bound can report it failing in time.
    let app = TestApp::spawn_with(|s| {
        store.configure(s);
        s.storage.read_timeout_ms = 60_000;
        s.storage.retry_timeout_ms = 60_000;
    })
    .await;
    until_ready(&app).await;

    store.signal("-STOP");
    let body = until_not_ready(&app).await;
    assert_eq!(body["checks"]["storage"], "failing", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert!(body["last_ok_secs_ago"]["storage"].as_f64().is_some_and(|secs| secs > 0.0), "{body}");

    store.signal("-CONT");
    until_ready(&app).await;
}

/// While the object store is frozen, an upload and a download answer 503
/// `dependency-unavailable` with `Retry-After` within the configured time-outs — no hang, no 500
/// — and the upload leaves no row behind; once the store thaws, uploads work again without a
/// restart, and the audit chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_object_store_answers_503_in_time_and_loses_nothing() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let store = OwnStore::start();
    let app = TestApp::spawn_with(|s| store.configure(s)).await;
    until_ready(&app).await;
    let rs = app.token("analyst-rs").await;
    let meta = crate::documents::metadata("Prije zamrzavanja");
    let before = crate::documents::create(&app, &rs, &meta, b"Izvjestaj prije zamrzavanja.").await;
    let id = before["id"].as_str().expect("id").to_owned();
    let rows = crate::documents::stored_rows(&app).await;

    store.signal("-STOP");
    let started = std::time::Instant::now();
    let refused = crate::documents::upload(&app, &rs, &meta, b"Za vrijeme zamrzavanja.".to_vec(), "z.txt").await;
    let took = started.elapsed();
    let retry = refused.headers().get("retry-after").cloned();
    let body = crate::documents::problem(refused, 503).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:dependency-unavailable", "{body}");
    assert!(retry.is_some(), "Retry-After");
    assert!(took < std::time::Duration::from_secs(10), "the upload took {took:?} with the store frozen");
    eprintln!("frozen object store: upload answered 503 after {took:?}");
    assert_eq!(crate::documents::stored_rows(&app).await, rows, "nothing half-stored");

    // The breaker is open now: the next request does not wait for the time-outs again.
    let started = std::time::Instant::now();
    let download = app.get_as(&rs, &format!("/api/v1/documents/{id}/content")).await;
    let took = started.elapsed();
    let body = crate::documents::problem(download, 503).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:dependency-unavailable", "{body}");
    assert!(took < std::time::Duration::from_millis(500), "the download took {took:?}: the breaker should be open");
    eprintln!("frozen object store, breaker open: download answered 503 after {took:?}");

    store.signal("-CONT");
    // After the cooldown one request tries the store again; it answers, the breaker closes.
    upload_once_recovered(&app, &rs).await;
    let verified = crate::audit::verify(&app).await;
    assert_eq!(verified["status"], "ok", "{verified}");
}

/// A PostgreSQL cluster of the test's own (initdb on a free port, run as `postgres`), to stop
/// and start under a running server.
struct OwnPostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn start() -> Self {
        // The newest installed version (directories named by major version).
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL binaries (installed with the PostgreSQL peer)")
            .flatten()
            .filter(|version| version.path().join("bin/initdb").exists())
            .max_by_key(|version| version.file_name().to_string_lossy().parse::<f64>().unwrap_or(0.0) as u64)
            .map(|version| version.path().join("bin"))
            .expect("a PostgreSQL version with initdb");
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        std::process::Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().expect("chown");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let initdb = Self::as_postgres(
            &bin.join("initdb"),
            &["-D", &data.display().to_string(), "--auth=trust", "-U", "postgres"],
        );
        assert!(initdb.success(), "initdb");
        let cluster = Self { bin, dir, port };
        cluster.ctl("start");
        cluster
    }

    fn as_postgres(program: &std::path::Path, args: &[&str]) -> std::process::ExitStatus {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("runuser")
    }

    /// `pg_ctl start` (waiting until it accepts connections) or `stop` (immediate: as a crash).
    fn ctl(&self, action: &str) {
        let data = self.dir.path().join("data").display().to_string();
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let args = match action {
            "start" => vec!["start", "-w", "-D", &data, "-o", &options, "-l", "/dev/null"],
            _ => vec!["stop", "-w", "-D", &data, "-m", "immediate"],
        };
        let status = Self::as_postgres(&self.bin.join("pg_ctl"), &args);
        assert!(status.success(), "pg_ctl {action}");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = Self::as_postgres(&self.bin.join("pg_ctl"), &["stop", "-D", &data, "-m", "immediate"]);
    }
}

/// The database stopped under a running server and load (as a crash): requests that need it answer 503
/// `dependency-unavailable` within the acquire time-out, an upload leaves no object behind,
/// `/readyz` answers at once with the database failing; started again, everything works without
/// a restart and the audit chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_answers_503_and_recovers_by_itself() {
    if crate::helpers::peer(crate::helpers::DATABASE_URL_VAR).is_none() {
        return;
    }
    let postgres = OwnPostgres::start();
    let url = postgres.url();
    let app = TestApp::spawn_with(move |s| {
        s.database.url = url;
        s.database.acquire_timeout_ms = 1000;
        s.health.check_interval_ms = 200;
        s.health.check_timeout_ms = 500;
    })
    .await;
    until_ready(&app).await;
    let rs = app.token("analyst-rs").await;
    let meta = crate::documents::metadata("Prije pada baze");
    let before = crate::documents::create(&app, &rs, &meta, b"Prije pada baze.").await;
    let id = before["id"].as_str().expect("id").to_owned();
    let objects = crate::documents::stored_objects(&app).await;

    // Load throughout the outage: reads and searches from 4 clients, each bounded by 10 s.
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load: Vec<_> = (0..4)
        .map(|n| {
            let (client, base, token, running) = (app.client.clone(), app.base.clone(), rs.clone(), running.clone());
            let path = if n % 2 == 0 { format!("/api/v1/documents/{id}") } else { "/api/v1/search?q=baze".into() };
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    let request = client.get(format!("{base}{path}")).bearer_auth(&token).send();
                    match tokio::time::timeout(std::time::Duration::from_secs(10), request).await {
                        Ok(Ok(response)) => statuses.push(response.status().as_u16()),
                        Ok(Err(error)) => panic!("{path}: {error}"),
                        Err(_) => panic!("{path}: no answer within 10 s"),
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                statuses
            })
        })
        .collect();

    postgres.ctl("stop");
    for path in [format!("/api/v1/documents/{id}"), "/api/v1/search?q=baze".to_owned()] {
        let started = std::time::Instant::now();
        let response = app.get_as(&rs, &path).await;
        let took = started.elapsed();
        let body = crate::documents::problem(response, 503).await;
        assert_eq!(body["type"], "urn:anaspoc:problem:dependency-unavailable", "{path}: {body}");
        assert!(took < std::time::Duration::from_secs(5), "{path} took {took:?} with the database down");
        eprintln!("stopped database: {path} answered 503 after {took:?}");
    }
    let started = std::time::Instant::now();
    let refused = crate::documents::upload(&app, &rs, &meta, b"Za vrijeme pada.".to_vec(), "p.txt").await;
    let took = started.elapsed();
    let body = crate::documents::problem(refused, 503).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:dependency-unavailable", "{body}");
    eprintln!("stopped database: upload answered 503 after {took:?}");
    assert_eq!(crate::documents::stored_objects(&app).await, objects, "the refused upload's object was removed");
    let body = until_not_ready(&app).await;
    assert_eq!(body["checks"]["database"], "failing", "{body}");

    postgres.ctl("start");
    until_ready(&app).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    for task in load {
        statuses.extend(task.await.expect("load"));
    }
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "only 200 or 503 under load: {statuses:?}");
    assert!(statuses.contains(&503) && statuses.contains(&200), "the load saw the outage: {statuses:?}");
    assert_eq!(app.get_as(&rs, &format!("/api/v1/documents/{id}")).await.status(), 200, "recovered without restart");
    crate::documents::create(&app, &rs, &meta, b"Poslije pada baze.").await;
    let verified = crate::audit::verify(&app).await;
    assert_eq!(verified["status"], "ok", "{verified}");
}

/// A download whose object store freezes mid-stream is cut: the client gets a short body and an
/// error within the read time-out, never a full-length corrupted one nor a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_by_a_frozen_store_ends_short_and_in_time() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let store = OwnStore::start();
    let app = TestApp::spawn_with(|s| store.configure(s)).await;
    until_ready(&app).await;
    let rs = app.token("analyst-rs").await;
    // 24 MiB of text: more than the server and the socket buffer between store and client.
    let line = "Kontrabanda preko granice, izvještaj za analitičare.\n";
    let body = line.repeat(24 * 1024 * 1024 / line.len());
    let meta = crate::documents::metadata("Veliki izvjestaj");
    let response = crate::documents::upload(&app, &rs, &meta, body.clone().into_bytes(), "big.txt").await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();

    let mut download = app.get_as(&rs, &format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(download.status(), 200);
    let length: usize = download.headers()["content-length"].to_str().expect("ascii").parse().expect("length");
    assert_eq!(length, body.len());
    let first = download.chunk().await.expect("first bytes").expect("a chunk");
    store.signal("-STOP");
    let started = std::time::Instant::now();
    let mut received = first.len();
    let ended = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), download.chunk()).await {
            Ok(Ok(Some(chunk))) => received += chunk.len(),
            Ok(Ok(None)) => break "end",
            Ok(Err(_)) => break "error",
            Err(_) => break "hang",
        }
    };
    let took = started.elapsed();
    store.signal("-CONT");
    eprintln!("frozen mid-download: {received} of {length} bytes, then {ended} after {took:?}");
    assert_eq!(ended, "error", "a cut download ends with an error, not a clean end or a hang");
    assert!(received < length, "short: {received} of {length}");
    assert!(took < std::time::Duration::from_secs(10), "cut after {took:?}");
}

/// Extraction while the object store is frozen: the worker pauses and puts the job back without
/// counting an attempt (a dead dependency says nothing about the file), and finishes it by
/// itself once the store thaws — the version never ends up `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_pauses_through_a_store_outage_and_resumes_by_itself() {
    use anaspoc::db::entities::ingest_job;
    use sea_orm::EntityTrait;
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let store = OwnStore::start();
    // No workers here: the upload's job waits for the replica below.
    let app = TestApp::spawn_with(|s| {
        store.configure(s);
        s.ingest.workers = false;
    })
    .await;
    until_ready(&app).await;
    let rs = app.token("analyst-rs").await;
    let meta = crate::documents::metadata("Tijekom prekida");
    // Past the 8 KiB an upload extracts in hand, so that it gets a job.
    let body = "Izvjestaj o prekidu skladista. ".repeat(300);
    let created = crate::documents::create(&app, &rs, &meta, body.as_bytes()).await;
    let id = created["id"].as_str().expect("id").to_owned();

    store.signal("-STOP");
    let worker = app.replica(|s| s.ingest.workers = true).await;
    tokio::time::sleep(std::time::Duration::from_secs(9)).await;
    let jobs = ingest_job::Entity::find().all(&app.db).await.expect("jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(jobs[0].attempts <= 1, "an outage does not use up attempts: {jobs:?}");
    assert_ne!(jobs[0].state, "failed", "{jobs:?}");

    store.signal("-CONT");
    let document = crate::search::wait_until_ingested(&worker, &rs, &id).await;
    assert_eq!(document["versions"][0]["ingest"]["state"], "indexed", "{document}");
}

/// The object store killed (SIGKILL) in the middle of an upload: the upload answers 503
/// `dependency-unavailable`, leaves no row and no object; the store started again, uploads work
/// without a restart of the platform.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_killed_mid_upload_answers_503_and_keeps_nothing() {
    if crate::helpers::production_peers().is_none() {
        return;
    }
    let mut store = OwnStore::start();
    let app = TestApp::spawn_with(|s| store.configure(s)).await;
    until_ready(&app).await;
    let rs = app.token("analyst-rs").await;
    let objects = crate::documents::stored_objects(&app).await;
    let rows = crate::documents::stored_rows(&app).await;

    // 24 MiB sent in 1 MiB chunks; the store dies after the first 12 (two parts stored).
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(crate::documents::metadata("Prekinuto").to_string())
                .mime_str("application/json")
                .expect("mime"),
        )
        .part(
            "file",
            reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), 24 << 20)
                .file_name("big.txt"),
        );
    let request = app.client.post(app.url("/api/v1/documents")).bearer_auth(&rs).multipart(form).send();
    let answer = tokio::spawn(request);
    let line = "Izvjestaj o krijumcarenju.\n".repeat((1 << 20) / 27 + 1);
    let chunk = line.as_bytes()[..1 << 20].to_vec();
    for _ in 0..12 {
        chunks.send(Ok(chunk.clone())).await.expect("sending");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    store.kill();
    let killed = std::time::Instant::now();
    for _ in 0..12 {
        if tokio::time::timeout(std::time::Duration::from_secs(2), chunks.send(Ok(chunk.clone()))).await.is_err() {
            break;
        }
    }
    drop(chunks);
    let response = tokio::time::timeout(std::time::Duration::from_secs(30), answer)
        .await
        .expect("an answer, not a hang")
        .expect("task")
        .expect("a response");
    let took = killed.elapsed();
    let body = crate::documents::problem(response, 503).await;
    assert_eq!(body["type"], "urn:anaspoc:problem:dependency-unavailable", "{body}");
    eprintln!("object store killed mid-upload: 503 after {took:?}");
    assert_eq!(crate::documents::stored_rows(&app).await, rows, "no row");

    store.restart();
    until_ready(&app).await;
    assert_eq!(crate::documents::stored_objects(&app).await, objects, "no object");
    upload_once_recovered(&app, &rs).await;
}

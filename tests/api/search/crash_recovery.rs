//! The real binary, killed in the middle of ingest (SIGKILL), restarts and finishes the work:
//! nothing lost, nothing half-done. A deleted index is rebuilt from the change feed at start-up,
//! and `anaspoc reindex` rebuilds it from the database and the stored text. A changed
//! classification ladder empties and rebuilds the index, so old ranks never count.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn configure(command: &mut Command, dir: &Path, port: u16) {
    command
        .current_dir(dir)
        .env("ANASPOC__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("ANASPOC__SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("ANASPOC__DATABASE__URL", format!("sqlite://{}/anaspoc.db?mode=rwc", dir.display()))
        .env("ANASPOC__STORAGE__PATH", dir.join("objects"))
        .env("ANASPOC__SEARCH__INDEX_DIR", dir.join("index"))
        .env("ANASPOC__AUDIT__SIGNING_KEY_FILE", dir.join("audit.pem"))
        .env("ANASPOC__LOG__LEVEL", "warn");
}

async fn start(dir: &Path, port: u16) -> Server {
    start_with(dir, port, &[]).await
}

async fn start_with(dir: &Path, port: u16, env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_anaspoc"));
    command.args(["demo", "--empty"]).stdout(Stdio::null()).stderr(Stdio::null());
    configure(&mut command, dir, port);
    command.envs(env.iter().copied());
    let child = command.spawn().expect("start anaspoc");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/readyz")).await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

impl Server {
    async fn token(&self) -> String {
        self.token_for("analyst-rs").await
    }

    async fn token_for(&self, persona: &str) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/demo-idp/token", self.base))
            .form(&[("grant_type", "password"), ("username", persona)])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn crash(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    async fn search(&self, token: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}/api/v1/search?q=kontrabanda&limit=100", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("json")
    }

    /// Wait until `expected` documents are searchable with every version through ingest.
    async fn wait_for_all(&self, token: &str, expected: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let result = self.search(token).await;
            if result["total"] == expected && result["hits"].as_array().map(Vec::len) == Some(expected) {
                return result;
            }
            assert!(Instant::now() < deadline, "only {} of {expected} searchable", result["total"]);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_ingest_loses_nothing_and_the_index_rebuilds_itself() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let server = start(dir.path(), port).await;
    let token = server.token().await;
    let client = reqwest::Client::new();
    let documents = 40;
    let uploads = (0..documents).map(|n| {
        let form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::text(format!(
                    r#"{{"title":"Izvještaj {n}","classification":"SENSITIVE","tlp":"AMBER","handling_code":"H1","releasable_to":["ALL"],"publish":true}}"#
                ))
                .mime_str("application/json")
                .expect("mime"),
            )
            // Past the 8 KiB an upload extracts in hand: these go through ingest jobs.
            .part("file", reqwest::multipart::Part::bytes(format!("Kontrabanda broj {n} preko granice. ").repeat(300).into_bytes()).file_name("r.txt"));
        client.post(format!("{}/api/v1/documents", server.base)).bearer_auth(&token).multipart(form).send()
    });
    for response in futures_util::future::join_all(uploads).await {
        assert_eq!(response.expect("upload").status(), 201);
    }
    // Kill it while the workers are busy with those uploads.
    server.crash();

    let server = start(dir.path(), port).await;
    let token = server.token().await;
    server.wait_for_all(&token, documents).await;
    // The jobs the crash interrupted are taken over once their lease runs out.
    let deadline = Instant::now() + Duration::from_secs(90);
    while anaspoc_jobs(dir.path()).await > 0 {
        assert!(Instant::now() < deadline, "ingest jobs left unfinished");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    server.stop();

    // Losing the index entirely: the follower rebuilds it from the change feed.
    std::fs::remove_dir_all(dir.path().join("index")).expect("remove index");
    let server = start(dir.path(), port).await;
    let token = server.token().await;
    server.wait_for_all(&token, documents).await;
    server.stop();

    // `anaspoc reindex` rebuilds it from the feed (the database and the stored text), server stopped.
    std::fs::remove_dir_all(dir.path().join("index")).expect("remove index");
    let mut reindex = Command::new(env!("CARGO_BIN_EXE_anaspoc"));
    reindex.arg("--profile").arg("demo").arg("reindex");
    configure(&mut reindex, dir.path(), port);
    let output = reindex.output().expect("reindex");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("index holds {documents} documents")), "{stdout}");
    let server = start(dir.path(), port).await;
    let token = server.token().await;
    // Immediately searchable: the index resumes from the cursor the rebuild committed.
    let result = server.search(&token).await;
    assert_eq!(result["hits"].as_array().map(Vec::len), Some(documents), "{result}");
    server.stop();

    // The ladder changes: SENSITIVE now ranks above RESTRICTED. An index keeping the old ranks
    // would let a RESTRICTED analyst count the SENSITIVE documents; it is rebuilt instead.
    let reordered = [("ANASPOC__POLICY__LEVELS", r#"["UNCLASSIFIED", "RESTRICTED", "SENSITIVE", "CONFIDENTIAL"]"#)];
    let server = start_with(dir.path(), port, &reordered).await;
    let restricted = server.token_for("analyst-xk").await;
    let nothing = |result: &Value| {
        result["total"] == 0
            && result["hits"] == serde_json::json!([])
            && result["facets"]["classification"] == serde_json::json!({})
    };
    let early = server.search(&restricted).await;
    assert!(nothing(&early), "right after the restart: {early}");
    let sensitive = server.token_for("analyst-ba").await;
    server.wait_for_all(&sensitive, documents).await;
    let rebuilt = server.search(&restricted).await;
    assert!(nothing(&rebuilt), "after the rebuild: {rebuilt}");
    server.stop();
}

/// Unfinished ingest jobs in the database of a stopped or running server.
async fn anaspoc_jobs(dir: &Path) -> u64 {
    let settings = anaspoc::config::DatabaseSettings {
        url: format!("sqlite://{}/anaspoc.db?mode=rwc", dir.display()),
        max_connections: 1,
        auto_migrate: false,
        acquire_timeout_ms: 5000,
        statement_timeout_ms: 30000,
    };
    let db = anaspoc::db::connect(&settings).await.expect("db");
    anaspoc::ingest::jobs::outstanding(&db).await.expect("count")
}

/// SIGKILL while 8 clients keep uploading: every upload that was answered 201 is there after the
/// restart — its document, its bytes (same SHA-256), and its text searchable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_under_concurrent_uploads_loses_no_acknowledged_document() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let server = start(dir.path(), port).await;
    let token = server.token().await;
    let base = server.base.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = (0..8).map(|client| {
        let (base, token, stop) = (base.clone(), token.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = format!("Kontrabanda klijent {client} broj {n}.");
                let form = reqwest::multipart::Form::new()
                    .part(
                        "metadata",
                        reqwest::multipart::Part::text(format!(
                            r#"{{"title":"Pod opterećenjem {client}-{n}","classification":"SENSITIVE","tlp":"AMBER","handling_code":"H1","releasable_to":["ALL"],"publish":true}}"#
                        ))
                        .mime_str("application/json")
                        .expect("mime"),
                    )
                    .part("file", reqwest::multipart::Part::bytes(text.clone().into_bytes()).file_name("r.txt"));
                match http.post(format!("{base}/api/v1/documents")).bearer_auth(&token).multipart(form).send().await {
                    Ok(response) if response.status() == 201 => {
                        if let Ok(body) = response.json::<Value>().await {
                            acknowledged.push((body["id"].as_str().unwrap_or_default().to_owned(), text));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
                n += 1;
            }
            acknowledged
        })
    });
    let clients: Vec<_> = clients.collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.crash();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.expect("client"));
    }
    assert!(acknowledged.len() >= 8, "the load was running: {} acknowledged", acknowledged.len());

    let server = start(dir.path(), port).await;
    let token = server.token().await;
    let http = reqwest::Client::new();
    for (id, text) in &acknowledged {
        let content = http
            .get(format!("{}/api/v1/documents/{id}/content", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("download");
        assert_eq!(content.status(), 200, "acknowledged {id} is there after the kill");
        assert_eq!(content.text().await.expect("text"), *text, "{id}: its bytes");
    }
    // Searchable too (uploads committed but not answered before the kill may be there as well).
    let deadline = Instant::now() + Duration::from_secs(90);
    while server.search(&token).await["total"].as_u64().unwrap_or(0) < acknowledged.len() as u64 {
        assert!(Instant::now() < deadline, "not every acknowledged document became searchable");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("kill -9 under 8 concurrent uploaders: all {} acknowledged documents kept", acknowledged.len());
    server.stop();
}

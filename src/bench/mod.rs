//! `anaspoc bench`: one run that generates a reproducible corpus, ingests it end to end into a
//! real server (a child process, demo mode, embedded defaults), and prints side by side the
//! filtered-search latency and throughput of (a) the server over HTTP, (b) PostgreSQL full-text
//! search (tsvector + GIN) with the same policy filter on the same corpus, (c) raw tantivy in
//! process on the server's index — plus ingest rate, time-to-searchable and server memory.
//! Figures are printed, never asserted.

mod ceiling;
pub mod corpus;
mod import;
pub mod ocr;
pub mod ocr_corpus;
mod postgres;
pub mod replicas;
pub mod soak;
mod stats;
pub mod transfer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::auth::demo_idp::personas;
use crate::policy::{Capability, Ladder, Principal, VisibilityFilter, search_filter};
use crate::search::{Filters, QueryCaps, SearchIndex, SearchRequest, Sort};
use corpus::{CorpusDocument, CorpusQuery, Rng};
use stats::Latencies;

pub struct BenchOptions {
    pub documents: usize,
    pub seconds: u64,
    pub clients: Vec<usize>,
    pub seed: u64,
    pub postgres_url: Option<String>,
    pub upload_concurrency: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(options: BenchOptions) -> Result<(), BoxError> {
    let mut rng = Rng::new(options.seed);
    let vocabularies = corpus::vocabularies(&mut rng);
    let documents: Vec<CorpusDocument> =
        (0..options.documents).map(|_| corpus::document(&mut rng, &vocabularies)).collect();
    let queries = corpus::queries(&mut rng, &vocabularies, 500);
    println!(
        "corpus: {} documents ({} languages, seed {}), {} queries",
        documents.len(),
        vocabularies.len(),
        options.seed,
        queries.len()
    );

    let work = tempfile::Builder::new().prefix("anaspoc-bench-").tempdir()?;
    let server = Server::start(work.path())?;
    server.wait_ready().await?;
    let tokens = server.tokens().await?;
    let rss_empty = server.rss_kib();

    // Ingest end to end (stored, audited, extracted, indexed), until every job is done: most of
    // the corpus by bulk import, the rest by single uploads over HTTP.
    let (bulk, single) = documents.split_at(documents.len() - http_share(documents.len()));
    let manifests = import::write_manifests(work.path(), bulk)?;
    let started = Instant::now();
    for (persona, manifest) in &manifests {
        import::import(work.path(), manifest, persona)?;
    }
    let imported = started.elapsed();
    server.wait_ingested().await?;
    report_ingest("bulk import (anaspoc import)", bulk.len(), imported, started.elapsed(), 0);

    let started = Instant::now();
    let (server_before, client_before) =
        (stats::cpu_seconds(server.child.id()), stats::cpu_seconds(std::process::id()));
    let client = reqwest::Client::new();
    let uploads = futures_util::stream::iter(single.iter().map(|d| upload(&client, &server.base, &tokens, d)))
        .buffer_unordered(options.upload_concurrency);
    let failures = uploads.filter(|r| std::future::ready(r.is_err())).count().await;
    let uploaded = started.elapsed();
    server.wait_ingested().await?;
    report_ingest("single uploads over HTTP", single.len(), uploaded, started.elapsed(), failures);
    let count = single.len().max(1) as f64;
    println!(
        "CPU time per upload: server {} + HTTP client {}",
        stats::ms_f64((stats::cpu_seconds(server.child.id()) - server_before) / count),
        stats::ms_f64((stats::cpu_seconds(std::process::id()) - client_before) / count)
    );

    let tts = time_to_searchable(&client, &server.base, &tokens, 100).await?;
    println!(
        "time to searchable (upload answered → first hit): p50 {} p99 {}",
        stats::ms(tts.p(50.0)),
        stats::ms(tts.p(99.0))
    );

    let (hidden, missing) = hidden_versus_missing(&client, &server.base, &tokens, 400).await?;
    let (hidden_p50, missing_p50) = (hidden.p(50.0), missing.p(50.0));
    println!(
        "refusals (404): a document the caller may not see p50 {} p99 {}, an id that does not exist p50 {} p99 {}: \
         medians differ by {:+.1}%",
        stats::ms(hidden_p50),
        stats::ms(hidden.p(99.0)),
        stats::ms(missing_p50),
        stats::ms(missing.p(99.0)),
        (hidden_p50.as_secs_f64() / missing_p50.as_secs_f64().max(f64::EPSILON) - 1.0) * 100.0
    );

    let mut table: Vec<(String, usize, Latencies, f64)> = Vec::new();
    let mut cpu: Vec<String> = Vec::new();
    warm_server(&server.base, &tokens, &queries).await;
    for &clients in &options.clients {
        let (server_before, client_before) =
            (stats::cpu_seconds(server.child.id()), stats::cpu_seconds(std::process::id()));
        let (latencies, rate) =
            http_load(std::slice::from_ref(&server.base), &tokens, &queries, clients, options.seconds).await;
        let searches = latencies.len().max(1) as f64;
        cpu.push(format!(
            "{clients} client(s): server {} + HTTP client {} per search",
            stats::ms_f64((stats::cpu_seconds(server.child.id()) - server_before) / searches),
            stats::ms_f64((stats::cpu_seconds(std::process::id()) - client_before) / searches),
        ));
        table.push(("server over HTTP".into(), clients, latencies, rate));
    }
    let rss_loaded = server.rss_kib();
    let index_dir = work.path().join("index");
    server.stop();
    let (index_bytes, segments) = index_size(&index_dir);
    println!("index: {} MiB on disk, {segments} segments", index_bytes / (1024 * 1024));

    let index = SearchIndex::open(&index_dir)?;
    let uncached = index.without_statistics_cache();
    warm_index(&index, &queries).await;
    for (&clients, line) in options.clients.iter().zip(&mut cpu) {
        let before = stats::cpu_seconds(std::process::id());
        let (latencies, rate) = tantivy_load(&index, &queries, clients, options.seconds, visible_only).await;
        let per_search = (stats::cpu_seconds(std::process::id()) - before) / latencies.len().max(1) as f64;
        line.push_str(&format!("; raw tantivy in process {}", stats::ms_f64(per_search)));
        table.push((RAW.into(), clients, latencies, rate));
        let (latencies, rate) = tantivy_load(&uncached, &queries, clients, options.seconds, visible_only).await;
        table.push(("raw, statistics uncached".into(), clients, latencies, rate));
        let (latencies, rate) = tantivy_load(&index, &queries, clients, options.seconds, ceiling::search).await;
        table.push((CEILING.into(), clients, latencies, rate));
    }

    match &options.postgres_url {
        Some(url) => {
            let pg = postgres::Baseline::load(url, &documents).await?;
            println!("postgres: corpus loaded ({} rows, tsvector + GIN)", documents.len());
            for &clients in &options.clients {
                let (latencies, rate) = pg.load_test(&queries, clients, options.seconds).await;
                table.push(("PostgreSQL full-text".into(), clients, latencies, rate));
            }
            pg.drop_schema().await?;
        }
        None => println!("postgres: skipped (pass --postgres-url)"),
    }

    stats::print_table(&table);
    stats::print_security_cost(&table, RAW, CEILING);
    // Both processes share the machine's cores: what the HTTP client burns is not the server's.
    for line in cpu {
        println!("CPU time, {line}");
    }
    println!(
        "server RSS: {} MiB empty; with {} documents after the search load {} MiB ({} MiB heap and stacks, {} MiB mapped index files)",
        rss_empty.0 / 1024,
        documents.len(),
        rss_loaded.0 / 1024,
        rss_loaded.1 / 1024,
        rss_loaded.2 / 1024
    );
    Ok(())
}

/// Bytes of the index's files, and how many segments it has (one `.store` file each).
fn index_size(dir: &Path) -> (u64, usize) {
    let files: Vec<(u64, bool)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let size = entry.metadata().ok()?.len();
            Some((size, entry.path().extension().is_some_and(|e| e == "store")))
        })
        .collect();
    (files.iter().map(|(size, _)| size).sum(), files.iter().filter(|(_, store)| *store).count())
}

/// Documents of the corpus uploaded one by one over HTTP (the rest are imported in bulk).
fn http_share(documents: usize) -> usize {
    (documents / 5).clamp(documents.min(1_000), 20_000)
}

fn report_ingest(path: &str, documents: usize, answered: Duration, searchable: Duration, failures: usize) {
    println!(
        "ingest, {path}: {documents} documents stored in {:.1} s ({:.0}/s), searchable after {:.1} s: \
         {:.0} docs/s end to end ({failures} failed)",
        answered.as_secs_f64(),
        documents as f64 / answered.as_secs_f64().max(f64::EPSILON),
        searchable.as_secs_f64(),
        documents as f64 / searchable.as_secs_f64().max(f64::EPSILON)
    );
}

/// Per-user limits a benchmark does not meet.
const UNLIMITED: [(&str, &str); 3] = [
    ("ANASPOC__LIMITS__SEARCHES_PER_MINUTE", "1000000"),
    ("ANASPOC__LIMITS__DOWNLOADS_PER_MINUTE", "1000000"),
    ("ANASPOC__LIMITS__UPLOADS_PER_MINUTE", "1000000"),
];

struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Result<Self, BoxError> {
        Self::start_with(dir, &[])
    }

    /// With more configuration (`ANASPOC__…` variables). Per-user limits are set high enough
    /// that a run measures the server, not the limiter (`settings` may lower them); failed
    /// authentications keep the default.
    fn start_with(dir: &Path, settings: &[(&str, &str)]) -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        // Without the demo's sample corpus: a run measures its own.
        let child = Command::new(std::env::current_exe()?)
            .args(["demo", "--empty"])
            .current_dir(dir)
            .env("ANASPOC__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("ANASPOC__SERVER__PUBLIC_URL", &base)
            .env("ANASPOC__LOG__LEVEL", "error")
            .env("ANASPOC__SEARCH__INDEX_DIR", dir.join("index"))
            .envs(UNLIMITED)
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            // Errors only (the level above): kept beside the server's data for a failed run.
            .stderr(std::fs::File::create(dir.join("server.log"))?)
            .spawn()?;
        Ok(Self { child, base, dir: dir.to_path_buf() })
    }

    async fn wait_ready(&self) -> Result<(), BoxError> {
        for _ in 0..300 {
            if reqwest::get(format!("{}/readyz", self.base)).await.map(|r| r.status().is_success()).unwrap_or(false) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the server did not become ready".into())
    }

    async fn tokens(&self) -> Result<HashMap<&'static str, String>, BoxError> {
        let mut tokens = HashMap::new();
        for (persona, _) in corpus::UPLOADERS {
            tokens.insert(persona, self.token(persona).await?);
        }
        Ok(tokens)
    }

    /// A token of one demo persona.
    async fn token(&self, persona: &str) -> Result<String, BoxError> {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/demo-idp/token", self.base))
            .form(&[("grant_type", "password"), ("username", persona)])
            .send()
            .await?
            .json()
            .await?;
        Ok(body["access_token"].as_str().ok_or("no token")?.to_owned())
    }

    /// Until the server's job queue is empty (read from its SQLite database) and its index has
    /// applied the change feed up to its head.
    async fn wait_ingested(&self) -> Result<(), BoxError> {
        let settings = crate::config::DatabaseSettings {
            url: format!("sqlite://{}/data/anaspoc.db?mode=ro", self.dir.display()),
            max_connections: 1,
            auto_migrate: false,
            acquire_timeout_ms: 5000,
            statement_timeout_ms: 30000,
        };
        let db = crate::db::connect(&settings).await?;
        while crate::ingest::jobs::outstanding(&db).await? > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let head = crate::db::feed::head(&db).await?.seq;
        while applied(&self.base).await.unwrap_or(-1) < head {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Resident memory in KiB: (total, anonymous — heap and stacks, file-backed — mapped index
    /// pages the kernel can drop and re-read).
    fn rss_kib(&self) -> (u64, u64, u64) {
        let fields = self.memory_kib(&["VmRSS:", "RssAnon:", "RssFile:"]);
        (fields[0], fields[1], fields[2])
    }

    /// The peak of resident memory since the server started (KiB).
    fn peak_rss_kib(&self) -> u64 {
        self.memory_kib(&["VmHWM:"])[0]
    }

    /// Fields of the server's /proc status, in KiB (0 when unreadable).
    fn memory_kib(&self, names: &[&str]) -> Vec<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        names.iter().map(|name| field(name)).collect()
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// A run that fails midway leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How far a server's index has followed the change feed (its `/metrics`, open in demo mode).
async fn applied(base: &str) -> Option<i64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find(|l| l.starts_with("anaspoc_search_feed_applied "))?.split(' ').nth(1)?.parse().ok()
}

async fn upload(
    client: &reqwest::Client,
    base: &str,
    tokens: &HashMap<&'static str, String>,
    document: &CorpusDocument,
) -> Result<String, BoxError> {
    let token = tokens.get(document.uploader).ok_or("no token")?;
    let body = document.body.clone().into_bytes();
    let response = upload_request(client, base, token, document, body, "analysis.txt").send().await?;
    if !response.status().is_success() {
        return Err(format!("upload answered {}", response.status()).into());
    }
    let body: Value = response.json().await?;
    Ok(body["id"].as_str().unwrap_or_default().to_owned())
}

/// `POST /api/v1/documents` of `bytes` as `document`'s file, with its metadata.
fn upload_request(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    document: &CorpusDocument,
    bytes: Vec<u8>,
    filename: &str,
) -> reqwest::RequestBuilder {
    let form = reqwest::multipart::Form::new()
        .text("metadata", document.metadata().to_string())
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()));
    client.post(format!("{base}/api/v1/documents")).bearer_auth(token).multipart(form)
}

/// Upload documents with a unique word, one at a time, and time until each is found.
async fn time_to_searchable(
    client: &reqwest::Client,
    base: &str,
    tokens: &HashMap<&'static str, String>,
    samples: usize,
) -> Result<Latencies, BoxError> {
    let mut latencies = Latencies::default();
    for n in 0..samples {
        let word = format!("jedinstven{n}x{}", uuid::Uuid::new_v4().simple());
        let document =
            CorpusDocument::shared("analyst-rs", format!("Probe {n}"), format!("Kontrolni dokument {word}."), "sr");
        upload(client, base, tokens, &document).await?;
        let answered = Instant::now();
        let token = tokens.get("analyst-rs").ok_or("no token")?;
        loop {
            let result: Value =
                client.get(format!("{base}/api/v1/search?q={word}")).bearer_auth(token).send().await?.json().await?;
            if result["total"] == 1 {
                latencies.push(answered.elapsed());
                break;
            }
            if answered.elapsed() > Duration::from_secs(30) {
                return Err("a probe document never became searchable".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(latencies)
}

/// The time of a refusal for a document that exists but is hidden, and for one that does not
/// exist, measured alternately on one connection: the two must not be told apart.
async fn hidden_versus_missing(
    client: &reqwest::Client,
    base: &str,
    tokens: &HashMap<&'static str, String>,
    samples: usize,
) -> Result<(Latencies, Latencies), BoxError> {
    let hidden_document = CorpusDocument {
        uploader: "analyst-rs",
        title: "Hidden from Albania".into(),
        body: "Released to Bosnia and Herzegovina only.".into(),
        language: "en",
        classification: "SENSITIVE",
        tlp: "AMBER",
        releasable_to: vec!["BA"],
        recipients: vec![],
        tags: vec![],
    };
    let id = upload(client, base, tokens, &hidden_document).await?;
    let token = tokens.get("analyst-al").ok_or("no token")?;
    let (mut hidden, mut missing) = (Latencies::default(), Latencies::default());
    for n in 0..samples + 20 {
        for (path, into) in [(id.clone(), &mut hidden), (uuid::Uuid::new_v4().to_string(), &mut missing)] {
            let started = Instant::now();
            let status =
                client.get(format!("{base}/api/v1/documents/{path}")).bearer_auth(token).send().await?.status();
            if status != reqwest::StatusCode::NOT_FOUND {
                return Err(format!("a refusal answered {status}").into());
            }
            // The first requests warm connections and caches.
            if n >= 20 {
                into.push(started.elapsed());
            }
        }
    }
    Ok((hidden, missing))
}

/// Searches from `clients` concurrent clients over HTTP, each request to the next of `bases`
/// in turn (one server, or replicas behind a round-robin balancer).
async fn http_load(
    bases: &[String],
    tokens: &HashMap<&'static str, String>,
    queries: &[CorpusQuery],
    clients: usize,
    seconds: u64,
) -> (Latencies, f64) {
    let client = reqwest::Client::new();
    let next = std::sync::atomic::AtomicUsize::new(0);
    stats::drive(queries, clients, seconds, |query| {
        let base = &bases[next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % bases.len()];
        let request = tokens.get(query.persona).map(|token| {
            let q: String = url::form_urlencoded::byte_serialize(query.text.as_bytes()).collect();
            client.get(format!("{base}/api/v1/search?q={q}")).bearer_auth(token)
        });
        async move {
            match request {
                Some(request) => request.send().await.is_ok_and(|r| r.status().is_success()),
                None => false,
            }
        }
    })
    .await
}

/// Every query once over HTTP, unmeasured: the rows then compare steady states (statistics of
/// the queried terms kept, pages in memory); the uncached row shows what a first search costs.
async fn warm_server(base: &str, tokens: &HashMap<&'static str, String>, queries: &[CorpusQuery]) {
    let client = reqwest::Client::new();
    let requests = queries.iter().filter_map(|query| {
        let token = tokens.get(query.persona)?;
        let q: String = url::form_urlencoded::byte_serialize(query.text.as_bytes()).collect();
        Some(client.get(format!("{base}/api/v1/search?q={q}")).bearer_auth(token).send())
    });
    futures_util::stream::iter(requests).buffer_unordered(4).for_each(|_| async {}).await;
}

/// Every query once on the reopened index, unmeasured (see [`warm_server`]).
async fn warm_index(index: &SearchIndex, queries: &[CorpusQuery]) {
    let (index, queries, principals) = (index.clone(), queries.to_vec(), principals());
    let _ = tokio::task::spawn_blocking(move || {
        for query in &queries {
            if let Some(principal) = principals.get(query.persona) {
                visible_only(&index, search_filter(principal).as_ref(), &request(query), &QueryCaps::default());
            }
        }
    })
    .await;
}

/// The demo personas as principals, by user name, for searching in process.
fn principals() -> Arc<HashMap<&'static str, Principal>> {
    let ladder =
        Ladder::new(&["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"].map(String::from), "RESTRICTED");
    Arc::new(
        personas::PERSONAS
            .iter()
            .filter_map(|p| {
                Some((
                    p.username,
                    Principal {
                        sub: p.username.into(),
                        name: p.name.into(),
                        organisation: p.organisation.into(),
                        country: p.country.into(),
                        clearance: ladder.as_ref().ok()?.parse(p.clearance)?,
                        roles: vec![],
                        capabilities: [Capability::DocumentRead].into(),
                        email: None,
                    },
                ))
            })
            .collect(),
    )
}

/// The first page of `query`'s results by relevance, as the server's default search asks.
fn request(query: &CorpusQuery) -> SearchRequest {
    SearchRequest { q: query.text.clone(), filters: Filters::default(), sort: Sort::Relevance, limit: 20, offset: 0 }
}

/// Rows of the table compared by [`stats::print_security_cost`].
const RAW: &str = "raw tantivy, in process";
const CEILING: &str = "ceiling: whole-index BM25";

/// One search as `tantivy_load` runs it: the number of hits, `None` if it failed.
type InProcessSearch = fn(&SearchIndex, Option<&VisibilityFilter>, &SearchRequest, &QueryCaps) -> Option<usize>;

/// The platform's own search (ranking among visible documents only), in process.
fn visible_only(
    index: &SearchIndex,
    filter: Option<&VisibilityFilter>,
    request: &SearchRequest,
    caps: &QueryCaps,
) -> Option<usize> {
    crate::search::service::execute(index, filter, &[], request, caps).ok().map(|found| found.candidates.len())
}

/// The same queries and policy filters straight on the index, without HTTP, tokens, the
/// database re-check or the audit write: the ceiling for the server.
async fn tantivy_load(
    index: &SearchIndex,
    queries: &[CorpusQuery],
    clients: usize,
    seconds: u64,
    search: InProcessSearch,
) -> (Latencies, f64) {
    let principals = principals();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let index = index.clone();
            let queries = queries.to_vec();
            let principals = principals.clone();
            tokio::task::spawn_blocking(move || {
                let caps = QueryCaps::default();
                let mut latencies = Latencies::default();
                let mut n = c;
                while Instant::now() < deadline {
                    let query = &queries[n % queries.len()];
                    n += clients;
                    let Some(principal) = principals.get(query.persona) else { continue };
                    let request = request(query);
                    let begun = Instant::now();
                    if search(&index, search_filter(principal).as_ref(), &request, &caps).is_some() {
                        latencies.push(begun.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for thread in threads {
        all.push(thread.await.unwrap_or_default());
    }
    stats::merge(all, started.elapsed())
}

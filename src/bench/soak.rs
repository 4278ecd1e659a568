//! `anaspoc soak`: mixed load against a real server (a child process of this binary — build it
//! with `--release` — in demo mode, embedded defaults) for a given time: uploads of ordinary and
//! hostile files, searches, downloads and bad tokens, from several clients at once. Then the
//! checks a long run must pass: no 5xx, resident memory flat after warm-up, the audit chain
//! verifies, every ordinary upload searchable by its own word. Figures are printed; the run
//! fails when a check does.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use super::corpus::{self, CorpusDocument, Rng};
use super::stats::{self, Latencies};
use super::{BoxError, Server};

pub struct SoakOptions {
    pub seconds: u64,
    pub clients: usize,
    /// Requests per second, all clients together: a steady load, not a saturation test (ingest
    /// must keep up with the uploads in it).
    pub rate: u64,
    pub seed: u64,
}

/// What the clients do, and how often (out of 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Search,
    Download,
    Upload,
    HostileUpload,
    BadToken,
}

const MIX: [(Operation, u64); 5] = [
    (Operation::Search, 60),
    (Operation::Download, 20),
    (Operation::Upload, 5),
    (Operation::HostileUpload, 1),
    (Operation::BadToken, 14),
];

/// Resident memory is sampled this often; "after warm-up" is the first sample past a quarter
/// of the run.
const RSS_EVERY: Duration = Duration::from_secs(5);
/// Memory counts as flat when the end is within this factor (and slack) of the warm-up figure.
/// Judged on anonymous memory (heap and stacks), where a leak shows; the mapped index files
/// grow with the documents, as they should, and are reported beside it.
const RSS_GROWTH_ALLOWED: f64 = 1.2;
const RSS_SLACK_KIB: u64 = 32 * 1024;

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<(Operation, u16), u64>,
    latencies: BTreeMap<Operation, Latencies>,
    /// Ordinary uploads: (id, its unique word, uploader).
    uploads: Vec<(String, String, &'static str)>,
    hostile_uploads: u64,
}

impl Tally {
    fn record(&mut self, operation: Operation, status: u16, took: Duration) {
        *self.statuses.entry((operation, status)).or_default() += 1;
        self.latencies.entry(operation).or_default().push(took);
    }

    fn server_errors(&self) -> u64 {
        self.statuses.iter().filter(|((_, status), _)| *status >= 500).map(|(_, n)| n).sum()
    }
}

pub async fn run(options: SoakOptions) -> Result<bool, BoxError> {
    let mut rng = Rng::new(options.seed);
    let vocabularies = corpus::vocabularies(&mut rng);
    let queries = Arc::new(corpus::queries(&mut rng, &vocabularies, 500));
    let work = tempfile::Builder::new().prefix("anaspoc-soak-").tempdir()?;
    // Per-user limits out of the way (see `Server::start_with`); failed authentications keep the
    // default, so the bad tokens meet it (429) as an attacker would.
    let server = Server::start_with(work.path(), &[])?;
    server.wait_ready().await?;
    let tokens = Arc::new(server.tokens().await?);
    let hostile = Arc::new(hostile_files()?);
    println!(
        "soak: {} s, {} clients, {} requests/s, seed {}; mix {}",
        options.seconds,
        options.clients,
        options.rate,
        options.seed,
        MIX.iter().map(|(op, n)| format!("{op:?} {n}%")).collect::<Vec<_>>().join(", ")
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut rss: Vec<(Duration, (u64, u64, u64))> = vec![(Duration::ZERO, server.rss_kib())];
    let pace = Duration::from_secs_f64(options.clients as f64 / options.rate.max(1) as f64);
    let mut clients = Vec::new();
    for client in 0..options.clients {
        let (base, tokens, queries, hostile, tally) =
            (server.base.clone(), tokens.clone(), queries.clone(), hostile.clone(), tally.clone());
        let mut rng = Rng::new(options.seed ^ (client as u64 + 1).wrapping_mul(0x9E37_79B9));
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0u64;
            let mut ticks = tokio::time::interval(pace);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < deadline {
                ticks.tick().await;
                n += 1;
                let operation = pick(&mut rng);
                let begun = Instant::now();
                let outcome = match operation {
                    Operation::Search => {
                        let query = &queries[rng.below(queries.len())];
                        let token = tokens.get(query.persona).cloned().unwrap_or_default();
                        let url = format!("{base}/api/v1/search?q={}", encode(&query.text));
                        http.get(url).bearer_auth(token).send().await.map(|r| (r.status().as_u16(), None))
                    }
                    Operation::Download => {
                        let picked = {
                            let tally = tally.lock().unwrap_or_else(|p| p.into_inner());
                            let uploads = &tally.uploads;
                            (!uploads.is_empty()).then(|| uploads[rng.below(uploads.len())].clone())
                        };
                        let Some((id, _, uploader)) = picked else { continue };
                        let token = tokens.get(uploader).cloned().unwrap_or_default();
                        match http.get(format!("{base}/api/v1/documents/{id}/content")).bearer_auth(token).send().await
                        {
                            // Read the whole body: a download is only done when its bytes are.
                            Ok(response) => {
                                let status = response.status().as_u16();
                                response.bytes().await.map(|_| (status, None))
                            }
                            Err(error) => Err(error),
                        }
                    }
                    Operation::Upload => {
                        let word = format!("soak{client}x{n}x{}", rng.next_u64() % 1_000_000_007);
                        let document = ordinary(&mut rng, &word);
                        let body = document.body.clone().into_bytes();
                        upload(&http, &base, &tokens, &document, body, "analysis.txt")
                            .await
                            .map(|(status, id)| (status, id.map(|id| (id, word, document.uploader))))
                    }
                    Operation::HostileUpload => {
                        let (name, bytes) = &hostile[rng.below(hostile.len())];
                        let document = CorpusDocument {
                            title: format!("Hostile {name}"),
                            body: String::new(),
                            ..ordinary(&mut rng, "hostile")
                        };
                        upload(&http, &base, &tokens, &document, bytes.clone(), name)
                            .await
                            .map(|(status, _)| (status, None))
                    }
                    Operation::BadToken => {
                        let token = format!("eyJhbGciOiJSUzI1NiJ9.{}.x", rng.next_u64());
                        http.get(format!("{base}/api/v1/me"))
                            .bearer_auth(token)
                            .send()
                            .await
                            .map(|r| (r.status().as_u16(), None))
                    }
                };
                let took = begun.elapsed();
                let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
                match outcome {
                    Ok((status, uploaded)) => {
                        tally.record(operation, status, took);
                        if let Some(uploaded) = uploaded {
                            tally.uploads.push(uploaded);
                        }
                        if operation == Operation::HostileUpload && status == 201 {
                            tally.hostile_uploads += 1;
                        }
                    }
                    // A connection the server dropped counts as a server error.
                    Err(_) => tally.record(operation, 599, took),
                }
            }
        }));
    }
    while Instant::now() < deadline {
        tokio::time::sleep(RSS_EVERY.min(deadline.saturating_duration_since(Instant::now()))).await;
        rss.push((started.elapsed(), server.rss_kib()));
        print!(".");
        let _ = std::io::stdout().flush();
    }
    println!();
    for client in clients {
        client.await?;
    }
    let tally =
        Arc::try_unwrap(tally).map_err(|_| "clients still running")?.into_inner().unwrap_or_else(|p| p.into_inner());
    report_load(&tally, options.seconds);

    // Checks.
    server.wait_ingested().await?;
    let http = reqwest::Client::new();
    let start = rss[0].1;
    let warm = rss.iter().find(|(at, _)| *at >= Duration::from_secs(options.seconds / 4)).map_or(start, |s| s.1);
    let end = rss.last().map_or(start, |s| s.1);
    let peak = rss.iter().map(|s| s.1.1).max().unwrap_or(0);
    let flat = (end.1 as f64) <= warm.1 as f64 * RSS_GROWTH_ALLOWED + RSS_SLACK_KIB as f64;
    let mib = |(total, anon, file): (u64, u64, u64)| {
        format!("{} MiB ({} heap, {} files)", total / 1024, anon / 1024, file / 1024)
    };
    println!(
        "memory: RSS at start {}, after warm-up {}, at the end {}; heap peak {} MiB — {}",
        mib(start),
        mib(warm),
        mib(end),
        peak / 1024,
        if flat { "flat" } else { "GROWING" }
    );
    // A fresh token: the ones from the start may have expired during a long run.
    let auditor = server.token("auditor").await?;
    let verification: Value =
        http.get(format!("{}/api/v1/audit/verify", server.base)).bearer_auth(&auditor).send().await?.json().await?;
    let chain_ok = verification["status"] == "ok";
    println!("audit chain: {verification}");
    let unsearchable = futures_util::stream::iter(tally.uploads.iter().map(|(id, word, uploader)| {
        let (http, base, token) =
            (http.clone(), server.base.clone(), tokens.get(uploader).cloned().unwrap_or_default());
        async move {
            let found: Result<Value, reqwest::Error> = async {
                http.get(format!("{base}/api/v1/search?q={word}")).bearer_auth(token).send().await?.json().await
            }
            .await;
            let hit = found.ok().is_some_and(|found| {
                found["hits"].as_array().is_some_and(|hits| hits.iter().any(|h| h["id"] == id.as_str()))
            });
            (!hit).then(|| id.clone())
        }
    }))
    .buffer_unordered(4)
    .filter_map(std::future::ready)
    .collect::<Vec<String>>()
    .await;
    println!(
        "searchable: {} of {} ordinary uploads found by their own word{}",
        tally.uploads.len() - unsearchable.len(),
        tally.uploads.len(),
        if unsearchable.is_empty() {
            String::new()
        } else {
            format!(" — missing: {:?}", &unsearchable[..unsearchable.len().min(10)])
        }
    );
    let server_errors = tally.server_errors();
    println!("server errors (5xx or dropped connections): {server_errors}");
    server.stop();
    let passed = server_errors == 0 && flat && chain_ok && unsearchable.is_empty();
    println!("soak: {}", if passed { "PASSED" } else { "FAILED" });
    Ok(passed)
}

fn pick(rng: &mut Rng) -> Operation {
    let mut roll = rng.next_u64() % 100;
    for (operation, share) in MIX {
        if roll < share {
            return operation;
        }
        roll -= share;
    }
    Operation::Search
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A short document with `word` in its text, as one of the uploaders, visible to everyone.
fn ordinary(rng: &mut Rng, word: &str) -> CorpusDocument {
    let (uploader, _) = corpus::UPLOADERS[rng.below(corpus::UPLOADERS.len())];
    CorpusDocument {
        tags: vec!["soak"],
        ..CorpusDocument::shared(
            uploader,
            format!("Soak {word}"),
            format!("Analiza rizika {word}: organizovani kriminal, trgovina ljudima, Београд, Tiranë."),
            "sr-Latn",
        )
    }
}

/// Upload `bytes` as `document`'s file: the status, and the id when it was created.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    tokens: &std::collections::HashMap<&'static str, String>,
    document: &CorpusDocument,
    bytes: Vec<u8>,
    filename: &str,
) -> Result<(u16, Option<String>), reqwest::Error> {
    let token = tokens.get(document.uploader).cloned().unwrap_or_default();
    let response = super::upload_request(http, base, &token, document, bytes, filename).send().await?;
    let status = response.status().as_u16();
    let body: Value = if status == 201 { response.json().await? } else { Value::Null };
    Ok((status, body["id"].as_str().map(str::to_owned)))
}

/// Files an attacker might send: each must fail its own extraction job and nothing else.
fn hostile_files() -> Result<Vec<(String, Vec<u8>)>, BoxError> {
    let mut bomb = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut bomb));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("word/document.xml", options)?;
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..160 {
            zip.write_all(&zeros)?;
        }
        zip.finish()?;
    }
    let mut truncated_docx = bomb.clone();
    truncated_docx.truncate(bomb.len() / 3);
    let mut noise = vec![0u8; 256 * 1024];
    let mut rng = Rng::new(7);
    noise.iter_mut().for_each(|b| *b = rng.next_u64() as u8);
    let mut fake_png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x40\0\0\0\x40\0\x08\x02\0\0\0".to_vec();
    fake_png.extend_from_slice(&noise[..4096]);
    Ok(vec![
        ("bomb.docx".into(), bomb),
        ("truncated.docx".into(), truncated_docx),
        (
            "broken.pdf".into(),
            [b"%PDF-1.7\n1 0 obj << /Length 99999999 >> stream\n".as_slice(), &noise[..8192]].concat(),
        ),
        ("nested.html".into(), format!("<!DOCTYPE html><html>{}x</html>", "<div>".repeat(50_000)).into_bytes()),
        ("fake.png".into(), fake_png),
        ("noise.bin".into(), noise),
    ])
}

fn report_load(tally: &Tally, seconds: u64) {
    println!("{:<14} {:>8} {:>8} {:>9} {:>9}  statuses", "operation", "count", "per s", "p50", "p99");
    for (operation, latencies) in &tally.latencies {
        let statuses: Vec<String> = tally
            .statuses
            .iter()
            .filter(|((op, _), _)| op == operation)
            .map(|((_, status), n)| format!("{status}×{n}"))
            .collect();
        println!(
            "{:<14} {:>8} {:>8.1} {:>9} {:>9}  {}",
            format!("{operation:?}"),
            latencies.len(),
            latencies.len() as f64 / seconds.max(1) as f64,
            stats::ms(latencies.p(50.0)),
            stats::ms(latencies.p(99.0)),
            statuses.join(" ")
        );
    }
    println!("hostile files accepted for ingest (each must fail only its own job): {}", tally.hostile_uploads);
}

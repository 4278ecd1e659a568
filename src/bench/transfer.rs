//! `anaspoc bench --transfer MIB`: one file of MIB MiB uploaded to and downloaded from a real
//! server (a child process, demo mode, objects in its data directory), with encryption at rest
//! off and on, alternately over a few rounds — throughput and the server's memory side by side,
//! and the ratio encrypted / plaintext (issue 21 aims at ≤ 10 % overhead). The client streams
//! both ways too, so the figures are the server's. Printed, never asserted.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{BoxError, Server};

pub struct TransferOptions {
    /// The file's size in MiB.
    pub mebibytes: u64,
    /// Rounds of (plaintext, encrypted); the median of each is printed.
    pub rounds: usize,
    pub seed: u64,
}

const MIB: u64 = 1024 * 1024;

/// One upload and download of the file by one server.
struct Measured {
    upload: Duration,
    download: Duration,
    /// The server's CPU time (user + system) for each.
    upload_cpu: f64,
    download_cpu: f64,
    /// Resident memory when ready, and the peak over the transfer (KiB).
    ready_rss_kib: u64,
    peak_rss_kib: u64,
}

pub async fn run(options: TransferOptions) -> Result<(), BoxError> {
    let size = options.mebibytes * MIB;
    let block = random_block(options.seed);
    cipher_costs(&block)?;
    println!(
        "transfer: one file of {} MiB up and down, {} rounds of plaintext and encrypted, alternately (objects on local disk)",
        options.mebibytes, options.rounds
    );
    let mut plaintext = Vec::new();
    let mut encrypted = Vec::new();
    for round in 1..=options.rounds {
        for (sealed, results) in [(false, &mut plaintext), (true, &mut encrypted)] {
            let measured = measure(sealed, size, &block).await?;
            println!(
                "  round {round} {:<10} upload {:>7.1} MiB/s ({:.2} CPU s), download {:>7.1} MiB/s ({:.2} CPU s), RSS {} → {} MiB",
                if sealed { "encrypted" } else { "plaintext" },
                rate(size, measured.upload),
                measured.upload_cpu,
                rate(size, measured.download),
                measured.download_cpu,
                measured.ready_rss_kib / 1024,
                measured.peak_rss_kib / 1024,
            );
            results.push(measured);
        }
    }
    let gibibytes = size as f64 / (1024.0 * MIB as f64);
    let row = |results: &[Measured]| {
        let cpu = |f: fn(&Measured) -> f64| {
            let mut all: Vec<f64> = results.iter().map(f).collect();
            all.sort_by(f64::total_cmp);
            all.get(all.len() / 2).copied().unwrap_or_default() / gibibytes
        };
        [
            rate(size, median(results.iter().map(|m| m.upload))),
            rate(size, median(results.iter().map(|m| m.download))),
            cpu(|m| m.upload_cpu),
            cpu(|m| m.download_cpu),
            results.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
        ]
    };
    let (plain, sealed) = (row(&plaintext), row(&encrypted));
    println!(
        "\n{:<22}{:>14}{:>16}{:>18}{:>20}{:>14}",
        "median of rounds", "upload MiB/s", "download MiB/s", "upload CPU s/GiB", "download CPU s/GiB", "peak RSS MiB"
    );
    for (name, row) in [("plaintext", plain), ("encrypted", sealed)] {
        println!("{name:<22}{:>14.1}{:>16.1}{:>18.2}{:>20.2}{:>14.0}", row[0], row[1], row[2], row[3], row[4]);
    }
    let ratio: Vec<f64> = sealed.iter().zip(plain).map(|(s, p)| s / p).collect();
    println!(
        "{:<22}{:>14.2}{:>16.2}{:>18.2}{:>20.2}{:>14.2}",
        "encrypted / plaintext", ratio[0], ratio[1], ratio[2], ratio[3], ratio[4]
    );
    Ok(())
}

async fn measure(sealed: bool, size: u64, block: &Bytes) -> Result<Measured, BoxError> {
    let work = tempfile::Builder::new().prefix("anaspoc-bench-transfer-").tempdir()?;
    // The demo profile encrypts at rest (with a master key it makes in the data directory).
    let env = [
        ("ANASPOC__LIMITS__MAX_UPLOAD_BYTES".to_owned(), (size + 1).to_string()),
        ("ANASPOC__CRYPTO__ENABLED".to_owned(), sealed.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(work.path(), &env)?;
    server.wait_ready().await?;
    let token = server.token("analyst-rs").await?;
    let ready_rss_kib = server.rss_kib().0;
    let client = reqwest::Client::new();

    let blocks = size.div_ceil(MIB);
    let block = block.clone();
    let body = futures_util::stream::iter(0..blocks).map(move |i| {
        let len = (size - i * MIB).min(MIB) as usize;
        Ok::<Bytes, std::io::Error>(block.slice(..len))
    });
    let file = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), size)
        .file_name("annex.bin")
        .mime_str("application/octet-stream")?;
    let metadata = json!({
        "title": "Transfer benchmark annex",
        "classification": "SENSITIVE",
        "tlp": "AMBER",
        "handling_code": "H1",
        "releasable_to": ["ALL"],
        "publish": true,
    });
    let form = reqwest::multipart::Form::new().text("metadata", metadata.to_string()).part("file", file);
    let (started, cpu) = (Instant::now(), super::stats::cpu_seconds(server.child.id()));
    let response =
        client.post(format!("{}/api/v1/documents", server.base)).bearer_auth(&token).multipart(form).send().await?;
    if !response.status().is_success() {
        return Err(format!("the upload answered {}: {}", response.status(), response.text().await?).into());
    }
    let created: Value = response.json().await?;
    let upload = started.elapsed();
    let upload_cpu = super::stats::cpu_seconds(server.child.id()) - cpu;
    let id = created["id"].as_str().ok_or("no id")?;

    let (started, cpu) = (Instant::now(), super::stats::cpu_seconds(server.child.id()));
    let response =
        client.get(format!("{}/api/v1/documents/{id}/content", server.base)).bearer_auth(&token).send().await?;
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut stream = response.bytes_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        received += chunk?.len() as u64;
    }
    let download = started.elapsed();
    let download_cpu = super::stats::cpu_seconds(server.child.id()) - cpu;
    if received != size || etag.trim_matches('"') != created["sha256"].as_str().unwrap_or_default() {
        return Err(format!("the download answered {received} bytes with ETag {etag}").into());
    }
    let peak_rss_kib = server.peak_rss_kib();
    server.stop();
    Ok(Measured { upload, download, upload_cpu, download_cpu, ready_rss_kib, peak_rss_kib })
}

/// What the two per-byte costs of an upload are on this machine, in process on one core: the
/// SHA-256 every upload pays, and the AES-256-GCM sealing an encrypted one adds.
fn cipher_costs(block: &Bytes) -> Result<(), BoxError> {
    use sha2::Digest;
    const ROUNDS: u64 = 256;
    let started = Instant::now();
    let mut hasher = sha2::Sha256::new();
    for _ in 0..ROUNDS {
        hasher.update(block);
    }
    std::hint::black_box(hasher.finalize());
    let hashing = started.elapsed();
    let key = crate::crypto::envelope::DataKey::generate()?;
    let mut sealer = crate::crypto::envelope::Sealer::new(&key, "documents/bench/v1")?;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        for piece in block.chunks(16 * 1024) {
            std::hint::black_box(sealer.update(piece)?);
        }
    }
    std::hint::black_box(sealer.finish()?);
    let sealing = started.elapsed();
    // Opening: the block sealed once, then opened from reads as the local store makes them
    // (fresh buffers of four stored chunks; making them is part of the cost, as reading is).
    let mut sealer = crate::crypto::envelope::Sealer::new(&key, "documents/bench/v1")?;
    let mut stored = sealer.update(block)?.to_vec();
    stored.extend_from_slice(&sealer.finish()?);
    let wanted = crate::crypto::envelope::stored_range(0..MIB, MIB);
    let reads = stored[wanted.stored.start as usize..].chunks(4 * crate::crypto::envelope::SEALED_CHUNK_LEN);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let mut opener = crate::crypto::envelope::Opener::new(&key, "documents/bench/v1", &wanted, MIB)?;
        for read in reads.clone() {
            std::hint::black_box(opener.update(Bytes::copy_from_slice(read))?);
        }
        std::hint::black_box(opener.finish()?);
    }
    let opening = started.elapsed();
    println!(
        "one core, in process: SHA-256 {:.0} MiB/s (every upload), AES-256-GCM in 64 KiB chunks: sealing {:.0} MiB/s (fed 16 KiB at a time), opening {:.0} MiB/s (256 KiB reads)",
        rate(ROUNDS * MIB, hashing),
        rate(ROUNDS * MIB, sealing),
        rate(ROUNDS * MIB, opening)
    );
    Ok(())
}

/// 1 MiB that neither compresses nor repeats within itself (xorshift).
fn random_block(seed: u64) -> Bytes {
    let mut state = seed | 1;
    let mut block = Vec::with_capacity(MIB as usize);
    while block.len() < MIB as usize {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        block.extend_from_slice(&state.to_le_bytes());
    }
    Bytes::from(block)
}

fn rate(size: u64, took: Duration) -> f64 {
    size as f64 / MIB as f64 / took.as_secs_f64().max(1e-9)
}

fn median(durations: impl Iterator<Item = Duration>) -> Duration {
    let mut all: Vec<Duration> = durations.collect();
    all.sort();
    all.get(all.len() / 2).copied().unwrap_or_default()
}

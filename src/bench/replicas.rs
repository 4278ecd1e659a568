//! `anaspoc bench --replicas N --postgres-url URL`: N real servers (child processes, demo mode)
//! on one scratch PostgreSQL database and one object store, each with its own index following
//! the change feed. Prints, in one run: the replication lag — from an upload answered by the
//! first replica to its title being found through each other one — at p50/p99 while uploads
//! keep arriving, and the search throughput with 1…N replicas behind a round-robin client, as
//! ratios to one replica. Figures are printed, never asserted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::sqlx::{self, Connection};
use serde_json::Value;

use super::corpus::{self, CorpusDocument, Rng};
use super::stats::{self, Latencies};
use super::{BoxError, Server, applied, http_load, upload};

pub struct ReplicaOptions {
    pub replicas: usize,
    pub documents: usize,
    pub seconds: u64,
    pub clients: usize,
    pub seed: u64,
    pub postgres_url: String,
    pub upload_concurrency: usize,
}

/// A scratch database on the PostgreSQL server of `admin_url`, dropped at the end.
struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    async fn create(admin_url: &str) -> Result<Self, BoxError> {
        let name = format!("anaspoc_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::postgres::PgConnection::connect(admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&name);
        Ok(Self { admin_url: admin_url.to_owned(), name, url: url.to_string() })
    }

    async fn drop(self) -> Result<(), BoxError> {
        let mut admin = sqlx::postgres::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&mut admin)
            .await?;
        Ok(())
    }
}

pub async fn run(options: ReplicaOptions) -> Result<(), BoxError> {
    let database = ScratchDatabase::create(&options.postgres_url).await?;
    let result = measure(&options, &database.url).await;
    database.drop().await?;
    result
}

async fn measure(options: &ReplicaOptions, database_url: &str) -> Result<(), BoxError> {
    let work = tempfile::Builder::new().prefix("anaspoc-bench-replicas-").tempdir()?;
    let measured = measure_in(options, database_url, work.path()).await;
    if measured.is_err() {
        // Each replica's errors are in replica-N/server.log.
        println!("the run failed; its servers' data and logs are kept in {}", work.keep().display());
    }
    measured
}

async fn measure_in(options: &ReplicaOptions, database_url: &str, work: &Path) -> Result<(), BoxError> {
    let mut rng = Rng::new(options.seed);
    let vocabularies = corpus::vocabularies(&mut rng);
    let documents: Vec<CorpusDocument> =
        (0..options.documents).map(|_| corpus::document(&mut rng, &vocabularies)).collect();
    let queries = corpus::queries(&mut rng, &vocabularies, 500);

    let key = work.join("audit-signing-key.pem");
    crate::audit::SigningKey::create(&key)?;
    let shared = |dir: &Path, issuer: Option<&str>| {
        let mut settings = vec![
            ("ANASPOC__DATABASE__URL", database_url.to_owned()),
            ("ANASPOC__STORAGE__PATH", work.join("objects").display().to_string()),
            ("ANASPOC__AUDIT__SIGNING_KEY_FILE", key.display().to_string()),
            ("ANASPOC__SEARCH__INDEX_DIR", dir.join("index").display().to_string()),
        ];
        if let Some(issuer) = issuer {
            settings.push(("ANASPOC__OIDC__ISSUER_URL", issuer.to_owned()));
        }
        settings
    };
    let mut servers = Vec::new();
    let first_dir = work.join("replica-1");
    std::fs::create_dir_all(&first_dir)?;
    let first = start(&first_dir, &shared(&first_dir, None))?;
    first.wait_ready().await?;
    let issuer = format!("{}{}", first.base, crate::auth::demo_idp::MOUNT_PATH);
    servers.push(first);
    for n in 2..=options.replicas.max(1) {
        let dir = work.join(format!("replica-{n}"));
        std::fs::create_dir_all(&dir)?;
        let server = start(&dir, &shared(&dir, Some(&issuer)))?;
        server.wait_ready().await?;
        servers.push(server);
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let tokens = servers[0].tokens().await?;
    println!(
        "replicas: {} servers on one PostgreSQL database and one object store, corpus of {} documents",
        servers.len(),
        documents.len()
    );

    let client = reqwest::Client::new();
    let started = Instant::now();
    let uploads = futures_util::stream::iter(documents.iter().map(|d| upload(&client, &bases[0], &tokens, d)))
        .buffer_unordered(options.upload_concurrency);
    let failures = uploads.filter(|r| std::future::ready(r.is_err())).count().await;
    let uploaded = started.elapsed();
    let db = crate::db::connect(&crate::config::DatabaseSettings {
        url: database_url.to_owned(),
        max_connections: 2,
        auto_migrate: false,
        acquire_timeout_ms: 5000,
        statement_timeout_ms: 30000,
    })
    .await?;
    while crate::ingest::jobs::outstanding(&db).await? > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let head = crate::db::feed::head(&db).await?.seq;
    for base in &bases {
        while applied(base).await.unwrap_or(-1) < head {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "ingest through replica 1: {} documents in {:.1} s ({:.0}/s), every replica caught up after {:.1} s ({failures} failed)",
        documents.len(),
        uploaded.as_secs_f64(),
        documents.len() as f64 / uploaded.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );

    let lag = replication_lag(&client, &bases, &tokens, &documents, options).await?;
    for (n, latencies) in lag.iter().enumerate().skip(1) {
        println!(
            "replication lag to replica {} under sustained uploads ({} probes): p50 {} p99 {}",
            n + 1,
            latencies.len(),
            stats::ms(latencies.p(50.0)),
            stats::ms(latencies.p(99.0))
        );
    }

    let mut table = Vec::new();
    let mut one = 0.0;
    for count in 1..=bases.len() {
        let (latencies, rate) = http_load(&bases[..count], &tokens, &queries, options.clients, options.seconds).await;
        if count == 1 {
            one = rate;
        }
        println!(
            "search with {count} replica(s), {} clients round-robin: {:.0}/s ({:.2}× one replica), p50 {} p99 {}",
            options.clients,
            rate,
            rate / one.max(f64::EPSILON),
            stats::ms(latencies.p(50.0)),
            stats::ms(latencies.p(99.0))
        );
        table.push((format!("{count} replica(s)"), options.clients, latencies, rate));
    }
    stats::print_table(&table);
    for server in servers {
        server.stop();
    }
    Ok(())
}

fn start(dir: &Path, settings: &[(&str, String)]) -> Result<Server, BoxError> {
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(dir, &settings)
}

/// Uploads keep arriving at replica 1 (`upload_concurrency` in flight) while probes — a document
/// whose title holds a unique word — are uploaded one at a time; for each probe, the time from
/// its upload's answer until its title is found through each replica.
async fn replication_lag(
    client: &reqwest::Client,
    bases: &[String],
    tokens: &std::collections::HashMap<&'static str, String>,
    documents: &[CorpusDocument],
    options: &ReplicaOptions,
) -> Result<Vec<Latencies>, BoxError> {
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (client, base, tokens, stop) = (client.clone(), bases[0].clone(), tokens.clone(), stop.clone());
        let documents = documents.iter().take(5_000).cloned().collect::<Vec<_>>();
        let concurrency = options.upload_concurrency.max(1);
        tokio::spawn(async move {
            let sent = Arc::new(AtomicUsize::new(0));
            let workers = (0..concurrency).map(|w| {
                let (client, base, tokens, stop, documents, sent) =
                    (client.clone(), base.clone(), tokens.clone(), stop.clone(), documents.clone(), sent.clone());
                async move {
                    let mut n = w;
                    while !stop.load(Ordering::Relaxed) && !documents.is_empty() {
                        let _ = upload(&client, &base, &tokens, &documents[n % documents.len()]).await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        n += concurrency;
                    }
                }
            });
            futures_util::future::join_all(workers).await;
            sent.load(Ordering::Relaxed)
        })
    };
    let token = tokens.get("analyst-rs").ok_or("no token")?;
    let mut lag = vec![Latencies::default(); bases.len()];
    let deadline = Instant::now() + Duration::from_secs(options.seconds.max(5));
    let started = Instant::now();
    let mut n = 0;
    while Instant::now() < deadline {
        let word = format!("sonda{n}x{}", uuid::Uuid::new_v4().simple());
        let probe = CorpusDocument::shared("analyst-rs", format!("Probe {word}"), "Kontrolni dokument.".into(), "sr");
        upload(client, &bases[0], tokens, &probe).await?;
        let answered = Instant::now();
        let mut pending: Vec<usize> = (0..bases.len()).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for replica in pending {
                let url = format!("{}/api/v1/search?q={word}", bases[replica]);
                // A pooled connection the server closed while idle fails once: ask again.
                let found: Value = match client.get(url).bearer_auth(token).send().await {
                    Ok(response) => response.json().await?,
                    Err(error) if error.is_request() || error.is_connect() => Value::Null,
                    Err(error) => return Err(error.into()),
                };
                if found["total"] == 1 {
                    lag[replica].push(answered.elapsed());
                } else {
                    still.push(replica);
                }
            }
            pending = still;
            if answered.elapsed() > Duration::from_secs(60) {
                return Err("a probe never reached every replica".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        n += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let sent = background.await.unwrap_or(0);
    println!(
        "sustained load during the lag probes: {:.0} uploads/s to replica 1 besides {n} probes",
        sent as f64 / started.elapsed().as_secs_f64()
    );
    Ok(lag)
}

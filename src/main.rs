//! The `anaspoc` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anaspoc::config::{Profile, Settings};
use anaspoc::startup::Application;
use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc: the server's many threads (async workers, the blocking
/// pool, database connections) each got a glibc arena that kept what they freed. Measured with
/// `anaspoc bench --documents 10000`, heap after the search load: glibc 158 MiB (62 MiB with
/// `MALLOC_ARENA_MAX=2`), mimalloc 149 MiB, jemalloc 69 MiB — and jemalloc was also the fastest.
/// Without the `jemalloc` feature the system allocator is used (for heaptrack or valgrind).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Secure analysis-sharing platform of the Western Balkans Analysis Network (ANASPOC).
///
/// Configuration is layered: built-in defaults (config/default.toml) < config/<profile>.toml
/// or --config FILE < environment variables ANASPOC__SECTION__KEY (e.g. ANASPOC__DATABASE__URL).
#[derive(Parser)]
#[command(name = "anaspoc", version, about, long_about)]
struct Cli {
    /// Configuration file to layer over the defaults (instead of config/<profile>.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Profile whose config/<profile>.toml is layered over the defaults.
    #[arg(long, global = true, env = "ANASPOC_PROFILE", value_name = "NAME")]
    profile: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform as configured: OIDC issuer, database, storage, TLS (profile `production`).
    Serve,
    /// Run on embedded defaults (SQLite and files under ./data) with the built-in development
    /// identity provider and demo personas; loopback only, never for real documents. An empty
    /// platform is first given the sample corpus: two dozen fictional analyses of the personas.
    Demo {
        /// Start without the sample corpus.
        #[arg(long)]
        empty: bool,
    },
    /// Exit 0 when `url` answers 2xx within 3 s, else 1: a container health check that needs no
    /// curl in the image. Without `url`: this server's own `/healthz` at `server.bind` (a wildcard
    /// address probed on loopback; over TLS when the server serves it, without checking the
    /// certificate, which names the public host).
    Probe { url: Option<String> },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Rebuild the search index from the database and the stored extracted text (stop the
    /// server first; at start-up it brings the index up to date by itself).
    Reindex,
    /// Import a directory of files described by a manifest (CSV or JSON Lines: `file` and the
    /// upload metadata per line), as one identity: every line checked first, then committed in
    /// batches, each document audited as created by that identity. Run it again to resume.
    Import {
        /// The directory the manifest's `file` paths are relative to.
        dir: PathBuf,
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// The identity to import as: one of [import.identities] (in demo mode, a demo persona).
        #[arg(long = "as", value_name = "NAME")]
        identity: String,
        /// Check the manifest and the files only.
        #[arg(long)]
        dry_run: bool,
    },
    /// Verify, checkpoint or export the tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The keys of encryption at rest ([crypto]): rotate an organisation's key, re-wrap its data
    /// keys under the current version, or destroy its keys (crypto-shredding). Audited.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Benchmark: generate a reproducible corpus, ingest it into a real server, and compare
    /// filtered search of the server, raw tantivy and PostgreSQL full-text search side by side.
    Bench {
        /// Documents in the corpus.
        #[arg(long, default_value_t = 100_000)]
        documents: usize,
        /// Seconds each load level runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients, comma-separated.
        #[arg(long, default_value = "1,2,8", value_delimiter = ',')]
        clients: Vec<usize>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// PostgreSQL for the baseline (a scratch schema `anaspoc_bench` is created and dropped).
        #[arg(long, env = "ANASPOC_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Uploads in flight while ingesting the corpus.
        #[arg(long, default_value_t = 16)]
        upload_concurrency: usize,
        /// Instead: N replicas on a scratch database of --postgres-url — replication lag under
        /// sustained uploads, and search throughput with 1…N replicas (clients: the largest).
        #[arg(long)]
        replicas: Option<usize>,
        /// Instead: the OCR corpus (every language, clean and degraded scans) read by the
        /// platform and by tesseract directly — character error rates side by side.
        #[arg(long)]
        ocr: bool,
        /// Instead: one file of this many MiB uploaded and downloaded with encryption at rest off
        /// and on, five rounds each — throughput, server CPU time and memory side by side.
        #[arg(long, value_name = "MIB")]
        transfer: Option<u64>,
    },
    /// Soak: mixed load (uploads, hostile files, searches, downloads, bad tokens) against a real
    /// server for a given time, then check: no 5xx, memory flat, audit chain valid, every upload
    /// searchable. Build with --release (tools/soak.sh does).
    Soak {
        /// How long the load runs.
        #[arg(long, default_value_t = 1800)]
        seconds: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Requests per second, all clients together.
        #[arg(long, default_value_t = 100)]
        rate: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Extract the text of one file to standard output (run by the server in a sandbox).
    #[command(hide = true)]
    Extract {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        media_type: String,
        /// Tesseract language packs for images and scanned pages (`-l`), e.g. `srp+srp_latn`.
        #[arg(long, default_value = "eng")]
        ocr_languages: String,
        /// Where tesseract finds them, when not in its own directory.
        #[arg(long)]
        ocr_data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and check the signed checkpoints; exit 1 at the first broken
    /// link (printing its seq, expected and found hash), else print `ok` with count and head.
    Verify {
        /// Verify a JSON Lines export instead of the database.
        #[arg(long, value_name = "FILE")]
        from_export: Option<PathBuf>,
        /// A checkpoint kept outside the platform (JSON printed by `audit checkpoint`); repeatable.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
    },
    /// Sign the current head (seq, hash, time) with the server's Ed25519 key, store the
    /// checkpoint and print it as JSON: keep that copy outside the platform.
    Checkpoint,
    /// Create the checkpoint signing key at `audit.signing_key_file` (never overwrites one).
    /// Replicas sharing PostgreSQL need the same key: make it once, give each the file.
    Keygen,
    /// Write the trail as JSON Lines (default) or CSV to standard output.
    Export {
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
        format: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// A new key version for the organisation's new objects (older versions still read).
    Rotate {
        /// COUNTRY:ORGANISATION, e.g. RS:RS-MUP.
        #[arg(long)]
        organisation: String,
    },
    /// Re-wrap the organisation's data keys under its current key version (no data re-encrypted).
    Rewrap {
        #[arg(long)]
        organisation: String,
    },
    /// Destroy every key of the organisation: its documents' content and text can never be read
    /// again. Asks to type the organisation unless --yes.
    Destroy {
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        yes: bool,
    },
    /// Encrypt the objects stored before encryption was enabled, each under its originating
    /// organisation's key; safe to stop and run again. Shows progress on a terminal.
    EncryptExisting,
    /// Make the master key: 32 random bytes, base64, written to crypto.master_key_file (mode
    /// 0600; an existing file is never overwritten). Once; every replica gets the same file.
    MasterKey,
}

impl From<AuditCommand> for anaspoc::cli::AuditCommand {
    fn from(command: AuditCommand) -> Self {
        match command {
            AuditCommand::Verify { from_export, checkpoints } => Self::Verify { from_export, checkpoints },
            AuditCommand::Checkpoint => Self::Checkpoint,
            AuditCommand::Keygen => Self::Keygen,
            AuditCommand::Export { format } => Self::Export { format },
        }
    }
}

fn profile(cli: &Cli, default: &str) -> Profile {
    match (&cli.config, &cli.profile) {
        (Some(file), _) => Profile::File(file.clone()),
        (None, Some(name)) => Profile::Named(name.clone()),
        (None, None) => Profile::Named(default.to_owned()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The sandboxed extractor: no runtime, no configuration, no network — read, parse, print.
    if let Command::Extract { input, media_type, ocr_languages, ocr_data_dir } = &cli.command {
        let ocr = anaspoc::ingest::extract::OcrOptions { packs: ocr_languages.clone(), data_dir: ocr_data_dir.clone() };
        return extract(input, media_type, &ocr);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("anaspoc: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("anaspoc: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The text on standard output; on standard error, how many pages OCR read (the server notes on
/// the version when a stand-in language pack read them).
fn extract(input: &std::path::Path, media_type: &str, ocr: &anaspoc::ingest::extract::OcrOptions) -> ExitCode {
    use std::io::Write;
    match anaspoc::ingest::extract::extract_file(input, media_type, ocr) {
        Ok(extracted) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(extracted.text.as_bytes()).and_then(|_| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            eprintln!("{}{}", anaspoc::ingest::sandbox::OCR_PAGES_LINE, extracted.ocr_pages);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// `anaspoc keys master-key`: a new master key at `crypto.master_key_file`.
fn master_key(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let path = anaspoc::keys::create_master_key(settings)?;
    println!("created {}; give every replica this file, and keep a copy offline", path.display());
    Ok(())
}

/// `anaspoc keys encrypt-existing`: the summary on standard output; a failure if any object was
/// left unencrypted.
async fn encrypt_existing(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let summary = anaspoc::keys::encrypt_existing::run(settings, progress).await?;
    println!("{summary}");
    if summary.failed > 0 {
        return Err(
            format!("{} objects were not encrypted (listed above); run again once fixed", summary.failed).into()
        );
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let configured = profile(&cli, "production");
    let demo = profile(&cli, "demo");
    match cli.command {
        Command::Serve => {
            let settings = Settings::load_valid(&configured)?;
            anaspoc::telemetry::init(&settings.log);
            serve(Application::build(settings).await?).await
        }
        Command::Demo { empty } => {
            let mut settings = Settings::load(&demo)?;
            settings.demo.enabled = true;
            if empty {
                settings.demo.seed = false;
            }
            settings.validate()?;
            anaspoc::telemetry::init(&settings.log);
            let app = Application::build(settings).await?;
            if let Some(idp) = app.demo_idp() {
                println!("\n{}", idp.usage(app.public_url()));
            }
            serve(app).await
        }
        // Verifying an export needs no server configuration: anyone holding the file can do it.
        Command::Audit(AuditCommand::Verify { from_export: Some(path), checkpoints }) => {
            anaspoc::cli::verify_export(&path, &checkpoints)
        }
        // Making the signing key needs only where to write it: an operator makes it before the
        // rest of the configuration (issuer, database) exists, e.g. from the bare image.
        Command::Audit(AuditCommand::Keygen) => {
            anaspoc::cli::audit(&Settings::load(&configured)?, anaspoc::cli::AuditCommand::Keygen).await
        }
        Command::Audit(command) => {
            let settings = Settings::load_valid(&configured)?;
            anaspoc::telemetry::init(&anaspoc::config::LogSettings { level: "warn".into(), ..settings.log.clone() });
            anaspoc::cli::audit(&settings, command.into()).await
        }
        // Like the audit signing key: made before the rest of the configuration exists.
        Command::Keys(KeysCommand::MasterKey) => master_key(&Settings::load(&configured)?),
        Command::Keys(command) => {
            let settings = Settings::load_valid(&configured)?;
            anaspoc::telemetry::init(&anaspoc::config::LogSettings { level: "warn".into(), ..settings.log.clone() });
            let (command, organisation) = match command {
                KeysCommand::EncryptExisting => return encrypt_existing(&settings).await,
                KeysCommand::MasterKey => return master_key(&settings),
                KeysCommand::Rotate { organisation } => (anaspoc::keys::KeysCommand::Rotate, organisation),
                KeysCommand::Rewrap { organisation } => (anaspoc::keys::KeysCommand::Rewrap, organisation),
                KeysCommand::Destroy { organisation, yes } => {
                    if !yes {
                        eprint!(
                            "Destroying the keys of {organisation} makes its documents unreadable for ever.\n\
                             Type the organisation to confirm: "
                        );
                        let mut typed = String::new();
                        std::io::stdin().read_line(&mut typed)?;
                        if typed.trim() != organisation {
                            return Err("not confirmed: nothing destroyed".into());
                        }
                    }
                    (anaspoc::keys::KeysCommand::Destroy, organisation)
                }
            };
            let done = anaspoc::keys::run(&settings, command, &organisation).await?;
            println!("{done:?}");
            Ok(())
        }
        Command::Reindex => {
            let settings = Settings::load_valid(&configured)?;
            anaspoc::telemetry::init(&anaspoc::config::LogSettings { level: "warn".into(), ..settings.log.clone() });
            anaspoc::cli::reindex(&settings).await
        }
        Command::Import { dir, manifest, identity, dry_run } => {
            let settings = Settings::load_valid(&configured)?;
            anaspoc::telemetry::init(&anaspoc::config::LogSettings { level: "warn".into(), ..settings.log.clone() });
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let options = anaspoc::import::ImportOptions { dir, manifest, identity, dry_run, progress };
            anaspoc::import::run(&settings, options).await?;
            Ok(())
        }
        Command::Extract { .. } => Ok(()),
        Command::Bench {
            documents,
            seconds,
            clients,
            seed,
            postgres_url,
            upload_concurrency,
            replicas,
            ocr,
            transfer,
        } => {
            anaspoc::telemetry::init(&anaspoc::config::LogSettings {
                format: anaspoc::config::LogFormat::Pretty,
                level: "warn".into(),
            });
            if let Some(mebibytes) = transfer {
                let options = anaspoc::bench::transfer::TransferOptions { mebibytes, rounds: 5, seed };
                return anaspoc::bench::transfer::run(options).await.map_err(|e| e as Box<dyn std::error::Error>);
            }
            if ocr {
                return anaspoc::bench::ocr::run(anaspoc::bench::ocr::OcrBenchOptions { seed })
                    .await
                    .map_err(|e| e as Box<dyn std::error::Error>);
            }
            if let Some(replicas) = replicas {
                let postgres_url = postgres_url.ok_or("--replicas needs --postgres-url")?;
                return anaspoc::bench::replicas::run(anaspoc::bench::replicas::ReplicaOptions {
                    replicas,
                    documents,
                    seconds,
                    clients: clients.iter().copied().max().unwrap_or(8),
                    seed,
                    postgres_url,
                    upload_concurrency,
                })
                .await
                .map_err(|e| e as Box<dyn std::error::Error>);
            }
            anaspoc::bench::run(anaspoc::bench::BenchOptions {
                documents,
                seconds,
                clients,
                seed,
                postgres_url,
                upload_concurrency,
            })
            .await
            .map_err(|e| e as Box<dyn std::error::Error>)
        }
        Command::Soak { seconds, clients, rate, seed } => {
            anaspoc::telemetry::init(&anaspoc::config::LogSettings {
                format: anaspoc::config::LogFormat::Pretty,
                level: "warn".into(),
            });
            let passed = anaspoc::bench::soak::run(anaspoc::bench::soak::SoakOptions { seconds, clients, rate, seed })
                .await
                .map_err(|e| e as Box<dyn std::error::Error>)?;
            if passed { Ok(()) } else { Err("the soak failed a check".into()) }
        }
        Command::Probe { url } => {
            anaspoc::startup::install_crypto_provider();
            let (url, own_tls) = match url {
                Some(url) => (url, false),
                None => {
                    let settings = Settings::load(&configured)?;
                    (own_health_url(&settings)?, settings.tls_enabled())
                }
            };
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .tls_danger_accept_invalid_certs(own_tls)
                .build()?;
            let status = client.get(&url).send().await?.status();
            if status.is_success() { Ok(()) } else { Err(format!("{url} answered {status}").into()) }
        }
        Command::Migrate => {
            let settings = Settings::load_valid(&configured)?;
            anaspoc::telemetry::init(&settings.log);
            let db = anaspoc::db::connect(&settings.database).await?;
            anaspoc::db::migrate(&db).await?;
            anaspoc::db::check_ready(&db).await?;
            println!("database is up to date");
            Ok(())
        }
    }
}

/// This server's `/healthz` as seen from inside its own host or container.
fn own_health_url(settings: &Settings) -> Result<String, Box<dyn std::error::Error>> {
    let mut bind = settings.bind_addr()?;
    if bind.ip().is_unspecified() {
        bind.set_ip(if bind.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let scheme = if settings.tls_enabled() { "https" } else { "http" };
    Ok(format!("{scheme}://{bind}/healthz"))
}

/// Serve until Ctrl-C or SIGTERM, then stop gracefully.
async fn serve(app: Application) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

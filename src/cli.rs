//! Operator commands beyond serving (`anaspoc audit …`), kept out of `main.rs` so they can be
//! tested like the rest of the library.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use crate::audit::{self, Checkpoint, Filter, SigningKey, Trail, Verification};
use crate::config::Settings;

pub enum AuditCommand {
    Verify { from_export: Option<PathBuf>, checkpoints: Vec<PathBuf> },
    Checkpoint,
    Export { format: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Input(String),
    #[error("the audit trail is broken at seq {seq}: {reason} (expected {expected}, found {found})")]
    Broken { seq: i64, reason: String, expected: String, found: String },
}

pub async fn audit(settings: &Settings, command: AuditCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        AuditCommand::Verify { from_export: Some(path), checkpoints } => verify_export(&path, &checkpoints),
        AuditCommand::Verify { from_export: None, checkpoints } => {
            let checkpoints = read_checkpoints(&checkpoints)?;
            let db = crate::db::connect(&settings.database).await?;
            let key = SigningKey::load_or_create(Path::new(&settings.audit.signing_key_file))?;
            report(audit::verify::verify_database(&Trail::new(db), checkpoints, Some(key.key_id())).await?)
        }
        AuditCommand::Checkpoint => {
            let db = crate::db::connect(&settings.database).await?;
            let key = SigningKey::load_or_create(Path::new(&settings.audit.signing_key_file))?;
            let checkpoint = Trail::new(db).sign_head(&key).await?;
            println!("{}", serde_json::to_string_pretty(&checkpoint)?);
            Ok(())
        }
        AuditCommand::Export { format } => {
            let format =
                audit::Format::parse(&format).ok_or_else(|| CliError::Input("format must be jsonl or csv".into()))?;
            let db = crate::db::connect(&settings.database).await?;
            let mut stream = Box::pin(audit::export::export(Trail::new(db), Filter::default(), format));
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?)?;
            }
            Ok(())
        }
    }
}

/// `anaspoc reindex`: empty the index and fill it again from the database and the stored text,
/// many documents in flight so that the writer commits them in large batches.
pub async fn reindex(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::Arc;
    use std::time::Duration;

    let db = crate::db::connect(&settings.database).await?;
    let storage = crate::storage::Storage::from_settings(&settings.storage)?;
    let policy = Arc::new(settings.policy.compile()?);
    let index = crate::search::SearchIndex::open(Path::new(&settings.search.index_dir))?;
    let writer = crate::search::WriterHandle::start(
        index.clone(),
        Duration::from_millis(settings.search.commit_interval_ms),
        settings.search.commit_max_docs,
    )?;
    let pipeline = crate::ingest::Pipeline::new(
        db.clone(),
        storage,
        crate::ingest::sandbox::Sandbox::from_settings(&settings.ingest)?,
        writer.clone(),
        policy.clone(),
        crate::ingest::Trigger::default(),
        settings.ingest.parallel_extractions,
    );
    let ids = crate::ingest::document_ids(&db).await?;
    writer.clear().await?;
    let bar = indicatif::ProgressBar::new(ids.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reindexing {pos}/{len} documents {wide_bar} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut failures = 0;
    let mut results =
        futures_util::stream::iter(ids.iter().map(|id| pipeline.index_document(id, None))).buffer_unordered(256);
    while let Some(result) = results.next().await {
        if let Err(error) = result {
            failures += 1;
            bar.println(format!("skipped a document: {error}"));
        }
        bar.inc(1);
    }
    bar.finish();
    index.record_policy_stamp(&crate::ingest::reconcile::policy_stamp(&policy))?;
    println!("reindexed {} documents ({failures} skipped); index holds {}", ids.len() - failures, index.count());
    Ok(())
}

/// `anaspoc audit verify --from-export FILE`: no database, no configuration.
pub fn verify_export(path: &Path, checkpoints: &[PathBuf]) -> Result<(), Box<dyn std::error::Error>> {
    let checkpoints = read_checkpoints(checkpoints)?;
    let file = std::fs::File::open(path).map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    report(audit::verify::verify_export(BufReader::new(file), checkpoints))
}

fn report(result: Verification) -> Result<(), Box<dyn std::error::Error>> {
    match result {
        Verification::Ok { count, head_seq, head_hash, checkpoints } => {
            println!("ok: {count} events, head seq {head_seq} hash {head_hash}, {checkpoints} checkpoint(s) verified");
            Ok(())
        }
        Verification::Broken { seq, reason, expected, found } => {
            Err(Box::new(CliError::Broken { seq, reason, expected, found }))
        }
    }
}

fn read_checkpoints(paths: &[PathBuf]) -> Result<Vec<Checkpoint>, CliError> {
    paths
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| CliError::Input(format!("{}: not a checkpoint: {e}", path.display())))
        })
        .collect()
}

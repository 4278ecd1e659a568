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
    Keygen,
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
            let key = SigningKey::for_database(Path::new(&settings.audit.signing_key_file), &settings.database.url)?;
            report(audit::verify::verify_database(&Trail::new(db), checkpoints, Some(key.key_id())).await?)
        }
        AuditCommand::Keygen => {
            let path = Path::new(&settings.audit.signing_key_file);
            let key = SigningKey::create(path)?;
            println!("created {} (key id {}); give every replica this file", path.display(), key.key_id());
            Ok(())
        }
        AuditCommand::Checkpoint => {
            let db = crate::db::connect(&settings.database).await?;
            let key = SigningKey::for_database(Path::new(&settings.audit.signing_key_file), &settings.database.url)?;
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

/// `anaspoc reindex`: empty this replica's index and build it again from the change feed (the
/// database and the stored text), as a new replica does. Stop the replica first: an index has
/// one writer.
pub async fn reindex(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::Arc;

    let db = crate::db::connect(&settings.database).await?;
    let storage = crate::storage::Storage::from_config(settings)?;
    let policy = Arc::new(settings.policy.compile()?);
    let index = crate::search::SearchIndex::open(Path::new(&settings.search.index_dir))?;
    let follower = crate::search::Follower::new(db.clone(), storage, policy, index.clone(), &settings.search)?;
    follower.rebuild().await?;
    let head = crate::db::feed::head(&db).await?;
    let bar = crate::progress::bar(
        head.seq.max(0) as u64,
        true,
        "{spinner} reindexing: change {pos}/{len} {wide_bar} {per_sec} eta {eta}",
    );
    let mut position = None;
    while follower.step(&mut position).await? {
        bar.set_position(follower.state().applied().max(0) as u64);
    }
    bar.finish();
    println!("reindexed up to change {}; index holds {} documents", follower.state().applied(), index.count());
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

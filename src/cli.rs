//! Operator commands beyond serving (`anaspoc audit …`), kept out of `main.rs` so they can be
//! tested like the rest of the library.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::audit::{self, Checkpoint, Filter, SigningKey, Verification};
use crate::config::Settings;
use crate::db::entities::audit_checkpoint;

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
            report(audit::verify::verify_database(&audit::Log::new(db), checkpoints, Some(key.key_id())).await?)
        }
        AuditCommand::Checkpoint => {
            let db = crate::db::connect(&settings.database).await?;
            let key = SigningKey::load_or_create(Path::new(&settings.audit.signing_key_file))?;
            let checkpoint = sign_head(&audit::Log::new(db), &key).await?;
            println!("{}", serde_json::to_string_pretty(&checkpoint)?);
            Ok(())
        }
        AuditCommand::Export { format } => {
            let format = audit::export::Format::parse(&format)
                .ok_or_else(|| CliError::Input("format must be jsonl or csv".into()))?;
            let db = crate::db::connect(&settings.database).await?;
            let mut stream = Box::pin(audit::export::export(audit::Log::new(db), Filter::default(), format));
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?)?;
            }
            Ok(())
        }
    }
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

/// Sign and store a checkpoint of the current head.
pub async fn sign_head(log: &audit::Log, key: &SigningKey) -> Result<Checkpoint, audit::AuditError> {
    let head = log.head().await?;
    let checkpoint = key.sign(head.seq, &head.hash, &audit::format_time(chrono::Utc::now()))?;
    audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel {
        seq: Set(checkpoint.seq),
        hash: Set(checkpoint.hash.clone()),
        at: Set(checkpoint.at.clone()),
        key_id: Set(checkpoint.key_id.clone()),
        public_key: Set(checkpoint.public_key.clone()),
        signature: Set(checkpoint.signature.clone()),
    })
    .on_conflict(sea_orm::sea_query::OnConflict::column(audit_checkpoint::Column::Seq).do_nothing().to_owned())
    .exec_without_returning(log.db())
    .await?;
    Ok(checkpoint)
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

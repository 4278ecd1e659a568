//! `anaspoc import DIR --manifest FILE --as NAME`: bulk import for operators and migrations.
//!
//! The manifest (see [`manifest`]) is read and every line checked first; one bad line and
//! nothing is imported. Then the files are stored and committed in batches: each batch's
//! documents, first versions, change-feed numbers and `document.create` audit events (one per
//! document, by the importing principal) in one transaction — durable together or not at all.
//! Plain text is extracted here as the ingest pipeline would (in process); other formats are
//! queued for the sandboxed pipeline of the running servers. Every replica's index follows the
//! feed as for uploads.
//!
//! Resumable: a document's id is derived from its manifest line (file and metadata) and a salt
//! kept beside the manifest (`<manifest>.import-state`, created on the first run), so a second
//! run of the same manifest skips what is already in the database and imports the rest —
//! whether the first was interrupted or finished. The salt keeps ids unguessable from the
//! metadata (auditors see ids, never titles).

mod batch;
pub mod manifest;
mod state;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use crate::audit::{self, Action as AuditAction, AuditError, NewEvent, Outcome};
use crate::config::Settings;
use crate::policy::{Capability, Reason};
use crate::storage::{Storage, StorageError};
use manifest::{Checks, ManifestError};

pub struct ImportOptions {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    /// `--as`: one of `[import.identities]` (or, in demo mode, a demo persona).
    pub identity: String,
    /// Check the manifest only.
    pub dry_run: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Identity(#[from] crate::auth::operator::UnknownIdentity),
    #[error("{0} may not create documents (no document:write capability)")]
    NotPermitted(String),
    #[error("{path}: {reason}")]
    State { path: String, reason: String },
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("line {line} ({file}): {reason}")]
    File { line: usize, file: String, reason: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("database: {0}")]
    DatabaseNotReady(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Record(#[from] crate::documents::DocumentsError),
    #[error("configuration: {0}")]
    Config(String),
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub imported: usize,
    /// Lines whose document a previous run imported.
    pub skipped: usize,
    /// Of the imported: queued for the sandboxed extraction (not plain text).
    pub queued: usize,
}

pub async fn run(settings: &Settings, options: ImportOptions) -> Result<Summary, ImportError> {
    let policy = settings.policy.compile().map_err(|e| ImportError::Config(e.to_string()))?;
    let command = format!("anaspoc import {}", options.manifest.display());
    let caller = crate::auth::operator::operator(settings, &policy, &options.identity, &command)?;
    let db = crate::db::connect(&settings.database).await.map_err(|e| ImportError::DatabaseNotReady(e.to_string()))?;
    crate::db::check_ready(&db).await.map_err(ImportError::DatabaseNotReady)?;
    let principal = &caller.principal;
    if !principal.has(Capability::DocumentWrite) {
        // Refused like an upload by the same principal, and audited as one.
        let refusal = NewEvent::of(&caller, AuditAction::DocumentCreate, Outcome::Denied)
            .details(json!({"reason": Reason::NoWriteCapability, "import": {"manifest": options.manifest.display().to_string()}}));
        audit::Log::new(db).record(refusal).await?;
        return Err(ImportError::NotPermitted(principal.sub.clone()));
    }
    let dir = std::fs::canonicalize(&options.dir)
        .ok()
        .filter(|dir| dir.is_dir())
        .ok_or_else(|| ImportError::NotADirectory(options.dir.display().to_string()))?;
    let checks =
        Checks { dir: &dir, policy: &policy, importer: principal, max_bytes: settings.limits.max_upload_bytes };
    let entries = manifest::read(&options.manifest, &checks)?;
    if options.dry_run {
        println!("{}: {} lines checked; nothing imported (--dry-run)", options.manifest.display(), entries.len());
        return Ok(Summary::default());
    }
    let salt = state::salt(&options.manifest)?;
    let storage = Storage::from_config(settings)?;
    let importer = batch::Importer {
        db,
        storage,
        caller,
        salt,
        manifest: options.manifest.display().to_string(),
        max_bytes: settings.limits.max_upload_bytes,
        parallel_files: settings.import.parallel_files,
    };

    let bar = crate::progress::bar(
        entries.len() as u64,
        options.progress,
        "{spinner} importing: line {pos}/{len} {wide_bar} {per_sec} eta {eta}",
    );
    let started = Instant::now();
    let mut summary = Summary::default();
    for chunk in entries.chunks(settings.import.batch_size) {
        let done = importer.import(chunk).await?;
        summary.imported += done.imported;
        summary.skipped += done.skipped;
        summary.queued += done.queued;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "imported {} documents in {seconds:.1} s ({:.0}/s) as {}; {} already imported by an earlier run; \
         {} queued for extraction",
        summary.imported,
        summary.imported as f64 / seconds.max(f64::EPSILON),
        importer.caller.principal.sub,
        summary.skipped,
        summary.queued,
    );
    Ok(summary)
}

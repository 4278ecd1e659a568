//! One batch of an import: skip the lines an earlier run imported, store the rest's files (and
//! the text of plain-text files) a few at a time, then commit their documents, first versions,
//! ingest jobs, change-feed numbers and audit events in one transaction. If anything fails, the
//! batch's stored objects are removed and the run stops: nothing half-imported remains, and the
//! next run takes the batch again.

use std::collections::HashSet;

use bytes::Bytes;
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::manifest::Entry;
use super::{ImportError, state};
use crate::audit;
use crate::caller::Caller;
use crate::db::entities::document;
use crate::document_id::DocumentId;
use crate::documents::creation::{ExtractedText, FirstVersion, NewRecord, extract_in_hand, record_all};
use crate::documents::{detect_media_type, sanitise_filename};
use crate::ingest::extract::MAX_DIRECT_BYTES;
use crate::policy::Status;
use crate::storage::{ObjectKey, ReceivedObject, Storage};

/// Files up to this size are read whole and stored in one request; larger ones are streamed.
const READ_WHOLE_BYTES: u64 = 8 * 1024 * 1024;
/// Bytes read at a time from a streamed file.
const STREAM_CHUNK_BYTES: usize = 256 * 1024;

pub struct Importer {
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub caller: Caller,
    pub salt: String,
    /// The manifest as named on the command line (recorded in each audit event).
    pub manifest: String,
    pub max_bytes: u64,
    pub parallel_files: usize,
}

/// A file stored for a line, waiting for its batch's commit.
struct Stored<'a> {
    entry: &'a Entry,
    id: DocumentId,
    object: ReceivedObject,
    media_type: String,
    /// Extracted here (plain text).
    text: Option<ExtractedText>,
}

impl Importer {
    pub async fn import(&self, entries: &[Entry]) -> Result<super::Summary, ImportError> {
        let ids: Vec<DocumentId> = entries
            .iter()
            .map(|entry| state::document_id(&self.salt, &self.caller.principal.sub, &entry.identity))
            .collect();
        let done: HashSet<String> = document::Entity::find()
            .select_only()
            .column(document::Column::Id)
            .filter(document::Column::Id.is_in(ids.iter().map(ToString::to_string)))
            .into_tuple::<String>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        let todo: Vec<(&Entry, DocumentId)> =
            entries.iter().zip(ids).filter(|(_, id)| !done.contains(&id.to_string())).collect();
        let skipped = entries.len() - todo.len();

        let results: Vec<Result<Stored<'_>, ImportError>> = futures_util::stream::iter(todo)
            .map(|(entry, id)| self.store(entry, id))
            .buffer_unordered(self.parallel_files)
            .collect()
            .await;
        let (stored, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let stored: Vec<Stored<'_>> = stored.into_iter().filter_map(Result::ok).collect();
        if let Some(Err(error)) = failed.into_iter().next() {
            self.discard(&stored).await;
            return Err(error);
        }
        let queued = stored.iter().filter(|s| s.text.is_none()).count();
        let imported = stored.len();
        if let Err(error) = self.commit(&stored).await {
            self.discard(&stored).await;
            return Err(error);
        }
        Ok(super::Summary { imported, skipped, queued })
    }

    /// Store one line's file (and, for plain text, its text).
    async fn store<'a>(&self, entry: &'a Entry, id: DocumentId) -> Result<Stored<'a>, ImportError> {
        let failed = |reason: String| ImportError::File { line: entry.line, file: entry.relative.clone(), reason };
        let key = ObjectKey::version(id.uuid(), 1);
        let principal = &self.caller.principal;
        let organisation = crate::policy::organisation_key(&principal.country, &principal.organisation);
        let (object, bytes) = if entry.size <= READ_WHOLE_BYTES {
            let bytes = Bytes::from(tokio::fs::read(&entry.path).await.map_err(|e| failed(e.to_string()))?);
            (self.storage.put_received_for(key, bytes.clone(), self.max_bytes, &organisation).await?, Some(bytes))
        } else {
            let mut file = tokio::fs::File::open(&entry.path).await.map_err(|e| failed(e.to_string()))?;
            let mut upload = self.storage.begin_upload_for(key, self.max_bytes, &organisation).await?;
            loop {
                let mut chunk = bytes::BytesMut::with_capacity(STREAM_CHUNK_BYTES);
                let written = match file.read_buf(&mut chunk).await {
                    Ok(0) => break,
                    Ok(_) => upload.write(chunk.freeze()).await.map_err(ImportError::from),
                    Err(error) => Err(failed(error.to_string())),
                };
                if let Err(error) = written {
                    upload.abort().await;
                    return Err(error);
                }
            }
            (upload.finish().await?, None)
        };
        let media_type = detect_media_type(object.head());
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        // Plain text is extracted in process, as the pipeline does; every other format goes to
        // the sandboxed pipeline of the servers.
        let text = match bytes {
            Some(bytes) if essence == "text/plain" && bytes.len() as u64 <= MAX_DIRECT_BYTES => {
                let detect = entry.document.language.is_none();
                Some(extract_in_hand(&self.storage, &object, &bytes, detect, &organisation).await?)
            }
            _ => None,
        };
        Ok(Stored { entry, id, object, media_type, text })
    }

    /// The batch's rows, jobs, feed numbers and audit events, in one transaction.
    async fn commit(&self, stored: &[Stored<'_>]) -> Result<(), ImportError> {
        if stored.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let records = stored
            .iter()
            .map(|file| {
                let document = &file.entry.document;
                let first = FirstVersion {
                    id: file.id,
                    title: document.title.clone(),
                    summary: document.summary.clone(),
                    language: document.language.clone(),
                    tags: document.tags.clone(),
                    markings: &document.markings,
                    status: if document.publish { Status::Published } else { Status::Draft },
                    object: &file.object,
                    media_type: file.media_type.clone(),
                    filename: sanitise_filename(file.entry.path.file_name().and_then(|n| n.to_str())),
                    text: file.text.clone(),
                    derived_from: None,
                };
                NewRecord::of(&self.caller, first, now)
                    .noting("import", json!({"manifest": self.manifest, "line": file.entry.line}))
            })
            .collect();
        let txn = self.db.begin().await?;
        let recorded = record_all(&txn, records).await?;
        txn.commit().await?;
        for event in &recorded {
            audit::Log::emit(event);
        }
        Ok(())
    }

    /// Remove what a failed batch stored.
    async fn discard(&self, stored: &[Stored<'_>]) {
        for file in stored {
            let text = file.text.as_ref().and_then(|text| text.own_object(file.object.key()));
            for key in std::iter::once(file.object.key()).chain(text) {
                if let Err(error) = self.storage.delete(key).await {
                    tracing::error!(key = key.as_str(), %error, "could not remove an object of a failed import batch");
                }
            }
        }
    }
}

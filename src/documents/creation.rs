//! Recording new documents. A new document is its row with a first version, an ingest job (or
//! its text, when extracted already), a change-feed number and a `document.create` event — all in
//! one transaction. An upload and a whole import batch are recorded by the same code
//! ([`record_all`]); concurrent uploads go through the [`CreationWriter`], which commits the
//! records of all the requests waiting in one transaction (one fsync, one hold of the feed and
//! audit-head locks) and answers each request only once its record is durable.

use bytes::Bytes;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::DocumentsError;
use super::model::DerivedFrom;
use crate::audit::{self, Action as AuditAction, Event, NewEvent, Outcome, Target};
use crate::caller::Caller;
use crate::crypto::keyring::WrappedKey;
use crate::db::documents::{NewDocumentRow, NewVersionRow};
use crate::db::entities::{document, document_version};
use crate::db::feed;
use crate::document_id::DocumentId;
use crate::ingest::extract::plain_text;
use crate::ingest::jobs;
use crate::ingest::language;
use crate::policy::{Markings, Status};
use crate::storage::{ObjectKey, ReceivedObject, Storage, StorageError};

/// Most documents the writer records in one transaction.
const MAX_BATCH: usize = 256;

/// A new document whose bytes are stored, as its creator described it.
pub struct FirstVersion<'a> {
    pub id: DocumentId,
    pub title: String,
    pub summary: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub markings: &'a Markings,
    pub status: Status,
    pub object: &'a ReceivedObject,
    pub media_type: String,
    /// Already sanitised.
    pub filename: String,
    /// Its text, when it was extracted before the commit (plain text in an import).
    pub text: Option<ExtractedText>,
    /// The source, when the new document is a derivative of one.
    pub derived_from: Option<&'a DerivedFrom>,
}

/// Text extracted and stored before its document was recorded.
#[derive(Clone)]
pub struct ExtractedText {
    /// The text object — or the file's own key, when the file is its own text.
    pub key: ObjectKey,
    pub bytes: i64,
    pub detected_language: Option<String>,
    /// How the text object is encrypted (`WrappedKey::to_column`), if it is.
    pub sealed: Option<String>,
}

impl ExtractedText {
    /// The object written for the text alone, if one was (to remove with a failed upload).
    pub fn own_object(&self, file: &ObjectKey) -> Option<&ObjectKey> {
        (self.key != *file).then_some(&self.key)
    }
}

/// Store the text of a plain-text file held whole in memory — decoded, keyed and with its
/// language detected exactly as the ingest pipeline would — so that its document is recorded
/// with its text, needs no ingest job and is searchable as soon as it is committed.
pub async fn extract_in_hand(
    storage: &Storage,
    object: &ReceivedObject,
    bytes: &[u8],
    detect_language: bool,
    organisation: &str,
) -> Result<ExtractedText, StorageError> {
    let text = plain_text(bytes);
    // Most plain text is already its own text (UTF-8, tidy whitespace): then the file itself
    // is the version's text and no second object is written — half the writes of an import.
    let (key, sealed) = if text.as_bytes() == bytes {
        (object.key().clone(), object.sealed().map(WrappedKey::to_column))
    } else {
        let key = ObjectKey::text_of(object.key().as_str());
        let sealed = storage.put_for(&key, Bytes::from(text.clone()), organisation).await?;
        (key, sealed.as_ref().map(WrappedKey::to_column))
    };
    let bytes = text.len() as i64;
    let detected_language = if detect_language { language::detect_apart(text).await } else { None };
    Ok(ExtractedText { key, bytes, detected_language, sealed })
}

/// Everything written for one new document.
#[derive(Clone)]
pub struct NewRecord {
    id: String,
    document: document::ActiveModel,
    version: document_version::ActiveModel,
    /// Whether the ingest pipeline still has to extract its text.
    extract: bool,
    event: NewEvent,
}

impl NewRecord {
    /// The record of `new`, created by `caller` at `now`.
    pub fn of(caller: &Caller, new: FirstVersion<'_>, now: chrono::DateTime<chrono::Utc>) -> Self {
        let principal = &caller.principal;
        let id = new.id.to_string();
        let mut document = NewDocumentRow {
            id: id.clone(),
            title: new.title,
            summary: new.summary,
            language: new.language,
            tags: new.tags,
            markings: new.markings,
            originator_org: principal.organisation.clone(),
            originator_country: principal.country.clone(),
            originator_sub: principal.sub.clone(),
            status: new.status,
            derived_from: new.derived_from.map(|source| source.id.to_string()),
            now,
        }
        .into_active_model();
        // As appending the first version to an empty document leaves it.
        document.current_version = Set(1);
        document.revision = Set(2);
        let mut version = NewVersionRow {
            document_id: id.clone(),
            object_key: new.object.key().as_str().to_owned(),
            sha256: new.object.sha256().to_owned(),
            size_bytes: i64::try_from(new.object.size()).unwrap_or(i64::MAX),
            media_type: new.media_type.clone(),
            filename: new.filename,
            created_by: principal.sub.clone(),
            now,
            sealed: new.object.sealed().map(WrappedKey::to_column),
        }
        .into_active_model();
        // Every column set on every row: a multi-row insert has one column list.
        version.version = Set(1);
        version.ingest_error = Set(None);
        version.ingest_note = Set(None);
        let extract = new.text.is_none();
        match new.text {
            Some(text) => {
                version.text_key = Set(Some(text.key.as_str().to_owned()));
                version.text_bytes = Set(Some(text.bytes));
                version.text_sealed = Set(text.sealed);
                version.detected_language = Set(text.detected_language);
                version.ingest_state = Set("indexed".into());
            }
            None => {
                version.text_key = Set(None);
                version.text_bytes = Set(None);
                version.detected_language = Set(None);
                version.ingest_state = Set("pending".into());
            }
        }
        let mut details = json!({
            "markings": new.markings,
            "status": new.status,
            "sha256": new.object.sha256(),
            "size": new.object.size(),
            "media_type": new.media_type,
        });
        if let Some(source) = new.derived_from {
            // The source's markings at the time: what the derivative lowered them from.
            details["derived_from"] = json!({"id": source.id.to_string(), "markings": source.markings});
        }
        let event = NewEvent::of(caller, AuditAction::DocumentCreate, Outcome::Allowed)
            .target(Target::version(&id, 1))
            .details(details);
        Self { id, document, version, extract, event }
    }

    /// Add `value` under `key` to the audit event's details (an import's manifest line, say).
    pub fn noting(mut self, key: &str, value: serde_json::Value) -> Self {
        if let Some(details) = self.event.details.as_object_mut() {
            details.insert(key.to_owned(), value);
        }
        self
    }
}

/// Write `records` inside `txn`, in a fixed number of statements whatever their number, and
/// return their audit events (emit them after the commit, with [`audit::Log::emit`]).
pub async fn record_all(txn: &impl ConnectionTrait, records: Vec<NewRecord>) -> Result<Vec<Event>, DocumentsError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = records.iter().map(|record| record.id.clone()).collect();
    let to_extract: Vec<String> = records.iter().filter(|r| r.extract).map(|r| r.id.clone()).collect();
    let mut documents = Vec::with_capacity(records.len());
    let mut versions = Vec::with_capacity(records.len());
    let mut events = Vec::with_capacity(records.len());
    for record in records {
        documents.push(record.document);
        versions.push(record.version);
        events.push(record.event);
    }
    document::Entity::insert_many(documents).exec_without_returning(txn).await?;
    document_version::Entity::insert_many(versions).exec_without_returning(txn).await?;
    jobs::enqueue_first_versions(txn, &to_extract).await?;
    // Lock order as everywhere: documents, feed counter, audit head.
    feed::stamp_all(txn, &ids).await?;
    Ok(audit::Log::append_all(txn, events).await?)
}

/// Records new documents for concurrent requests, several per transaction (group commit).
#[derive(Clone)]
pub struct CreationWriter {
    sender: mpsc::Sender<Pending>,
}

/// A record waiting for the writer, and where to send its outcome.
type Pending = (NewRecord, oneshot::Sender<Result<Event, DocumentsError>>);

impl CreationWriter {
    /// Start the writer task on the current runtime.
    pub fn start(db: DatabaseConnection) -> Self {
        let sender = crate::group_commit::start(MAX_BATCH, move |batch| {
            let db = db.clone();
            async move { commit_batch(&db, batch).await }
        });
        Self { sender }
    }

    /// Record `record`; durable when this returns (emit its event then).
    pub async fn record(&self, record: NewRecord) -> Result<Event, DocumentsError> {
        let (done, outcome) = oneshot::channel();
        self.sender.send((record, done)).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Commit a batch in one transaction. If that fails, each record is committed alone, so that
/// one bad record (a duplicate id, say) costs only its own request.
async fn commit_batch(db: &DatabaseConnection, batch: Vec<Pending>) {
    if batch.len() > 1 {
        let records: Vec<NewRecord> = batch.iter().map(|(record, _)| record.clone()).collect();
        match commit(db, records).await {
            Ok(recorded) => {
                for ((_, done), event) in batch.into_iter().zip(recorded) {
                    let _ = done.send(Ok(event));
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, documents = batch.len(), "creation batch failed; recording one by one")
            }
        }
    }
    for (record, done) in batch {
        let alone = commit(db, vec![record]).await.and_then(|mut events| events.pop().ok_or(DocumentsError::Busy));
        let _ = done.send(alone);
    }
}

async fn commit(db: &DatabaseConnection, records: Vec<NewRecord>) -> Result<Vec<Event>, DocumentsError> {
    let txn = db.begin().await?;
    let recorded = record_all(&txn, records).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// The writer task is gone (the runtime is shutting down): nothing was recorded.
fn stopped() -> DocumentsError {
    DocumentsError::Database(sea_orm::DbErr::Custom("the document creation writer stopped".into()))
}

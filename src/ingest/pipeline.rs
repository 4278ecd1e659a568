//! The ingest pipeline: workers claim jobs from the database, extract a new version's text (in
//! the sandbox), store it next to the object, detect the language, index the document, and only
//! then mark the job done. A crash at any point leaves the job claimable again (its lease runs
//! out) and every step is idempotent, so restarting loses nothing and shows nothing half-done.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use super::jobs::{self, JobKind};
use super::sandbox::Sandbox;
use super::{IngestError, language};
use crate::db::documents as repo;
use crate::db::entities::{document, document_version, ingest_job};
use crate::policy::PolicyConfig;
use crate::search::{Applied, IndexEntry, WriterHandle};
use crate::storage::{ObjectKey, Storage};

/// Jobs processed at once; most of their time is spent waiting for the index commit.
const IN_FLIGHT: usize = 512;
/// How often an idle worker looks for jobs without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How long a claimed job is leased before another worker may take it over (a crashed
/// worker's jobs are taken over this soon); the lease is renewed while the job runs.
const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// Transient failures are retried this many times, then the job fails.
const MAX_ATTEMPTS: i32 = 5;
/// Longest failure reason kept.
const MAX_REASON_CHARS: usize = 500;

/// Text a job has just extracted.
pub struct Extracted {
    pub version: i32,
    pub text: String,
    pub language: Option<String>,
}

/// Wakes idle workers when a change has enqueued a job.
#[derive(Clone, Default)]
pub struct Trigger(Arc<Notify>);

impl Trigger {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }
}

pub struct Pipeline {
    db: DatabaseConnection,
    storage: Storage,
    sandbox: Sandbox,
    writer: WriterHandle,
    policy: Arc<PolicyConfig>,
    trigger: Trigger,
    /// Sandboxed extractions at once (each is a process; about one per core).
    extractions: Semaphore,
}

impl Pipeline {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        sandbox: Sandbox,
        writer: WriterHandle,
        policy: Arc<PolicyConfig>,
        trigger: Trigger,
        parallel_extractions: usize,
    ) -> Self {
        Self { db, storage, sandbox, writer, policy, trigger, extractions: Semaphore::new(parallel_extractions.max(1)) }
    }

    /// Run the worker loop until the process ends: keep up to `IN_FLIGHT` jobs running, claim
    /// more as they finish, and renew the leases of those still running.
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut running: JoinSet<i32> = JoinSet::new();
            let mut leased: HashSet<i32> = HashSet::new();
            let mut renew = tokio::time::interval(RENEW_EVERY);
            renew.tick().await;
            loop {
                // Register for a wake-up before looking, so a job enqueued in between is not missed.
                let notified = self.trigger.0.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if running.len() < IN_FLIGHT / 2 {
                    match jobs::claim(&self.db, (IN_FLIGHT - running.len()) as u64, LEASE).await {
                        Ok(claimed) if !claimed.is_empty() => {
                            for job in claimed {
                                leased.insert(job.id);
                                let pipeline = self.clone();
                                running.spawn(async move {
                                    let id = job.id;
                                    pipeline.run(job).await;
                                    id
                                });
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::error!(%error, "claiming ingest jobs failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                tokio::select! {
                    Some(finished) = running.join_next() => {
                        if let Ok(id) = finished {
                            leased.remove(&id);
                        }
                    }
                    _ = &mut notified => {}
                    // Slow jobs (OCR) keep their lease while they run.
                    _ = renew.tick() => {
                        let ids: Vec<i32> = leased.iter().copied().collect();
                        if !ids.is_empty() && let Err(error) = jobs::renew(&self.db, &ids, LEASE).await {
                            tracing::warn!(%error, "renewing ingest leases failed");
                        }
                    }
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        });
    }

    /// Process one claimed job and record how it ended.
    async fn run(&self, job: ingest_job::Model) {
        let outcome = match job.kind.as_str() {
            "extract" => self.extract(&job.document_id, job.version).await.map(|_| ()),
            _ => self.index_document(&job.document_id, None).await.map(|_| ()),
        };
        let recorded = match &outcome {
            Ok(()) => jobs::finish(&self.db, job.id, None).await,
            Err(error) if error.is_transient() && job.attempts < MAX_ATTEMPTS => {
                let backoff = Duration::from_secs(2u64.pow(job.attempts.clamp(0, 6) as u32));
                tracing::warn!(job = job.id, %error, ?backoff, "ingest job failed; retrying");
                jobs::retry_later(&self.db, job.id, &reason(error), backoff).await
            }
            Err(error) => {
                tracing::warn!(job = job.id, document = %job.document_id, %error, "ingest job failed");
                let failed = jobs::finish(&self.db, job.id, Some(&reason(error))).await;
                if job.kind == JobKind::Extract.as_str() {
                    let _ = self.mark_version(&job.document_id, job.version, Some(&reason(error))).await;
                }
                failed
            }
        };
        if let Err(error) = recorded {
            tracing::error!(job = job.id, %error, "could not record the end of an ingest job; it will run again");
        }
    }

    /// Extract a version's text (once), store it, then index the document with it.
    pub async fn extract(&self, document_id: &str, version: i32) -> Result<Applied, IngestError> {
        let row = repo::version(&self.db, document_id, version).await?.ok_or(IngestError::Gone)?;
        let doc = repo::find(&self.db, document_id).await?.ok_or(IngestError::Gone)?;
        let mut failure = None;
        let mut extracted = None;
        if row.text_key.is_none() {
            match self.extract_text(&doc, &row).await {
                Ok(text) => {
                    let language = self.store_text(&doc, &row, &text).await?;
                    extracted = Some(Extracted { version, text, language });
                }
                Err(IngestError::Extraction(reason)) => failure = Some(reason),
                Err(other) => return Err(other),
            }
        }
        // Read the document again after storing the text: any later change then sees the text.
        let applied = self.index_document(document_id, extracted).await?;
        self.mark_version(document_id, version, failure.as_deref()).await?;
        match failure {
            Some(reason) => Err(IngestError::Extraction(reason)),
            None => Ok(applied),
        }
    }

    async fn extract_text(&self, doc: &document::Model, row: &document_version::Model) -> Result<String, IngestError> {
        let key = ObjectKey::from_stored(&row.object_key);
        let download = self.storage.download(&key, None).await?;
        let essence = row.media_type.split(';').next().unwrap_or_default().trim();
        // Plain text is decoded in process (nothing to exploit in a charset decoder); every
        // format with a parser goes to the sandbox.
        if essence == "text/plain" {
            let mut bytes = Vec::new();
            let mut stream = download.stream;
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk?);
                if bytes.len() as u64 > super::extract::MAX_DIRECT_BYTES {
                    return Err(IngestError::Extraction("the text file exceeds the extraction limits".into()));
                }
            }
            return Ok(super::extract::plain_text(&bytes));
        }
        let file = tempfile::Builder::new().prefix("anaspoc-extract-").tempfile()?;
        let (std_file, path) = file.into_parts();
        let mut out = tokio::fs::File::from_std(std_file);
        let mut stream = download.stream;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await?;
        }
        out.flush().await?;
        drop(out);
        let _permit = self.extractions.acquire().await.map_err(|e| IngestError::Extraction(e.to_string()))?;
        self.sandbox
            .extract(&path, &row.media_type, doc.language.as_deref())
            .await
            .map_err(|e| IngestError::Extraction(e.to_string()))
    }

    async fn store_text(
        &self,
        doc: &document::Model,
        row: &document_version::Model,
        text: &str,
    ) -> Result<Option<String>, IngestError> {
        let key = ObjectKey::text_of(&row.object_key);
        self.storage.put(&key, Bytes::copy_from_slice(text.as_bytes())).await?;
        let detected = if doc.language.is_none() { language::detect(text) } else { None };
        document_version::Entity::update_many()
            .col_expr(document_version::Column::TextKey, Expr::value(Some(key.as_str().to_owned())))
            .col_expr(document_version::Column::TextBytes, Expr::value(Some(text.len() as i64)))
            .col_expr(document_version::Column::DetectedLanguage, Expr::value(detected.clone()))
            .filter(document_version::Column::Id.eq(row.id))
            .exec(&self.db)
            .await?;
        Ok(detected)
    }

    async fn mark_version(&self, document_id: &str, version: i32, failure: Option<&str>) -> Result<(), IngestError> {
        document_version::Entity::update_many()
            .col_expr(
                document_version::Column::IngestState,
                Expr::value(if failure.is_some() { "failed" } else { "indexed" }),
            )
            .col_expr(document_version::Column::IngestError, Expr::value(failure.map(str::to_owned)))
            .filter(document_version::Column::DocumentId.eq(document_id))
            .filter(document_version::Column::Version.eq(version))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Put the document as it is now in the database — markings, status, title, and the text of
    /// its current version if extracted — into the index; resolves once committed.
    /// `extracted`: text just extracted (saves reading it back when it is the current version's).
    pub async fn index_document(
        &self,
        document_id: &str,
        extracted: Option<Extracted>,
    ) -> Result<Applied, IngestError> {
        let doc = repo::find(&self.db, document_id).await?.ok_or(IngestError::Gone)?;
        let Some(readable) = repo::read(&doc, &self.policy) else {
            // The API hides such a document; the index must not keep counting an old state of it.
            self.writer.remove(&doc.id).await?;
            return Err(IngestError::Extraction(
                "the stored document cannot be read (see the log); it is hidden".into(),
            ));
        };
        let (body, text_version, detected) = match extracted.filter(|e| e.version == doc.current_version) {
            Some(fresh) => (fresh.text, fresh.version as u64, fresh.language),
            None => self.current_text(&doc).await?,
        };
        let entry = IndexEntry {
            id: doc.id.clone(),
            revision: doc.revision as u64,
            text_version,
            title: doc.title.clone(),
            summary: doc.summary.clone().unwrap_or_default(),
            body,
            tags: readable.tags,
            language: doc.language.clone().or(detected).unwrap_or_else(|| "und".into()),
            facts: readable.facts,
            published_at: doc.published_at,
        };
        Ok(self.writer.upsert(entry).await?)
    }

    /// The stored text of the document's current version, its number, and detected language.
    async fn current_text(&self, doc: &document::Model) -> Result<(String, u64, Option<String>), IngestError> {
        let current = repo::version(&self.db, &doc.id, doc.current_version).await?;
        Ok(match &current {
            Some(version) => match &version.text_key {
                Some(key) => {
                    let text = self.storage.read_to_string(&ObjectKey::from_stored(key)).await?;
                    (text, version.version as u64, version.detected_language.clone())
                }
                None => (String::new(), 0, None),
            },
            None => (String::new(), 0, None),
        })
    }

    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

fn reason(error: &IngestError) -> String {
    error.to_string().chars().take(MAX_REASON_CHARS).collect()
}

/// Ids of every document, for a rebuild or a reconciliation.
pub async fn document_ids(db: &DatabaseConnection) -> Result<Vec<String>, IngestError> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(document::Entity::find()
        .select_only()
        .column(document::Column::Id)
        .order_by_asc(document::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await?)
}

//! The ingest pipeline: workers claim extraction jobs from the database (once per cluster),
//! extract a new version's text in the sandbox, store it next to the object, detect the
//! language, and then — in one transaction fenced by the job's lease — record the text on the
//! version, put the document in the change feed and finish the job. Every replica's index then
//! picks the text up from the feed (see `search::follower`). A crash at any point leaves the job
//! claimable again when its lease runs out, and every step is idempotent.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use super::extract::OcrOptions;
use super::jobs::{self, Lease};
use super::ocr_languages::OcrLanguages;
use super::sandbox::Sandbox;
use super::{IngestError, language};
use crate::crypto::keyring::WrappedKey;
use crate::db::documents as repo;
use crate::db::entities::{document, document_version, ingest_job};
use crate::db::feed;
use crate::search::FeedState;
use crate::storage::{ObjectKey, Storage};

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
/// How long the workers pause when a dependency is out before they try again.
const OUTAGE_PAUSE: Duration = Duration::from_secs(5);

/// Wakes this process's ingest workers (a job was enqueued) and its index follower (a change
/// was committed) without waiting for their next poll.
#[derive(Clone)]
pub struct Trigger {
    jobs: Arc<Notify>,
    feed: Arc<FeedState>,
}

impl Trigger {
    pub fn new(feed: Arc<FeedState>) -> Self {
        Self { jobs: Arc::new(Notify::new()), feed }
    }

    pub fn wake(&self) {
        self.jobs.notify_waiters();
        self.feed.wake();
    }

    /// Whether this process's index has applied the change numbered `change_seq`.
    pub fn searchable(&self, change_seq: i64) -> bool {
        self.feed.applied() >= change_seq
    }
}

pub struct Pipeline {
    db: DatabaseConnection,
    storage: Storage,
    sandbox: Sandbox,
    /// The OCR language packs installed, to choose each scan's (or the closest).
    ocr: OcrLanguages,
    trigger: Trigger,
    /// Sandboxed extractions at once (each is a process; about one per core).
    extractions: Semaphore,
    /// Jobs a worker holds at once. Most of a job's time is waiting — on the store, on the
    /// database's writer, on a sandbox slot — and plain text needs no slot at all, so several
    /// jobs per extraction slot keep both busy (measured: 4 in flight left small text uploads
    /// searchable at a few hundred a second). Bounded, so that other replicas get the rest.
    in_flight: usize,
    /// Until when the workers claim nothing: a dependency was found out (see [`IngestError::is_outage`]).
    paused_until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Pipeline {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        sandbox: Sandbox,
        ocr: OcrLanguages,
        trigger: Trigger,
        parallel_extractions: usize,
    ) -> Self {
        let parallel = parallel_extractions.max(1);
        Self {
            db,
            storage,
            sandbox,
            ocr,
            trigger,
            extractions: Semaphore::new(parallel),
            in_flight: (parallel * 8).max(16),
            paused_until: std::sync::Mutex::new(None),
        }
    }

    /// Run the worker loop until the process ends: keep up to `in_flight` jobs running, claim
    /// as many as there are free slots, and renew the leases of those still running.
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut running: JoinSet<Lease> = JoinSet::new();
            let mut leased: Vec<Lease> = Vec::new();
            let mut renew = tokio::time::interval(RENEW_EVERY);
            renew.tick().await;
            let mut claim_backoff = Duration::ZERO;
            loop {
                // Register for a wake-up before looking, so a job enqueued in between is not missed.
                let notified = self.trigger.jobs.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let free = if self.paused() { 0 } else { self.in_flight.saturating_sub(running.len()) };
                // Claim in batches — once half the slots are free, or none is busy — rather than
                // one job (three statements) for every job that ends.
                if free > 0 && (free * 2 >= self.in_flight || running.is_empty()) {
                    match jobs::claim(&self.db, free as u64, LEASE).await {
                        Ok(claimed) if !claimed.is_empty() => {
                            for job in claimed {
                                let lease = Lease::of(&job);
                                leased.push(lease.clone());
                                let pipeline = self.clone();
                                running.spawn(async move {
                                    pipeline.run(job).await;
                                    lease
                                });
                            }
                            continue;
                        }
                        Ok(_) => claim_backoff = Duration::ZERO,
                        Err(error) => {
                            // The database is out: back off (with jitter, so replicas do not
                            // come back in step), up to 30 s.
                            claim_backoff =
                                (claim_backoff * 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
                            let jitter =
                                uuid::Uuid::new_v4().as_u128() as u64 % (claim_backoff.as_millis() as u64 / 2 + 1);
                            tracing::warn!(%error, retry_in = ?claim_backoff, "claiming ingest jobs failed");
                            tokio::time::sleep(claim_backoff + Duration::from_millis(jitter)).await;
                        }
                    }
                }
                tokio::select! {
                    Some(finished) = running.join_next() => {
                        if let Ok(lease) = finished {
                            leased.retain(|held| *held != lease);
                        }
                    }
                    _ = &mut notified => {}
                    // Slow jobs (OCR) keep their lease while they run.
                    _ = renew.tick() => {
                        if !leased.is_empty() && let Err(error) = jobs::renew(&self.db, &leased, LEASE).await {
                            tracing::warn!(%error, "renewing ingest leases failed");
                        }
                    }
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        });
    }

    /// Process one claimed job and record how it ended — unless its lease lapsed meanwhile and
    /// the job is someone else's now: then this worker's result is dropped.
    async fn run(&self, job: ingest_job::Model) {
        let lease = Lease::of(&job);
        let recorded = match self.extract(&job.document_id, job.version, &lease).await {
            Ok(owned) => Ok(owned),
            Err(error) if error.is_outage() => {
                self.pause(&error);
                jobs::release(&self.db, &lease, &reason(&error), OUTAGE_PAUSE).await.map_err(IngestError::from)
            }
            Err(error) if error.is_transient() && job.attempts < MAX_ATTEMPTS => {
                let backoff = Duration::from_secs(2u64.pow(job.attempts.clamp(0, 6) as u32));
                tracing::warn!(job = job.id, %error, ?backoff, "ingest job failed; retrying");
                jobs::retry_later(&self.db, &lease, &reason(&error), backoff).await.map_err(IngestError::from)
            }
            Err(error) => {
                tracing::warn!(job = job.id, document = %job.document_id, %error, "ingest job failed");
                self.fail(&job, &lease, &reason(&error)).await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = job.id,
                document = %job.document_id,
                "the lease of an ingest job lapsed and another worker claimed it; this result is dropped"
            ),
            Err(error) => {
                tracing::error!(job = job.id, %error, "could not record the end of an ingest job; it will run again")
            }
        }
    }

    /// Claim nothing for a while: `error` says a dependency is out. Resumes by itself.
    fn pause(&self, error: &IngestError) {
        let mut paused = self.paused_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|until| until <= std::time::Instant::now()) {
            tracing::warn!(%error, pause = ?OUTAGE_PAUSE, "ingest paused: a dependency is unavailable");
        }
        *paused = Some(std::time::Instant::now() + OUTAGE_PAUSE);
    }

    fn paused(&self) -> bool {
        let paused = self.paused_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        paused.is_some_and(|until| until > std::time::Instant::now())
    }

    /// Extract a version's text, store it, and record it (fenced by `lease`). `Ok(false)`: the
    /// lease was lost before the result could be recorded.
    pub async fn extract(&self, document_id: &str, version: i32, lease: &Lease) -> Result<bool, IngestError> {
        let row = repo::version(&self.db, document_id, version).await?.ok_or(IngestError::Gone)?;
        let doc = repo::find(&self.db, document_id).await?.ok_or(IngestError::Gone)?;
        let (key, bytes, detected, note, sealed, written) = match &row.text_key {
            // Recorded already (by a worker whose finish was lost): just finish.
            Some(key) => (
                key.clone(),
                row.text_bytes.unwrap_or_default(),
                row.detected_language.clone(),
                row.ingest_note.clone(),
                row.text_sealed.clone(),
                None,
            ),
            None => {
                let (text, note) = self.extract_text(&doc, &row).await?;
                let bytes = text.len() as i64;
                let body = Bytes::copy_from_slice(text.as_bytes());
                let detected = if doc.language.is_none() { language::detect_apart(text).await } else { None };
                // Encrypted, each attempt writes an object of its own: a worker whose lease
                // lapsed would otherwise overwrite the text another recorded, under another data
                // key, and it would fail its integrity check for ever. In plaintext every attempt
                // writes the same bytes at the same key, and a retry after a crash replaces what
                // the crashed attempt left — no plaintext object stays that no row names.
                let (key, own) = if self.storage.encrypts() {
                    (ObjectKey::text_of_attempt(&row.object_key), true)
                } else {
                    (ObjectKey::text_of(&row.object_key), false)
                };
                // Under the key of the document's organisation, as its bytes are.
                let organisation = crate::policy::organisation_key(&doc.originator_country, &doc.originator_org);
                let sealed = self.storage.put_for(&key, body, &organisation).await?;
                let column = sealed.as_ref().map(WrappedKey::to_column);
                (key.as_str().to_owned(), bytes, detected, note, column, own.then_some(key))
            }
        };
        let held = async {
            let txn = self.db.begin().await?;
            if !jobs::hold(&txn, lease).await? {
                return Ok(None);
            }
            document_version::Entity::update_many()
                .col_expr(document_version::Column::TextKey, Expr::value(Some(key)))
                .col_expr(document_version::Column::TextBytes, Expr::value(Some(bytes)))
                .col_expr(document_version::Column::TextSealed, Expr::value(sealed))
                .col_expr(document_version::Column::DetectedLanguage, Expr::value(detected))
                .col_expr(document_version::Column::IngestState, Expr::value("indexed"))
                .col_expr(document_version::Column::IngestError, Expr::value(Option::<String>::None))
                .col_expr(document_version::Column::IngestNote, Expr::value(note))
                .filter(document_version::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
            feed::stamp(&txn, document_id).await?;
            let finished = jobs::finish(&txn, lease).await?;
            Ok::<_, IngestError>(Some((txn, finished)))
        }
        .await;
        let (txn, finished) = match held {
            Ok(Some(held)) => held,
            unrecorded => {
                // Another worker holds the job now, or the database failed before the commit:
                // the text this attempt wrote is nobody's.
                if let Some(key) = written
                    && let Err(error) = self.storage.delete(&key).await
                {
                    tracing::warn!(key = key.as_str(), %error, "could not delete the text of an unrecorded attempt");
                }
                return unrecorded.map(|_| false);
            }
        };
        // A commit that fails has an unknown outcome: the text stays (it may be recorded).
        txn.commit().await?;
        self.trigger.wake();
        Ok(finished)
    }

    /// Record a job that failed for good, and its version's state (fenced by `lease`).
    async fn fail(&self, job: &ingest_job::Model, lease: &Lease, reason: &str) -> Result<bool, IngestError> {
        let txn = self.db.begin().await?;
        if !jobs::fail(&txn, lease, reason).await? {
            return Ok(false);
        }
        document_version::Entity::update_many()
            .col_expr(document_version::Column::IngestState, Expr::value("failed"))
            .col_expr(document_version::Column::IngestError, Expr::value(Some(reason.to_owned())))
            .filter(document_version::Column::DocumentId.eq(job.document_id.as_str()))
            .filter(document_version::Column::Version.eq(job.version))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The version's text, and a note when OCR read it with a stand-in language pack.
    async fn extract_text(
        &self,
        doc: &document::Model,
        row: &document_version::Model,
    ) -> Result<(String, Option<String>), IngestError> {
        if let Some(unsupported) = super::extract::unsupported(&row.media_type) {
            return Err(IngestError::Extraction(unsupported.to_string()));
        }
        let key = ObjectKey::from_stored(&row.object_key);
        let size = u64::try_from(row.size_bytes).unwrap_or_default();
        let download = self.storage.download_object(&key, None, row.sealed.as_deref(), size).await?;
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
            return Ok((super::extract::plain_text(&bytes), None));
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
        let plan = self.ocr.plan(doc.language.as_deref());
        let options = OcrOptions { packs: plan.packs, data_dir: self.ocr.data_dir().map(Into::into) };
        let extracted = self
            .sandbox
            .extract(&path, &row.media_type, &options)
            .await
            .map_err(|e| IngestError::Extraction(e.to_string()))?;
        // A PDF with a text layer was not read by OCR: no pack stood in for anything.
        let note = plan.note.filter(|_| extracted.ocr_pages > 0);
        Ok((extracted.text, note))
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

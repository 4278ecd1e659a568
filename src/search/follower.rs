//! This replica's index follows the database (DESIGN.md, "Scale-out"; README, "Running several
//! replicas"). A task reads the change feed after the index's cursor in batches, turns each
//! changed document into an index operation — its markings, status and title as the database
//! has them now, and the text of its current version from object storage (or, when the index
//! already holds that version's text, from the index itself) — and commits the batch with the
//! new cursor (see `writer`). It is woken by PostgreSQL NOTIFY, by changes made in this process,
//! and otherwise polls. What it has applied is published in [`FeedState`]: searches exclude the
//! documents changed after it (see `search::service`), `/readyz` reports the lag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use prometheus_client::metrics::gauge::Gauge;
use sea_orm::{DatabaseBackend, DatabaseConnection};
use tantivy::TantivyDocument;
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tokio::sync::Notify;

use super::SearchError;
use super::document::IndexEntry;
use super::index::{Position, SearchIndex};
use super::writer::{Operation, Writer};
use crate::db::documents::read;
use crate::db::feed::{self, Change};
use crate::policy::PolicyConfig;
use crate::storage::{ObjectKey, Storage, StorageError};

/// Text objects read at once while applying a batch.
const PARALLEL_READS: usize = 16;
/// Longest pause after a failed round (database or storage unavailable).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a replica building its index reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the index has applied, shared with searches, readiness and metrics.
pub struct FeedState {
    /// `change_seq` up to which the searchable index holds every change (-1: not started).
    applied: AtomicI64,
    /// The feed's head when last read.
    head: AtomicI64,
    /// Age of the oldest change not applied yet, in milliseconds, when last read.
    lag_ms: AtomicI64,
    /// When the follower last read the feed successfully (ms since the state was made).
    last_read_ms: AtomicI64,
    started: Instant,
    wake: Notify,
    held: AtomicBool,
    /// The index has reached the feed's head at least once since start: until then it is
    /// being built (or brought up to date after a stop) and the replica is not ready.
    caught_up: AtomicBool,
    /// When progress was last logged (ms since the state was made).
    progress_reported_ms: AtomicI64,
    applied_gauge: Gauge,
    lag_changes_gauge: Gauge,
    lag_seconds_gauge: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Default for FeedState {
    fn default() -> Self {
        Self {
            applied: AtomicI64::new(-1),
            head: AtomicI64::new(i64::MAX),
            lag_ms: AtomicI64::new(0),
            last_read_ms: AtomicI64::new(i64::MIN / 2),
            started: Instant::now(),
            wake: Notify::new(),
            held: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            progress_reported_ms: AtomicI64::new(0),
            applied_gauge: Gauge::default(),
            lag_changes_gauge: Gauge::default(),
            lag_seconds_gauge: Gauge::default(),
        }
    }
}

/// The lag of a replica's index behind the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lag {
    pub changes: i64,
    pub millis: i64,
}

impl FeedState {
    /// Every change up to this `change_seq` is searchable. Read it *before* taking a searcher:
    /// the searcher is then at least this far (the reader is reloaded before it moves on).
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// The lag when the feed was last read, or `None` when it has not been read recently (the
    /// follower cannot reach the database), or the index has not caught up since start.
    pub fn lag(&self, stale_after: Duration) -> Option<Lag> {
        let since_read = self.elapsed_ms() - self.last_read_ms.load(Ordering::Acquire);
        if since_read > stale_after.as_millis() as i64 || !self.caught_up.load(Ordering::Acquire) {
            return None;
        }
        let changes = (self.head.load(Ordering::Acquire) - self.applied()).max(0);
        Some(Lag { changes, millis: if changes == 0 { 0 } else { self.lag_ms.load(Ordering::Acquire) } })
    }

    /// Look at the feed now (a change was just committed in this process).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stop applying changes (`true`) or go on (`false`). For tests that need a replica to lag
    /// behind, and for an operator who wants to freeze one; searches stay correct either way.
    pub fn hold(&self, held: bool) {
        self.held.store(held, Ordering::Release);
        self.wake();
    }

    /// Register the follower's gauges.
    pub fn register_metrics(&self, metrics: &crate::metrics::Metrics) {
        metrics.register(
            "search_feed_applied",
            "Change feed position applied to this replica's index",
            self.applied_gauge.clone(),
        );
        metrics.register(
            "search_feed_lag_changes",
            "Changes in the feed not yet applied to this replica's index",
            self.lag_changes_gauge.clone(),
        );
        metrics.register(
            "search_feed_lag_seconds",
            "Age of the oldest change not yet applied to this replica's index",
            self.lag_seconds_gauge.clone(),
        );
    }

    fn elapsed_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    fn observe(&self, head: i64, applied: i64, lag_ms: i64) {
        self.head.store(head, Ordering::Release);
        self.lag_ms.store(lag_ms, Ordering::Release);
        self.last_read_ms.store(self.elapsed_ms(), Ordering::Release);
        let changes = (head - applied).max(0);
        self.lag_changes_gauge.set(changes);
        self.lag_seconds_gauge.set(if changes == 0 { 0.0 } else { lag_ms as f64 / 1000.0 });
    }

    fn publish(&self, applied: i64) {
        self.applied.store(applied, Ordering::Release);
        self.applied_gauge.set(applied);
    }
}

/// What the indexed markings depend on: the ladder's order, the release countries, and how an
/// organisation is written. When it changes, the index is rebuilt from the feed.
pub fn policy_stamp(policy: &PolicyConfig) -> String {
    let levels: Vec<&str> = policy.ladder.levels().iter().map(|level| level.name()).collect();
    let countries: Vec<&str> = policy.countries.iter().map(String::as_str).collect();
    format!("levels={}\ncountries={}\norganisation=country:name\n", levels.join(","), countries.join(","))
}

pub struct Follower {
    db: DatabaseConnection,
    storage: Storage,
    policy: Arc<PolicyConfig>,
    index: SearchIndex,
    writer: Arc<Writer>,
    state: Arc<FeedState>,
    batch: u64,
    poll: Duration,
}

impl Follower {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        policy: Arc<PolicyConfig>,
        index: SearchIndex,
        settings: &crate::config::SearchSettings,
    ) -> Result<Self, SearchError> {
        let writer = Arc::new(Writer::open(index.clone())?);
        Ok(Self {
            db,
            storage,
            policy,
            index,
            writer,
            state: Arc::new(FeedState::default()),
            batch: settings.follow_batch,
            poll: Duration::from_millis(settings.follow_poll_ms),
        })
    }

    pub fn state(&self) -> Arc<FeedState> {
        self.state.clone()
    }

    /// Find where the index stands (rebuilding it when it cannot follow this feed), publish
    /// that, then follow the feed until the process ends (on PostgreSQL, woken by NOTIFY).
    pub async fn start(self) -> Result<(), SearchError> {
        let head = feed::head(&self.db).await?;
        let mut position = Some(self.start_position(&head).await?);
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            spawn_listener(self.db.clone(), self.state.clone());
        }
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                match self.step(&mut position).await {
                    Ok(more) => {
                        backoff = Duration::from_millis(250);
                        if more {
                            continue;
                        }
                        let _ = tokio::time::timeout(self.poll, self.state.wake.notified()).await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in = ?backoff, "the search index could not follow the change feed");
                        // Jitter, so that replicas do not retry in step.
                        let random = uuid::Uuid::new_v4().as_u128() as u64;
                        let jitter = Duration::from_millis(random % (backoff.as_millis() as u64 / 2 + 1));
                        tokio::time::sleep(backoff + jitter).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        });
        Ok(())
    }

    /// Empty the index (it is rebuilt from the feed by the next rounds).
    pub async fn rebuild(&self) -> Result<(), SearchError> {
        let head = feed::head(&self.db).await?;
        let start = Position { feed: head.feed_id, cursor: 0, policy: policy_stamp(&self.policy) };
        let writer = self.writer.clone();
        let reset = start.clone();
        tokio::task::spawn_blocking(move || writer.reset(&reset))
            .await
            .map_err(|e| SearchError::Index(e.to_string()))??;
        self.state.publish(0);
        Ok(())
    }

    /// One round: read the head and the next batch, apply it. `Ok(true)` when there is more.
    /// `position`: where the last round left the index (`None` at first).
    pub async fn step(&self, position: &mut Option<Position>) -> Result<bool, SearchError> {
        if self.state.held.load(Ordering::Acquire) {
            return Ok(false);
        }
        let head = feed::head(&self.db).await?;
        let current = match position.take() {
            Some(known) if known.feed == head.feed_id => known,
            _ => self.start_position(&head).await?,
        };
        let changes = feed::changes_after(&self.db, current.cursor, self.batch).await?;
        let Some(last) = changes.last().map(|change| change.row.change_seq) else {
            self.state.observe(head.seq, current.cursor, 0);
            self.reached_head(current.cursor);
            *position = Some(current);
            return Ok(false);
        };
        let oldest = changes.first().map_or(head.now_ms, |change| change.row.changed_at_ms);
        self.state.observe(head.seq.max(last), current.cursor, head.now_ms - oldest);
        let operations = self.operations(changes).await?;
        let next = Position { cursor: last, ..current };
        let writer = self.writer.clone();
        let commit = next.clone();
        tokio::task::spawn_blocking(move || writer.apply(operations, &commit))
            .await
            .map_err(|e| SearchError::Index(e.to_string()))??;
        self.state.publish(next.cursor);
        let remaining = head.seq - next.cursor;
        if remaining > self.batch as i64 {
            self.report_progress(next.cursor, head.seq);
        }
        // Everything committed when this round began is in: caught up, even if changes keep
        // arriving (under sustained load a round is never empty).
        if remaining <= 0 {
            self.reached_head(next.cursor);
        }
        *position = Some(next);
        Ok(remaining > 0)
    }

    /// Where the index stands at start: its committed position when it followed this feed under
    /// this policy, else empty (a new replica, a changed policy, another database).
    async fn start_position(&self, head: &feed::Head) -> Result<Position, SearchError> {
        let stamp = policy_stamp(&self.policy);
        let committed = self.index.position();
        let usable =
            committed.as_ref().is_some_and(|p| p.feed == head.feed_id && p.policy == stamp && p.cursor <= head.seq);
        if let (true, Some(position)) = (usable, committed.clone()) {
            tracing::info!(cursor = position.cursor, head = head.seq, "search index follows the change feed");
            self.state.publish(position.cursor);
            return Ok(position);
        }
        let reason = match &committed {
            None => "the index is new (or was built before the change feed)",
            Some(p) if p.feed != head.feed_id => "the index followed another database",
            Some(p) if p.policy != stamp => "the policy's levels or countries changed",
            Some(_) => "the index is ahead of the database (restored from a backup?)",
        };
        let documents = self.index.count();
        if committed.is_none() && documents == 0 {
            tracing::info!(reason, "building the search index from the change feed");
        } else {
            tracing::warn!(reason, documents, "rebuilding the search index from the change feed");
        }
        self.rebuild().await?;
        Ok(Position { feed: head.feed_id.clone(), cursor: 0, policy: stamp })
    }

    /// The index holds the feed up to its head (as read this round): ready from now on.
    fn reached_head(&self, cursor: i64) {
        if !self.state.caught_up.swap(true, Ordering::AcqRel) {
            tracing::info!(cursor, "the search index has caught up with the change feed");
        }
    }

    fn report_progress(&self, applied: i64, head: i64) {
        let now = self.state.elapsed_ms();
        if now - self.state.progress_reported_ms.load(Ordering::Relaxed) >= PROGRESS_EVERY.as_millis() as i64 {
            self.state.progress_reported_ms.store(now, Ordering::Relaxed);
            tracing::info!(applied, head, "building the search index from the change feed");
        }
    }

    /// The index operations for a batch, in feed order; text objects are read concurrently.
    async fn operations(&self, changes: Vec<Change>) -> Result<Vec<Operation>, SearchError> {
        futures_util::stream::iter(changes.into_iter().map(|change| self.operation(change)))
            .buffered(PARALLEL_READS)
            .try_collect()
            .await
    }

    async fn operation(&self, change: Change) -> Result<Operation, SearchError> {
        let Change { row, current } = change;
        let Some(readable) = read(&row, &self.policy) else {
            // The API hides such a document; the index must not keep counting it.
            return Ok(Operation::Remove(row.id));
        };
        let (body, text_version, detected) = match current.as_ref().and_then(|v| v.text_key.as_ref().map(|k| (v, k))) {
            Some((version, key)) => {
                let number = version.version as u64;
                let body = match self.indexed_body(&row.id, number) {
                    // Crypto-shredded: the text the index holds goes with the keys (it would
                    // otherwise be kept, as for any change of markings).
                    _ if self.storage.keys_destroyed(version.text_sealed.as_deref()) => String::new(),
                    Some(body) => body,
                    None => {
                        let size = u64::try_from(version.text_bytes.unwrap_or_default()).unwrap_or_default();
                        self.read_text(&row.id, key, version.text_sealed.as_deref(), size).await?
                    }
                };
                (body, number, version.detected_language.clone())
            }
            None => (String::new(), 0, None),
        };
        Ok(Operation::Upsert(Box::new(IndexEntry {
            id: row.id.clone(),
            revision: row.revision as u64,
            text_version,
            title: row.title.clone(),
            summary: row.summary.clone().unwrap_or_default(),
            body,
            tags: readable.tags,
            language: row.language.clone().or(detected).unwrap_or_else(|| "und".into()),
            facts: readable.facts,
            published_at: row.published_at,
        })))
    }

    /// The text of version `text_version` of `id` if the index holds it already (a change of
    /// markings or status re-indexes the same text: no need to fetch it again).
    fn indexed_body(&self, id: &str, text_version: u64) -> Option<String> {
        let fields = self.index.fields();
        let searcher = self.index.reader().searcher();
        let query = TermQuery::new(tantivy::Term::from_field_text(fields.id, id), IndexRecordOption::Basic);
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).ok()?;
        let (_, address) = top.first()?;
        let doc: TantivyDocument = searcher.doc(*address).ok()?;
        if doc.get_first(fields.text_version).and_then(|v| v.as_u64()) != Some(text_version) {
            return None;
        }
        doc.get_first(fields.body).and_then(|v| v.as_str()).map(str::to_owned)
    }

    /// The extracted text at `key` (`sealed`, `size`: how it is encrypted, its plaintext size).
    async fn read_text(&self, id: &str, key: &str, sealed: Option<&str>, size: u64) -> Result<String, SearchError> {
        match self.storage.read_object_to_string(&ObjectKey::from_stored(key), sealed, size).await {
            Ok(text) => Ok(text),
            // Missing for good: index what there is rather than stop the feed for everyone.
            Err(StorageError::NotFound(path)) => {
                tracing::error!(document = id, %path, "the extracted text is missing from storage; indexing without it");
                Ok(String::new())
            }
            // Its organisation's keys were destroyed: the text is gone, and leaves the index.
            Err(StorageError::KeysDestroyed) => Ok(String::new()),
            // Altered in the store: never indexed, and one bad object must not stop the feed.
            Err(StorageError::Tampered(reason)) => {
                tracing::error!(document = id, %reason, "the extracted text failed its integrity check; indexing without it");
                Ok(String::new())
            }
            Err(error) => Err(SearchError::Index(format!("reading extracted text: {error}"))),
        }
    }
}

/// Wake the follower whenever a change commits anywhere in the cluster (PostgreSQL NOTIFY).
/// Reconnects after a failure; the poll covers what a broken connection missed.
fn spawn_listener(db: DatabaseConnection, state: Arc<FeedState>) {
    tokio::spawn(async move {
        loop {
            let listened = async {
                let pool = db.get_postgres_connection_pool();
                let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(feed::CHANNEL).await?;
                state.wake();
                loop {
                    listener.recv().await?;
                    state.wake();
                }
                #[allow(unreachable_code)]
                Ok::<(), sea_orm::sqlx::Error>(())
            }
            .await;
            if let Err(error) = listened {
                tracing::warn!(%error, "listening for change notifications failed; polling until it works again");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

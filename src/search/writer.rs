//! The one owner of tantivy's `IndexWriter`: a dedicated thread that applies upserts in
//! batches and commits when a batch is `commit_after` old or `max_batch` long — so a published
//! document is searchable well within a second — then reloads the reader and acknowledges each
//! operation. An upsert older than what the index holds (by revision, then text version) is
//! ignored, so jobs finishing out of order never roll a document back.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{IndexWriter, TantivyDocument, Term};
use tokio::sync::oneshot;

use super::SearchError;
use super::document::IndexEntry;
use super::index::SearchIndex;

/// Memory the writer may buffer before it flushes a segment.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

enum Command {
    Upsert(Box<IndexEntry>, oneshot::Sender<Result<Applied, SearchError>>),
    /// Drop one document (its markings no longer fit the policy).
    Remove(String, oneshot::Sender<Result<Applied, SearchError>>),
    /// Drop everything (reindex from scratch).
    Clear(oneshot::Sender<Result<Applied, SearchError>>),
}

/// What became of an upsert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Committed,
    /// The index already held this document at the same or a newer state.
    Stale,
}

#[derive(Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<Command>,
}

impl WriterHandle {
    /// Start the writer thread for `index`.
    pub fn start(index: SearchIndex, commit_after: Duration, max_batch: usize) -> Result<Self, SearchError> {
        let writer: IndexWriter = index.index().writer_with_num_threads(1, WRITER_MEMORY)?;
        let (sender, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("search-writer".into())
            .spawn(move || run(index, writer, receiver, commit_after, max_batch))
            .map_err(|e| SearchError::Index(e.to_string()))?;
        Ok(Self { sender })
    }

    /// Index `entry`; resolves once it is committed and visible to searches (or found stale).
    pub async fn upsert(&self, entry: IndexEntry) -> Result<Applied, SearchError> {
        let (done, result) = oneshot::channel();
        self.sender.send(Command::Upsert(Box::new(entry), done)).map_err(|_| SearchError::WriterStopped)?;
        result.await.map_err(|_| SearchError::WriterStopped)?
    }

    /// Remove one document; resolves once committed.
    pub async fn remove(&self, id: &str) -> Result<(), SearchError> {
        let (done, result) = oneshot::channel();
        self.sender.send(Command::Remove(id.to_owned(), done)).map_err(|_| SearchError::WriterStopped)?;
        result.await.map_err(|_| SearchError::WriterStopped)?.map(|_| ())
    }

    /// Remove every document (before a full rebuild).
    pub async fn clear(&self) -> Result<(), SearchError> {
        let (done, result) = oneshot::channel();
        self.sender.send(Command::Clear(done)).map_err(|_| SearchError::WriterStopped)?;
        result.await.map_err(|_| SearchError::WriterStopped)?.map(|_| ())
    }
}

type Waiting = Vec<(oneshot::Sender<Result<Applied, SearchError>>, Applied)>;

fn run(
    index: SearchIndex,
    mut writer: IndexWriter,
    receiver: mpsc::Receiver<Command>,
    commit_after: Duration,
    max_batch: usize,
) {
    let fields = *index.fields();
    // Freshness of documents changed in the current, uncommitted batch.
    let mut pending: HashMap<String, (u64, u64)> = HashMap::new();
    let mut waiting: Waiting = Vec::new();
    let mut batch_started: Option<Instant> = None;
    loop {
        let timeout = batch_started.map_or(Duration::from_secs(3600), |at| commit_after.saturating_sub(at.elapsed()));
        match receiver.recv_timeout(timeout) {
            Ok(Command::Upsert(entry, done)) => {
                let id = entry.id.clone();
                let indexed = pending.get(&id).copied().or_else(|| indexed_freshness(&index, &id));
                if indexed.is_some_and(|current| current >= entry.freshness()) {
                    waiting.push((done, Applied::Stale));
                } else {
                    writer.delete_term(Term::from_field_text(fields.id, &id));
                    match writer.add_document(entry.to_document(&fields)) {
                        Ok(_) => {
                            pending.insert(id, entry.freshness());
                            waiting.push((done, Applied::Committed));
                        }
                        Err(error) => {
                            let _ = done.send(Err(error.into()));
                        }
                    }
                }
                batch_started.get_or_insert_with(Instant::now);
            }
            Ok(Command::Remove(id, done)) => {
                writer.delete_term(Term::from_field_text(fields.id, &id));
                pending.remove(&id);
                waiting.push((done, Applied::Committed));
                batch_started.get_or_insert_with(Instant::now);
            }
            Ok(Command::Clear(done)) => {
                let cleared = writer.delete_all_documents().map(|_| Applied::Committed);
                match cleared {
                    Ok(applied) => waiting.push((done, applied)),
                    Err(error) => {
                        let _ = done.send(Err(error.into()));
                    }
                }
                pending.clear();
                batch_started.get_or_insert_with(Instant::now);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if !waiting.is_empty() {
                    commit(&index, &mut writer, &mut waiting);
                }
                return;
            }
        }
        let due = batch_started.is_some_and(|at| at.elapsed() >= commit_after) || waiting.len() >= max_batch;
        if due && !waiting.is_empty() {
            commit(&index, &mut writer, &mut waiting);
            pending.clear();
            batch_started = None;
        } else if waiting.is_empty() {
            batch_started = None;
        }
    }
}

fn commit(index: &SearchIndex, writer: &mut IndexWriter, waiting: &mut Waiting) {
    let result = writer.commit().map_err(SearchError::from).and_then(|_| Ok(index.reader().reload()?));
    for (done, applied) in waiting.drain(..) {
        let _ = done.send(match &result {
            Ok(()) => Ok(applied),
            Err(error) => Err(SearchError::Index(error.to_string())),
        });
    }
    if let Err(error) = result {
        tracing::error!(%error, "search index commit failed");
        // Uncommitted changes are lost; their jobs fail and are retried.
        let _ = writer.rollback();
    }
}

/// (revision, text version) of `id` in the committed index, if present.
pub fn indexed_freshness(index: &SearchIndex, id: &str) -> Option<(u64, u64)> {
    let fields = index.fields();
    let searcher = index.reader().searcher();
    let query = TermQuery::new(Term::from_field_text(fields.id, id), IndexRecordOption::Basic);
    let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).ok()?;
    let (_, address) = top.first()?;
    let doc: TantivyDocument = searcher.doc(*address).ok()?;
    let revision = doc.get_first(fields.revision).and_then(|v| v.as_u64())?;
    let text_version = doc.get_first(fields.text_version).and_then(|v| v.as_u64()).unwrap_or(0);
    Some((revision, text_version))
}

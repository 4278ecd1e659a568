//! The one owner of tantivy's `IndexWriter` in a replica. It applies a batch of changes from
//! the feed and commits them together with the feed position they bring the index to (the
//! commit's payload), so the data and the cursor can never disagree — after a crash the index
//! resumes exactly where its last commit ended. The reader is reloaded before `apply` returns.

use std::sync::Mutex;

use tantivy::indexer::LogMergePolicy;
use tantivy::{IndexWriter, Term};

use super::SearchError;
use super::document::IndexEntry;
use super::index::{Position, SearchIndex};

/// Memory the writer may buffer before it flushes a segment.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// Segments below this many documents count as one size class when merges are chosen. The
/// follower commits often (every few changes under steady uploads), and with tantivy's default
/// (10,000) each group of eight tiny new segments was merged together with every segment under
/// 10,000 documents — rewriting a freshly imported 8,000-document segment every eight commits:
/// a third of the server's CPU while single uploads came in (perf, `anaspoc bench`).
const MIN_MERGE_LAYER_DOCS: u32 = 100;

/// One change to the index.
pub enum Operation {
    /// Put the document in as it is now (replacing what the index held of it).
    Upsert(Box<IndexEntry>),
    /// Take the document out (its stored markings cannot be read: it is hidden from everyone).
    Remove(String),
}

pub struct Writer {
    index: SearchIndex,
    writer: Mutex<IndexWriter>,
}

impl Writer {
    pub fn open(index: SearchIndex) -> Result<Self, SearchError> {
        let writer = index.index().writer_with_num_threads(1, WRITER_MEMORY)?;
        let mut merges = LogMergePolicy::default();
        merges.set_min_layer_size(MIN_MERGE_LAYER_DOCS);
        writer.set_merge_policy(Box::new(merges));
        Ok(Self { index, writer: Mutex::new(writer) })
    }

    /// Apply `operations` and commit them with `position`; blocking (run it off the async
    /// workers). On failure nothing of the batch is kept and the position stays where it was.
    pub fn apply(&self, operations: Vec<Operation>, position: &Position) -> Result<(), SearchError> {
        let fields = *self.index.fields();
        let mut writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let staged = (|| {
            for operation in operations {
                match operation {
                    Operation::Upsert(entry) => {
                        writer.delete_term(Term::from_field_text(fields.id, &entry.id));
                        writer.add_document(entry.to_document(&fields))?;
                    }
                    Operation::Remove(id) => {
                        writer.delete_term(Term::from_field_text(fields.id, &id));
                    }
                }
            }
            commit(&mut writer, position)
        })();
        if let Err(error) = staged {
            let _ = writer.rollback();
            return Err(error);
        }
        self.index.reader().reload()?;
        Ok(())
    }

    /// Empty the index and start it at `position` (a rebuild from the feed).
    pub fn reset(&self, position: &Position) -> Result<(), SearchError> {
        let mut writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let reset =
            writer.delete_all_documents().map_err(SearchError::from).and_then(|_| commit(&mut writer, position));
        if let Err(error) = reset {
            let _ = writer.rollback();
            return Err(error);
        }
        self.index.reader().reload()?;
        Ok(())
    }
}

fn commit(writer: &mut IndexWriter, position: &Position) -> Result<(), SearchError> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&position.to_payload());
    prepared.commit()?;
    Ok(())
}

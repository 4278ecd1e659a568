//! Ingest (docs/architecture.md, "An upload"): a durable job queue in the database, text extraction in a
//! sandboxed child process, and the pipeline that stores the text and indexes the document.

pub mod extract;
pub mod jobs;
mod language;
mod pipeline;
pub mod reconcile;
pub mod sandbox;

pub use language::detect as detect_language;
pub use pipeline::{Pipeline, Trigger, document_ids};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be turned into text (permanent: retrying will not help).
    #[error("{0}")]
    Extraction(String),
    #[error("the document or version no longer exists")]
    Gone,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl IngestError {
    /// Worth retrying: the database, storage or index may be back shortly.
    pub fn is_transient(&self) -> bool {
        matches!(self, IngestError::Database(_) | IngestError::Storage(_) | IngestError::Search(_) | IngestError::Io(_))
    }
}

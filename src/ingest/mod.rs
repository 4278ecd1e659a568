//! Ingest (docs/architecture.md, "An upload"): a durable job queue in the database, text extraction in a
//! sandboxed child process, and the pipeline that stores the text and puts the document in the
//! change feed that every replica's index follows.

pub mod extract;
pub mod jobs;
pub mod language;
pub mod ocr_languages;
mod pipeline;
pub mod sandbox;

pub use language::detect as detect_language;
pub use pipeline::{Pipeline, Trigger};

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
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl IngestError {
    /// A dependency is down or too slow (the object store, or the database): the job is not at
    /// fault, the worker pauses and tries again later.
    pub fn is_outage(&self) -> bool {
        match self {
            IngestError::Storage(
                crate::storage::StorageError::Store(_) | crate::storage::StorageError::Unavailable,
            ) => true,
            IngestError::Database(error) => crate::db::is_unavailable(error),
            _ => false,
        }
    }

    /// Worth retrying: the database or storage may be back shortly.
    pub fn is_transient(&self) -> bool {
        matches!(self, IngestError::Database(_) | IngestError::Storage(_) | IngestError::Io(_))
    }
}

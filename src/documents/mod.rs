//! Documents: upload, classify, store, version and download under the access policy. Routes get
//! documents only through [`Service`], which asks [`crate::policy::decide`] before anything is
//! read or changed; a document the caller may not see is [`DocumentsError::NotFound`], exactly
//! like one that does not exist.

mod changes;
pub mod creation;
mod derivatives;
mod filename;
mod media_type;
mod model;
mod requests;
mod service;
mod upload;

pub use changes::Precondition;
pub use filename::sanitise_filename;
pub use media_type::detect_media_type;
pub use model::{
    BoxName, DocumentLink, DocumentPatch, DocumentView, IngestView, NewDecision, NewDocument, NewRequest, Recipient,
    RequestStatus, RequestView, Requester, RequestsQuery, ValidNewDocument, Verdict, VersionView,
};
pub use service::{Content, Service};
pub use upload::{CreatePlan, UploadPlan, VersionPlan};

use crate::policy::{MarkingsError, Reason};
use crate::storage::StorageError;
use crate::throttle::RetryAfter;

#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    /// Missing, or hidden from the caller: the two are indistinguishable on purpose.
    #[error("document not found")]
    NotFound,
    #[error("version {0} not found")]
    VersionNotFound(i32),
    /// The caller may see the document but not do this.
    #[error("not permitted: {0:?}")]
    Forbidden(Reason),
    /// A request field has a value the platform cannot accept (422).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// The request itself is malformed (400).
    #[error("{field}: {problem}")]
    Malformed { field: String, problem: String },
    #[error("the file exceeds the upload limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("range not satisfiable for {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// The document is no longer at the revision the request expected (`If-Match`): 412.
    #[error("the document changed since the revision the request expected")]
    Stale,
    /// The document kept changing under a change without `If-Match`: 409, try again.
    #[error("the document kept changing; try again")]
    Busy,
    /// A handling-code request was decided (or closed) before: it is answered once (409).
    #[error("the request is {0} already")]
    AlreadyDecided(&'static str),
    /// The caller is over a rate limit (`[limits]`): 429, try again after this long.
    #[error("too many requests; retry after {} s", .0.seconds())]
    Throttled(RetryAfter),
    #[error(transparent)]
    Storage(StorageError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The audit trail could not record the access: the request fails rather than go unaudited.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl DocumentsError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), problem: problem.into() }
    }

    pub fn malformed(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Malformed { field: field.into(), problem: problem.into() }
    }
}

impl From<MarkingsError> for DocumentsError {
    fn from(error: MarkingsError) -> Self {
        Self::invalid(error.field, error.problem)
    }
}

impl From<StorageError> for DocumentsError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::TooLarge { limit } => Self::TooLarge { limit },
            StorageError::Empty => Self::invalid("file", "the file is empty"),
            StorageError::Interrupted(reason) => Self::malformed("file", reason),
            other => Self::Storage(other),
        }
    }
}

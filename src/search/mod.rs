//! Full-text search (docs/architecture.md, "A search"): the tantivy index (derived data, rebuilt
//! from the database at will), its analysers for the region's languages and scripts, the one
//! writer task, and the search service that compiles the access policy into every query.

pub mod analyzer;
pub mod cost;
pub mod document;
mod exclusion;
pub mod facets;
pub mod follower;
pub mod index;
pub mod matching;
pub mod query;
mod request;
pub mod schema;
pub mod service;
pub mod statistics;
pub mod writer;

pub use cost::QueryCaps;
pub use document::IndexEntry;
pub use facets::Facets;
pub use follower::{FeedState, Follower};
pub use index::SearchIndex;
pub use query::Filters;
pub use request::{SearchRequest, Sort};
pub use service::{Hit, SearchResponse, Service};
pub use writer::{Operation, Writer};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(String),
    /// The user's query cannot run on this index (422, field `q`).
    #[error("{0}")]
    InvalidQuery(String),
    /// A search parameter has a value that means nothing, or is no parameter at all (422).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// The query asks more of the index than `limit` allows (422, field `q`).
    #[error("{problem} ({limit})")]
    TooCostly { limit: &'static str, problem: String },
    /// The caller is over the search rate (`limits.searches_per_minute`): 429.
    #[error("too many searches; retry after {} s", .0.seconds())]
    Throttled(crate::throttle::RetryAfter),
    /// This replica's index is too far behind the database to answer without guessing (503).
    #[error("the search index is catching up with recent changes")]
    CatchingUp,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(error: tantivy::TantivyError) -> Self {
        SearchError::Index(error.to_string())
    }
}

impl From<tantivy::query::QueryParserError> for SearchError {
    fn from(error: tantivy::query::QueryParserError) -> Self {
        SearchError::Index(error.to_string())
    }
}

#[cfg(test)]
mod tests;

//! The demo's sample corpus: `anaspoc demo` starts on a platform that already holds two dozen
//! fictional analyses of the network, uploaded by the demo personas with every kind of marking,
//! so that what each persona may see — the point of the platform — shows at the first search.
//! `anaspoc demo --empty` starts without them; a platform that holds any document is left as it
//! is, so restarts add nothing.

pub mod corpus;
mod files;
mod seed;

pub use seed::{Seeded, USER_AGENT, seed};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Load(#[from] corpus::CorpusError),
    #[error("the demo corpus: {0}")]
    Corpus(String),
    #[error(transparent)]
    Persona(#[from] crate::auth::operator::UnknownIdentity),
    #[error("the demo corpus, {0}: {1}")]
    File(String, files::FileError),
    #[error("the demo corpus, {key}: {error}")]
    Upload { key: String, error: crate::documents::DocumentsError },
    #[error("the demo's sample activity: {0}")]
    Activity(crate::documents::DocumentsError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

//! The tamper-evident audit trail (docs/architecture.md, "The audit trail"): every access is an
//! event in an append-only, hash-chained log ([`Log`]), written in the same transaction as the
//! change it records (or, for reads, before the bytes are served). Auditors read it only through
//! [`Reader`]; the operator's tools read the stored [`Trail`] directly.

pub mod activity;
pub mod anomalies;
pub mod chain;
pub mod checkpoint;
mod event;
pub mod export;
mod log;
mod query;
mod reader;
pub mod report;
mod statistics;
mod trail;
pub mod verify;

pub use activity::{Activity, ActivityQuery};
pub use anomalies::{AlertSettings, Flag, Rule, Rules};
pub use chain::GENESIS_HASH;
pub use checkpoint::{Checkpoint, SigningKey};
pub use event::{Action, Actor, Event, NewEvent, Outcome, Target};
pub use log::{Log, format_time};
pub use query::{Filter, Format, Query};
pub use reader::{Auditor, Export, Listed, Reader};
pub use report::Report;
pub use trail::Trail;
pub use verify::Verification;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("the audit head row is missing (migrations not applied?)")]
    NoHead,
    #[error("event encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    #[error("checkpoint signing key {0}")]
    SigningKey(String),
    #[error("export: {0}")]
    Export(String),
    #[error("the audit writer has stopped")]
    WriterStopped,
    /// The caller does not hold `audit:read` (the refusal is recorded).
    #[error("missing capability audit:read")]
    Forbidden,
    /// A parameter of an audit query has a value that means nothing (422).
    #[error("{field}: {problem}")]
    Invalid { field: &'static str, problem: String },
    /// An audit query names a parameter there is not (400).
    #[error("`{0}` is not an audit query parameter")]
    UnknownParameter(String),
}

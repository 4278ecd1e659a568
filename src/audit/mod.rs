//! The tamper-evident audit trail (DESIGN.md, "Audit trail (normative format)"): every access is
//! an event in an append-only, hash-chained log, written in the same transaction as the change
//! it records (or, for reads, before the bytes are served); auditors list, export and verify it.

pub mod chain;
pub mod checkpoint;
mod event;
pub mod export;
mod log;
pub mod verify;

pub use chain::GENESIS_HASH;
pub use checkpoint::{Checkpoint, SigningKey};
pub use event::{Action, Actor, Event, NewEvent, Outcome, RequestInfo, Target};
pub use log::{Filter, Log, format_time, normalise_time, to_event};
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
}

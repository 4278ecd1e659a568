//! sea-orm entities, one file per table.

pub mod alert_position;
pub mod audit_checkpoint;
pub mod audit_document_ref;
pub mod audit_event;
pub mod audit_head;
pub mod change_feed;
pub mod document;
pub mod document_version;
pub mod handling_request;
pub mod ingest_job;
pub mod notification;
pub mod plaintext_leftover;
pub mod saved_search;
pub mod user;
pub mod web_login;
pub mod web_session;

//! anaspoc: the secure analysis-sharing platform of the Western Balkans Analysis Network.
//! docs/architecture.md maps the modules; each concept lives in the module named after it.

pub mod api;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod caller;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod dates;
pub mod db;
pub mod demo;
pub mod document_id;
pub mod documents;
pub mod edge;
pub mod error;
pub mod group_commit;
pub mod health;
pub mod import;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod progress;
pub mod redirect;
pub mod search;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod throttle;
pub mod web;

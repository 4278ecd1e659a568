//! anaspoc: the secure analysis-sharing platform of the Western Balkans Analysis Network.
//! See DESIGN.md for the architecture; each concept lives in the module named after it.

pub mod api;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod documents;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod policy;
pub mod search;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod web;

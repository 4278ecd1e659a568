//! The integration test binary: every module starts the real application (port 0, embedded
//! defaults in a temporary directory) and talks to it over HTTP. Tests against real peers run
//! when the peer's environment variable is set (see README.md, "Tests").
// The integration tests are tests throughout: a failed assumption is the failure they report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod architecture;
mod audit;
mod browser;
mod cli;
mod database;
mod demo;
mod documents;
mod email;
mod health;
mod helpers;
mod identity;
mod import;
mod limits;
mod notifications;
mod oidc_peer;
mod openapi;
mod outages;
mod replicas;
mod requests;
mod search;
mod sign_in;
pub mod tls;
mod token_hardening;
mod web;

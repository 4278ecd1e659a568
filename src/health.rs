//! Readiness: whether this instance can serve — database reachable with migrations applied,
//! object store reachable, this replica's search index caught up with the change feed (within
//! `search.max_lag_changes` and `search.max_lag_secs`), issuer keys loaded. The probe holds the handles it
//! checks, so the route that reports it needs none.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::auth::TokenValidator;
use crate::search::FeedState;
use crate::storage::Storage;

pub struct Readiness {
    db: DatabaseConnection,
    storage: Storage,
    feed: Arc<FeedState>,
    max_lag: std::time::Duration,
    max_lag_changes: u64,
    validator: Arc<TokenValidator>,
}

/// Each component's state, `ok` or `failing` — what is wrong goes to the log, not to whoever
/// asks (the probe answers anyone, and error texts name internal hosts).
#[derive(Debug, Serialize)]
pub struct Report {
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, &'static str>,
}

impl Report {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

impl Readiness {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        feed: Arc<FeedState>,
        max_lag: std::time::Duration,
        max_lag_changes: u64,
        validator: Arc<TokenValidator>,
    ) -> Self {
        Self { db, storage, feed, max_lag, max_lag_changes, validator }
    }

    /// The index is within the allowed lag. The figures go to the log and `/metrics`, not to
    /// whoever asks: the feed's position counts changes to documents they may not see.
    fn index_caught_up(&self) -> Result<(), String> {
        match self.feed.lag(self.max_lag) {
            None => Err("the search index is being built, or has not read the change feed recently".into()),
            Some(lag) if lag.changes as u64 > self.max_lag_changes || lag.millis as u128 > self.max_lag.as_millis() => {
                Err(format!("the search index is {} changes, {} ms behind the database", lag.changes, lag.millis))
            }
            Some(_) => Ok(()),
        }
    }

    pub async fn check(&self) -> Report {
        let mut checks = BTreeMap::new();
        checks.insert("database", crate::db::check_ready(&self.db).await);
        checks.insert("storage", self.storage.check_ready().await);
        checks.insert("search_index", self.index_caught_up());
        checks.insert("identity_provider", self.validator.keys().ensure_loaded().await.map_err(|e| e.to_string()));
        let ready = checks.values().all(Result::is_ok);
        let checks = checks
            .into_iter()
            .map(|(name, result)| match result {
                Ok(()) => (name, "ok"),
                Err(reason) => {
                    tracing::warn!(component = name, %reason, "not ready");
                    (name, "failing")
                }
            })
            .collect();
        Report { status: if ready { "ready" } else { "not ready" }, checks }
    }
}

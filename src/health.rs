//! Readiness: whether this instance can serve — database reachable with migrations applied,
//! object store reachable, search index open, issuer keys loaded. The probe holds the handles it
//! checks, so the route that reports it needs none.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::auth::TokenValidator;
use crate::search::SearchIndex;
use crate::storage::Storage;

pub struct Readiness {
    db: DatabaseConnection,
    storage: Storage,
    index: SearchIndex,
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
    pub fn new(db: DatabaseConnection, storage: Storage, index: SearchIndex, validator: Arc<TokenValidator>) -> Self {
        Self { db, storage, index, validator }
    }

    pub async fn check(&self) -> Report {
        let mut checks = BTreeMap::new();
        checks.insert("database", crate::db::check_ready(&self.db).await);
        checks.insert("storage", self.storage.check_ready().await);
        checks.insert("search_index", Ok(self.index.reader().searcher().num_docs()).map(|_| ()));
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

//! Alerts: following the change feed, one changed document at a time, each saved search with
//! its alert on is asked whether its owner may now see the document and whether it matches
//! (`search::matching` — the same words, filters and policy filter as a search, restricted to
//! that document). A match is a notification, once per saved search and document. The position
//! is one row for the cluster, advanced by compare-and-set in the transaction that records the
//! notifications, so replicas racing on the same changes record each match once.
//!
//! The owner is not signed in when a document changes: their alerts are decided with the
//! clearance and capabilities they had when they last used their saved searches; when they read
//! the notification, it is decided again with who they are then.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, TransactionTrait};

use super::NotifyError;
use super::saved_searches::SearchFilters;
use crate::db::columns::StringList;
use crate::db::documents as documents_repo;
use crate::db::entities::{document, notification, saved_search};
use crate::db::feed;
use crate::db::saved_searches as repo;
use crate::policy::{Action, Capability, PolicyConfig, Principal, decide, search_filter};
use crate::search::{FeedState, QueryCaps, SearchIndex, matching};

/// Changed documents evaluated per transaction.
const BATCH: u64 = 200;
/// How often the evaluator looks for changes its index has applied.
const POLL: Duration = Duration::from_millis(250);

/// What `notification.kind` says of a saved-search match.
pub const SAVED_SEARCH: &str = "saved-search";

pub struct Alerts {
    db: DatabaseConnection,
    index: SearchIndex,
    feed: Arc<FeedState>,
    policy: Arc<PolicyConfig>,
    caps: QueryCaps,
}

impl Alerts {
    pub fn new(
        db: DatabaseConnection,
        index: SearchIndex,
        feed: Arc<FeedState>,
        policy: Arc<PolicyConfig>,
        caps: QueryCaps,
    ) -> Self {
        Self { db, index, feed, policy, caps }
    }

    /// Evaluate alerts on the current runtime, for as long as it runs.
    pub fn spawn(self) {
        tokio::spawn(async move {
            loop {
                match self.step().await {
                    Ok(0) => tokio::time::sleep(POLL).await,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "alerts not evaluated; trying again");
                        tokio::time::sleep(POLL * 8).await;
                    }
                }
            }
        });
    }

    /// Evaluate the next batch of changes this replica's index has applied; returns how many
    /// changed documents were looked at.
    pub async fn step(&self) -> Result<usize, NotifyError> {
        let from = repo::alert_position(&self.db).await?;
        let applied = self.feed.applied();
        if applied <= from {
            return Ok(0);
        }
        let changed = feed::changed_between(&self.db, from, applied, BATCH).await?;
        let to =
            if changed.len() as u64 == BATCH { changed.last().map_or(applied, |row| row.change_seq) } else { applied };
        let searches = repo::alerting(&self.db).await?;
        let mut found = Vec::new();
        if !searches.is_empty() {
            for row in &changed {
                for search in &searches {
                    if self.alerts(search, row)? {
                        found.push(notice(search, &row.id));
                    }
                }
            }
        }
        let txn = self.db.begin().await?;
        for notice in found {
            repo::notify_once(&txn, notice).await?;
        }
        if !repo::advance_alerts(&txn, from, to).await? {
            // Another replica evaluated these changes first: what it recorded stands.
            return Ok(changed.len());
        }
        txn.commit().await?;
        Ok(changed.len().max(1))
    }

    /// Whether `search` alerts its owner of `document` as it is now.
    fn alerts(&self, search: &saved_search::Model, document: &document::Model) -> Result<bool, NotifyError> {
        // Only what changed since the search was saved.
        if document.changed_at_ms < search.created_at.timestamp_millis() {
            return Ok(false);
        }
        let Some(readable) = documents_repo::read(document, &self.policy) else {
            return Ok(false);
        };
        let owner = owner_principal(search, &self.policy);
        if !decide(&owner, &readable.facts, Action::See).is_allowed() {
            return Ok(false);
        }
        let filters: SearchFilters = serde_json::from_str(&search.filters).unwrap_or_default();
        let visibility = search_filter(&owner);
        matching::matches(&self.index, &self.caps, visibility.as_ref(), &search.q, &filters.to_search(), &document.id)
            .map_err(|error| NotifyError::Search(error.to_string()))
    }
}

/// The owner as their saved search remembers them.
pub(super) fn owner_principal(search: &saved_search::Model, policy: &PolicyConfig) -> Principal {
    let ladder = &policy.ladder;
    let capabilities = match &search.owner_capabilities {
        StringList::Items(items) => items.iter().filter_map(|c| Capability::from_str(c).ok()).collect(),
        StringList::Corrupt(_) => Default::default(),
    };
    Principal {
        sub: search.owner_sub.clone(),
        name: String::new(),
        organisation: search.owner_organisation.clone(),
        country: search.owner_country.clone(),
        clearance: ladder.parse(&search.owner_clearance).unwrap_or_else(|| ladder.lowest().clone()),
        roles: Vec::new(),
        capabilities,
        email: search.owner_email.clone(),
    }
}

/// The notification of `search`'s owner that `document` matches it.
fn notice(search: &saved_search::Model, document: &str) -> notification::Model {
    notification::Model {
        id: uuid::Uuid::new_v4().hyphenated().to_string(),
        owner_sub: search.owner_sub.clone(),
        owner_organisation: search.owner_organisation.clone(),
        owner_country: search.owner_country.clone(),
        kind: SAVED_SEARCH.to_owned(),
        created_at: chrono::Utc::now(),
        read_at: None,
        saved_search_id: Some(search.id.clone()),
        document_id: Some(document.to_owned()),
        request_id: None,
        emailed_at: None,
    }
}

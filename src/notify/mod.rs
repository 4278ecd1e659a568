//! Saved searches, alerts and notifications (issue 17) — without leaking anything. A principal
//! (subject, organisation and country together) keeps named searches; one with its alert on
//! tells its owner when a document they may read comes to match it (`alerts.rs`, following the
//! change feed one document at a time). What a notification points to is decided again when it
//! is read: a document withdrawn or narrowed since shows only as "no longer available", and
//! counts never include it.

mod alerts;
mod digest;
mod notifications;
mod saved_searches;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use alerts::Alerts;
pub use digest::{DigestConfigError, Digests};
pub use notifications::{
    NotificationList, NotificationView, NotificationsQuery, NotifiedDocument, Opens, RequestRef, SavedSearchRef,
};
pub use saved_searches::{NewSavedSearch, SavedSearchPatch, SavedSearchView, SearchFilters};

use crate::audit;
use crate::caller::Caller;
use crate::db::saved_searches::{self as repo, Owner};
use crate::policy::PolicyConfig;
use crate::search::QueryCaps;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Missing, or someone else's: the two are indistinguishable on purpose (404).
    #[error("not found")]
    NotFound,
    /// A field has a value the platform cannot accept (422).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// An alert's query could not run on the index.
    #[error("search: {0}")]
    Search(String),
    /// An e-mail digest could not be sent (its notifications are given back for the next one).
    #[error("e-mail: {0}")]
    Email(String),
    /// The audit trail could not record it: the request fails rather than go unaudited.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl NotifyError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), problem: problem.into() }
    }
}

/// Saved searches and notifications of the caller — the only way routes reach them.
pub struct Service {
    db: DatabaseConnection,
    audit: audit::Log,
    policy: Arc<PolicyConfig>,
    caps: QueryCaps,
}

impl Service {
    pub fn new(db: DatabaseConnection, audit: audit::Log, policy: Arc<PolicyConfig>, caps: QueryCaps) -> Self {
        Self { db, audit, policy, caps }
    }

    /// The caller as an owner of saved searches and notifications; their clearance and
    /// capabilities are kept on their saved searches for the alerts decided while they are away.
    async fn owner(&self, caller: &Caller) -> Result<Owner, NotifyError> {
        let principal = &caller.principal;
        let owner = owner_of(caller);
        let capabilities = principal.capabilities.iter().map(|c| c.as_str().to_owned()).collect();
        repo::refresh_owner(&self.db, &owner, principal.clearance.name(), capabilities, principal.email.as_deref())
            .await?;
        Ok(owner)
    }
}

/// The caller as an owner: subject, organisation and country together.
fn owner_of(caller: &Caller) -> Owner {
    let principal = &caller.principal;
    Owner {
        sub: principal.sub.clone(),
        organisation: principal.organisation.clone(),
        country: principal.country.clone(),
    }
}

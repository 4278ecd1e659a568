//! A principal's saved searches: created, listed, changed and deleted by their owner only (to
//! anyone else one answers like a missing one), audited on creation, change and deletion. The
//! words are held to the same caps as a search (`[search]`), so an alert never runs a query a
//! search would refuse.

use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NotifyError, Service};
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome};
use crate::caller::Caller;
use crate::db::columns::StringList;
use crate::db::entities::saved_search;
use crate::db::saved_searches as repo;
use crate::search::Filters;

const MAX_NAME_CHARS: usize = 200;
/// Most saved searches one principal keeps.
const MAX_PER_OWNER: usize = 100;

/// The filters of a saved search: each a list of values, any of which may match (as in search).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilters {
    #[serde(default)]
    pub classification: Vec<String>,
    #[serde(default)]
    pub tlp: Vec<String>,
    /// Originating countries.
    #[serde(default)]
    pub country: Vec<String>,
    #[serde(default)]
    pub language: Vec<String>,
    #[serde(default)]
    pub tag: Vec<String>,
}

impl SearchFilters {
    /// As the search service takes them (values trimmed, codes upper-case, as a search's).
    pub fn to_search(&self) -> Filters {
        let clean = |values: &[String], upper: bool| -> Vec<String> {
            values
                .iter()
                .map(|v| if upper { v.trim().to_ascii_uppercase() } else { v.trim().to_owned() })
                .filter(|v| !v.is_empty())
                .collect()
        };
        Filters {
            classification: clean(&self.classification, false),
            tlp: clean(&self.tlp, true),
            country: clean(&self.country, true),
            language: clean(&self.language, false),
            tag: clean(&self.tag, false),
            ..Filters::default()
        }
    }

    fn cleaned(&self) -> Self {
        let filters = self.to_search();
        Self {
            classification: filters.classification,
            tlp: filters.tlp,
            country: filters.country,
            language: filters.language,
            tag: filters.tag,
        }
    }
}

/// `POST /api/v1/saved-searches`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSavedSearch {
    /// At most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Words as in a search (empty: every document the filters admit).
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub filters: SearchFilters,
    /// Tell the owner when a document they may read comes to match.
    #[serde(default)]
    pub alert: bool,
}

/// `PATCH /api/v1/saved-searches/{id}`: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedSearchPatch {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    pub q: Option<String>,
    pub filters: Option<SearchFilters>,
    pub alert: Option<bool>,
}

/// A saved search as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedSearchView {
    pub id: String,
    pub name: String,
    pub q: String,
    pub filters: SearchFilters,
    pub alert: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<saved_search::Model> for SavedSearchView {
    fn from(row: saved_search::Model) -> Self {
        Self {
            filters: serde_json::from_str(&row.filters).unwrap_or_default(),
            id: row.id,
            name: row.name,
            q: row.q,
            alert: row.alert,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Service {
    /// Save a search for the caller; audited as `saved_search.create`.
    pub async fn save_search(&self, caller: &Caller, new: NewSavedSearch) -> Result<SavedSearchView, NotifyError> {
        let owner = self.owner(caller).await?;
        let name = self.valid_name(&new.name)?;
        let q = self.valid_q(&new.q)?;
        let filters = new.filters.cleaned();
        if repo::list(&self.db, &owner).await?.len() >= MAX_PER_OWNER {
            return Err(NotifyError::invalid("name", format!("at most {MAX_PER_OWNER} saved searches each")));
        }
        let principal = &caller.principal;
        let now = chrono::Utc::now();
        let row = saved_search::Model {
            id: uuid::Uuid::new_v4().hyphenated().to_string(),
            owner_sub: owner.sub.clone(),
            owner_organisation: owner.organisation.clone(),
            owner_country: owner.country.clone(),
            owner_clearance: principal.clearance.name().to_owned(),
            owner_capabilities: StringList::Items(
                principal.capabilities.iter().map(|c| c.as_str().to_owned()).collect(),
            ),
            owner_email: principal.email.clone(),
            name,
            q,
            filters: serde_json::to_string(&filters).unwrap_or_else(|_| "{}".into()),
            alert: new.alert,
            created_at: now,
            updated_at: now,
        };
        let event = NewEvent::of(caller, AuditAction::SavedSearchCreate, Outcome::Allowed).details(json!({
            "saved_search": row.id, "name": row.name, "query": row.q, "filters": filters, "alert": row.alert,
        }));
        let txn = self.db.begin().await?;
        let row = repo::insert(&txn, row).await?;
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        audit::Log::emit(&recorded);
        Ok(row.into())
    }

    /// The caller's saved searches, oldest first.
    pub async fn saved_searches(&self, caller: &Caller) -> Result<Vec<SavedSearchView>, NotifyError> {
        let owner = self.owner(caller).await?;
        Ok(repo::list(&self.db, &owner).await?.into_iter().map(SavedSearchView::from).collect())
    }

    /// Change one of the caller's saved searches; audited as `saved_search.update`.
    pub async fn change_saved_search(
        &self,
        caller: &Caller,
        id: &str,
        patch: SavedSearchPatch,
    ) -> Result<SavedSearchView, NotifyError> {
        let owner = self.owner(caller).await?;
        let mut row = repo::find(&self.db, &owner, id).await?.ok_or(NotifyError::NotFound)?;
        if let Some(name) = &patch.name {
            row.name = self.valid_name(name)?;
        }
        if let Some(q) = &patch.q {
            row.q = self.valid_q(q)?;
        }
        if let Some(filters) = &patch.filters {
            row.filters = serde_json::to_string(&filters.cleaned()).unwrap_or_else(|_| "{}".into());
        }
        if let Some(alert) = patch.alert {
            row.alert = alert;
        }
        row.updated_at = chrono::Utc::now();
        let event = NewEvent::of(caller, AuditAction::SavedSearchUpdate, Outcome::Allowed).details(json!({
            "saved_search": row.id, "name": row.name, "query": row.q,
            "filters": serde_json::from_str::<serde_json::Value>(&row.filters).unwrap_or_default(), "alert": row.alert,
        }));
        let txn = self.db.begin().await?;
        let row = repo::update(&txn, row).await?;
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        audit::Log::emit(&recorded);
        Ok(row.into())
    }

    /// Delete one of the caller's saved searches with every notification it made — nothing is
    /// left; audited as `saved_search.delete`.
    pub async fn delete_saved_search(&self, caller: &Caller, id: &str) -> Result<(), NotifyError> {
        let owner = self.owner(caller).await?;
        let event = NewEvent::of(caller, AuditAction::SavedSearchDelete, Outcome::Allowed)
            .details(json!({"saved_search": id.chars().take(64).collect::<String>()}));
        let txn = self.db.begin().await?;
        if !repo::delete(&txn, &owner, id).await? {
            return Err(NotifyError::NotFound);
        }
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        audit::Log::emit(&recorded);
        Ok(())
    }

    fn valid_name(&self, name: &str) -> Result<String, NotifyError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(NotifyError::invalid("name", "must not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(NotifyError::invalid("name", format!("is longer than {MAX_NAME_CHARS} characters")));
        }
        Ok(name.to_owned())
    }

    /// The words, held to the caps of a search (`[search]`): refused here rather than by every
    /// alert later.
    fn valid_q(&self, q: &str) -> Result<String, NotifyError> {
        let q = q.trim();
        if !q.is_empty() {
            self.caps.parse(q).map_err(|error| NotifyError::invalid("q", error.to_string()))?;
        }
        Ok(q.to_owned())
    }
}

//! The caller's notifications, newest first, decided again as they are read: a document the
//! owner may no longer see — withdrawn, narrowed, its clearance raised — shows only as "no
//! longer available" (no title, no markings, no id), and the unread count leaves it out.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NotifyError, Service};
use crate::audit::{Action as AuditAction, NewEvent, Outcome};
use crate::caller::Caller;
use crate::db::documents as documents_repo;
use crate::db::entities::{document, notification};
use crate::db::saved_searches as repo;
use crate::policy::{Action, Markings, Principal, decide};

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 200;
/// Unread notifications counted for the badge at the most (the badge says "1000+" beyond).
const MAX_COUNTED: usize = 1000;

/// `GET /api/v1/notifications`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// Only those not read yet.
    pub unread: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// At most this many (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// A page of notifications.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
    /// Send as `cursor` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Unread notifications whose document the caller may still see (at most 1000).
    pub unread: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: String,
    /// `saved-search`, `request` or `decision`.
    pub kind: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read: bool,
    /// Whether what it points to may still be shown; if not, nothing of it is.
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_search: Option<SavedSearchRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<NotifiedDocument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestRef>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedSearchRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotifiedDocument {
    pub id: String,
    pub title: String,
    pub markings: Markings,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestRef {
    pub id: String,
}

/// What opening a notification shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opens {
    Document(String),
    /// The provider's box, where a request to them waits.
    IncomingRequests,
    /// The requester's box, where the decision is.
    OutgoingRequests,
}

impl Service {
    /// A page of the caller's notifications; audited as `notification.list` with the documents
    /// it showed.
    pub async fn notifications(
        &self,
        caller: &Caller,
        query: NotificationsQuery,
    ) -> Result<NotificationList, NotifyError> {
        let owner = self.owner(caller).await?;
        let limit = match query.limit {
            None => DEFAULT_PAGE,
            Some(limit @ 1..=MAX_PAGE) => limit,
            Some(_) => return Err(NotifyError::invalid("limit", format!("must be between 1 and {MAX_PAGE}"))),
        };
        let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(cursor) => Some(
                decode_cursor(cursor)
                    .ok_or_else(|| NotifyError::invalid("cursor", "is not a cursor from a previous page"))?,
            ),
            None => None,
        };
        // One more than asked: whether there is a next page at all.
        let mut rows = repo::page(&self.db, &owner, query.unread.unwrap_or(false), before, limit + 1).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(encode_cursor) } else { None };
        let shown = self.visible_documents(&caller.principal, &rows).await?;
        let names: HashMap<String, String> =
            repo::list(&self.db, &owner).await?.into_iter().map(|s| (s.id, s.name)).collect();
        let items: Vec<NotificationView> =
            rows.into_iter()
                .map(|row| {
                    let document = row.document_id.as_ref().and_then(|id| shown.get(id)).cloned();
                    let available = row.document_id.is_none() || document.is_some();
                    NotificationView {
                        saved_search: row.saved_search_id.as_ref().and_then(|id| {
                            names.get(id).map(|name| SavedSearchRef { id: id.clone(), name: name.clone() })
                        }),
                        request: row.request_id.clone().filter(|_| available).map(|id| RequestRef { id }),
                        document,
                        available,
                        read: row.read_at.is_some(),
                        created_at: row.created_at,
                        kind: row.kind,
                        id: row.id,
                    }
                })
                .collect();
        let unread = self.unread(caller, &owner).await?;
        let event = NewEvent::of(caller, AuditAction::NotificationList, Outcome::Allowed).details(json!({
            "notifications": items.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            "documents": items.iter().filter_map(|n| n.document.as_ref().map(|d| d.id.as_str())).collect::<Vec<_>>(),
            "unread": unread,
        }));
        self.audit.record(event).await?;
        Ok(NotificationList { items, next_cursor, unread })
    }

    /// How many of the caller's unread notifications still point to something they may see
    /// (the badge); at most [`MAX_COUNTED`].
    pub async fn unread_count(&self, caller: &Caller) -> Result<usize, NotifyError> {
        self.unread(caller, &super::owner_of(caller)).await
    }

    async fn unread(&self, caller: &Caller, owner: &repo::Owner) -> Result<usize, NotifyError> {
        // Bounded in the query: the bell asks on every page view.
        let rows = repo::unread(&self.db, owner, MAX_COUNTED as u64).await?;
        let shown = self.visible_documents(&caller.principal, &rows).await?;
        Ok(rows.iter().filter(|row| row.document_id.as_ref().is_none_or(|id| shown.contains_key(id))).count())
    }

    /// Where one of the caller's notifications leads, if what it points to may still be shown.
    pub async fn opens(&self, caller: &Caller, id: &str) -> Result<Option<Opens>, NotifyError> {
        let row =
            repo::find_notification(&self.db, &super::owner_of(caller), id).await?.ok_or(NotifyError::NotFound)?;
        let shown = self.visible_documents(&caller.principal, std::slice::from_ref(&row)).await?;
        Ok(match (row.kind.as_str(), row.document_id) {
            (_, Some(document)) if !shown.contains_key(&document) => None,
            ("request", _) => Some(Opens::IncomingRequests),
            ("decision", _) => Some(Opens::OutgoingRequests),
            (_, Some(document)) => Some(Opens::Document(document)),
            _ => None,
        })
    }

    /// Mark one of the caller's notifications read (someone else's is missing).
    pub async fn mark_read(&self, caller: &Caller, id: &str) -> Result<(), NotifyError> {
        let owner = self.owner(caller).await?;
        if repo::mark_read(&self.db, &owner, id, chrono::Utc::now()).await? {
            Ok(())
        } else {
            Err(NotifyError::NotFound)
        }
    }

    /// Mark all the caller's notifications read.
    pub async fn mark_all_read(&self, caller: &Caller) -> Result<u64, NotifyError> {
        let owner = self.owner(caller).await?;
        Ok(repo::mark_all_read(&self.db, &owner, chrono::Utc::now()).await?)
    }

    /// The documents of `rows` that `principal` may see now, by id.
    async fn visible_documents(
        &self,
        principal: &Principal,
        rows: &[notification::Model],
    ) -> Result<HashMap<String, NotifiedDocument>, NotifyError> {
        let mut ids: Vec<String> = rows.iter().filter_map(|row| row.document_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let documents: Vec<document::Model> = documents_repo::find_all(&self.db, &ids).await?;
        Ok(documents
            .into_iter()
            .filter_map(|row| {
                let readable = documents_repo::read(&row, &self.policy)?;
                decide(principal, &readable.facts, Action::See).is_allowed().then(|| {
                    let shown =
                        NotifiedDocument { id: row.id.clone(), title: row.title, markings: readable.facts.markings };
                    (row.id, shown)
                })
            })
            .collect())
    }
}

fn encode_cursor(row: &notification::Model) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", row.created_at.timestamp_micros(), row.id))
}

fn decode_cursor(cursor: &str) -> Option<(chrono::DateTime<chrono::Utc>, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once('|')?;
    Some((chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_no_cursor() {
        let at = chrono::DateTime::from_timestamp_micros(1_796_000_000_123_456).expect("time");
        let row = notification::Model {
            id: "n-1".into(),
            owner_sub: String::new(),
            owner_organisation: String::new(),
            owner_country: String::new(),
            kind: "saved-search".into(),
            created_at: at,
            read_at: None,
            saved_search_id: None,
            document_id: None,
            request_id: None,
            emailed_at: None,
        };
        assert_eq!(decode_cursor(&encode_cursor(&row)), Some((at, "n-1".to_owned())));
        assert_eq!(decode_cursor("not a cursor"), None);
    }
}

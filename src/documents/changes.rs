//! Changes to a document: title, summary, tags and markings, publish and withdraw. Each is a
//! compare-and-set on the document's revision inside the transaction that records it, so a
//! change never silently undoes another made meanwhile, and the audit's before and after are
//! exactly what was replaced. A client that read revision N says so with `If-Match` (the ETag);
//! if the document has moved on, the change is refused with 412 and the client reads it again.

use sea_orm::{ActiveValue::Set, IntoActiveModel, TransactionTrait};
use serde_json::json;

use super::DocumentsError;
use super::model::{self, DocumentPatch, DocumentView};
use super::service::{Permitted, Service};
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome, Target};
use crate::caller::Caller;
use crate::db::documents as repo;
use crate::db::entities::document;
use crate::db::feed;
use crate::document_id::RequestedId;
use crate::policy::{Action, Markings, Status};

/// Tries of a change whose document moved between reading and writing (without `If-Match`).
pub(super) const MAX_ATTEMPTS: usize = 5;

/// What a change request expects the document to be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Precondition {
    /// No expectation (no `If-Match`, or `If-Match: *`): the change applies to the document
    /// as it is when the change commits.
    #[default]
    None,
    /// One of these revisions (the ETags the client read); any other answers 412. Empty: no
    /// revision can match (`If-Match` held only weak or foreign tags).
    Revisions(Vec<i32>),
}

impl Precondition {
    pub fn holds(&self, revision: i32) -> bool {
        match self {
            Precondition::None => true,
            Precondition::Revisions(revisions) => revisions.contains(&revision),
        }
    }
}

impl Service {
    /// Refuse — and record — a change whose expectation the document no longer meets.
    pub(super) async fn check(
        &self,
        caller: &Caller,
        permitted: &Permitted,
        precondition: &Precondition,
        action: AuditAction,
    ) -> Result<(), DocumentsError> {
        if precondition.holds(permitted.row.revision) {
            return Ok(());
        }
        Err(self.stale(caller, permitted, action).await)
    }

    /// The refusal of a change whose expected revision is gone, recorded.
    pub(super) async fn stale(&self, caller: &Caller, permitted: &Permitted, action: AuditAction) -> DocumentsError {
        let event = NewEvent::of(caller, action, Outcome::Error)
            .target(Target::version(&permitted.row.id, permitted.row.current_version))
            .details(json!({"reason": "stale_revision", "revision": permitted.row.revision}));
        match self.audit.record(event).await {
            Ok(_) => DocumentsError::Stale,
            Err(error) => error.into(),
        }
    }

    /// Change title, summary, language, tags and markings; audited with before and after.
    pub async fn update(
        &self,
        caller: &Caller,
        id: &RequestedId,
        patch: DocumentPatch,
        precondition: Precondition,
    ) -> Result<DocumentView, DocumentsError> {
        for _ in 0..MAX_ATTEMPTS {
            let permitted = self.authorize(caller, id, Action::Change, AuditAction::DocumentUpdate).await?;
            self.check(caller, &permitted, &precondition, AuditAction::DocumentUpdate).await?;
            let (row, markings_after) = self.patched(caller, &permitted, &patch)?;
            let document = permitted.row.id.as_str();
            let txn = self.db.begin().await?;
            let Some(after) = repo::update_at_revision(&txn, row, document, permitted.row.revision).await? else {
                // Changed meanwhile: the client's expectation, if any, no longer holds. Roll back
                // before recording (SQLite holds its write lock until then).
                drop(txn);
                if precondition != Precondition::None {
                    return Err(self.stale(caller, &permitted, AuditAction::DocumentUpdate).await);
                }
                continue;
            };
            feed::stamp(&txn, document).await?;
            let event = NewEvent::of(caller, AuditAction::DocumentUpdate, Outcome::Allowed)
                .target(Target::version(document, after.current_version))
                .details(json!({
                    // Titles, summaries and tags are document content, which auditors may not
                    // read (nobody reads documents without document:read): the event names the
                    // fields that changed, and the markings before and after.
                    "changed": changed_fields(&permitted.row, &after),
                    "before": {"markings": permitted.facts.markings, "revision": permitted.row.revision},
                    "after": {"markings": markings_after, "revision": after.revision},
                }));
            let recorded = audit::Log::append(&txn, event).await?;
            txn.commit().await?;
            self.changed(&recorded);
            return self.current_view(&caller.principal, permitted.id).await;
        }
        Err(DocumentsError::Busy)
    }

    /// The row with the patch applied, and the markings after it; invalid values refused.
    fn patched(
        &self,
        caller: &Caller,
        permitted: &Permitted,
        patch: &DocumentPatch,
    ) -> Result<(document::ActiveModel, Markings), DocumentsError> {
        let mut row = permitted.row.clone().into_active_model();
        if let Some(title) = &patch.title {
            row.title = Set(model::validate_title(title)?);
        }
        if let Some(summary) = &patch.summary {
            row.summary = Set(model::validate_summary(summary.as_deref())?);
        }
        if let Some(language) = &patch.language {
            row.language = Set(model::validate_language(language.as_deref())?);
        }
        if let Some(tags) = &patch.tags {
            row.tags = Set(model::validate_tags(tags)?.into());
        }
        let mut markings_after = permitted.facts.markings.clone();
        if patch.changes_markings() {
            let input = patch.merged_markings(&permitted.facts.markings);
            markings_after = input.validate(&self.policy, &caller.principal, &permitted.row.originator_country)?;
            repo::set_markings(&mut row, &markings_after);
        }
        row.updated_at = Set(chrono::Utc::now());
        Ok((row, markings_after))
    }

    pub async fn publish(
        &self,
        caller: &Caller,
        id: &RequestedId,
        precondition: Precondition,
    ) -> Result<DocumentView, DocumentsError> {
        self.set_status(caller, id, precondition, Status::Published, AuditAction::DocumentPublish).await
    }

    /// Hide the document from everyone outside the originator organisation.
    pub async fn withdraw(
        &self,
        caller: &Caller,
        id: &RequestedId,
        precondition: Precondition,
    ) -> Result<DocumentView, DocumentsError> {
        self.set_status(caller, id, precondition, Status::Withdrawn, AuditAction::DocumentWithdraw).await
    }

    async fn set_status(
        &self,
        caller: &Caller,
        id: &RequestedId,
        precondition: Precondition,
        status: Status,
        action: AuditAction,
    ) -> Result<DocumentView, DocumentsError> {
        for _ in 0..MAX_ATTEMPTS {
            let permitted = self.authorize(caller, id, Action::Change, action).await?;
            self.check(caller, &permitted, &precondition, action).await?;
            let document = permitted.row.id.as_str();
            let previous = permitted.facts.status;
            let now = chrono::Utc::now();
            let txn = self.db.begin().await?;
            if previous != status {
                let mut row = permitted.row.clone().into_active_model();
                row.status = Set(status.as_str().to_owned());
                row.updated_at = Set(now);
                if status == Status::Published {
                    row.published_at = Set(Some(now));
                }
                if repo::update_at_revision(&txn, row, document, permitted.row.revision).await?.is_none() {
                    drop(txn);
                    if precondition != Precondition::None {
                        return Err(self.stale(caller, &permitted, action).await);
                    }
                    continue;
                }
                feed::stamp(&txn, document).await?;
            }
            // Permission requests still open on a withdrawn document are closed with it (those
            // decided stay as they were, and its derivatives stand on their own markings).
            let closed_requests = if status == Status::Withdrawn && previous != status {
                crate::db::requests::close_open_on(&txn, document, now).await?
            } else {
                0
            };
            let mut details = json!({"from": previous, "to": status, "markings": permitted.facts.markings});
            if closed_requests > 0 {
                details["closed_requests"] = json!(closed_requests);
            }
            let event = NewEvent::of(caller, action, Outcome::Allowed)
                .target(Target::version(document, permitted.row.current_version))
                .details(details);
            let recorded = audit::Log::append(&txn, event).await?;
            txn.commit().await?;
            self.changed(&recorded);
            return self.current_view(&caller.principal, permitted.id).await;
        }
        Err(DocumentsError::Busy)
    }
}

/// Names of the fields an update changed, in a fixed order.
fn changed_fields(before: &document::Model, after: &document::Model) -> Vec<&'static str> {
    [
        ("title", before.title != after.title),
        ("summary", before.summary != after.summary),
        ("language", before.language != after.language),
        ("tags", before.tags != after.tags),
        ("classification", before.classification != after.classification),
        ("tlp", before.tlp != after.tlp),
        ("handling_code", before.handling_code != after.handling_code),
        ("handling_note", before.handling_note != after.handling_note),
        ("releasable_to", before.releasable_to != after.releasable_to),
        ("recipients", before.recipients != after.recipients),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

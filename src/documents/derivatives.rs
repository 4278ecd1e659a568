//! Derivatives: the usual way to share more widely is a sanitised ("tear-line") version with
//! lower markings, linked to its source. Only the source's provider makes one — an upload like any
//! other, with its own markings, indexed like any document — and the link is shown only to those
//! who may see both ends: a derivative's readers learn nothing about a source they may not see,
//! not even that it exists.

use super::DocumentsError;
use super::model::{DerivedFrom, DocumentLink, NewDocument};
use super::service::Service;
use super::upload::CreatePlan;
use crate::audit::Action as AuditAction;
use crate::caller::Caller;
use crate::db::documents as repo;
use crate::db::entities::document;
use crate::document_id::RequestedId;
use crate::policy::{Action, Markings, Principal, Status, decide};
use crate::throttle::Limit;

impl Service {
    /// Refuse (and audit) a derivative of `source` by anyone but its provider with
    /// `document:write`, before anything is read; a source the caller may not see is missing.
    pub async fn may_derive(&self, caller: &Caller, source: &RequestedId) -> Result<(), DocumentsError> {
        self.authorize(caller, source, Action::Change, AuditAction::DocumentCreate).await.map(drop)
    }

    /// Validate a derivative's metadata before any byte is stored: a new document with its own
    /// markings, derived from `source`.
    pub async fn plan_derivative(
        &self,
        caller: &Caller,
        source: &RequestedId,
        new: NewDocument,
    ) -> Result<CreatePlan, DocumentsError> {
        self.within(caller, Limit::Uploads).await?;
        let permitted = self.authorize(caller, source, Action::Change, AuditAction::DocumentCreate).await?;
        let derived_from = DerivedFrom { id: permitted.id, markings: permitted.facts.markings };
        self.plan(caller, new, Some(derived_from))
    }

    /// Where `row` comes from and what was derived from it, as far as `principal` may see.
    pub(super) async fn lineage(
        &self,
        principal: &Principal,
        row: &document::Model,
    ) -> Result<(Option<String>, Vec<DocumentLink>), DocumentsError> {
        let source = match &row.derived_from {
            Some(source) => repo::find(&self.db, source).await?,
            None => None,
        };
        let derived_from = source.filter(|source| self.visible(principal, source).is_some()).map(|source| source.id);
        let derivatives = repo::derivatives_of(&self.db, &row.id)
            .await?
            .into_iter()
            .filter_map(|derivative| {
                let (markings, status) = self.visible(principal, &derivative)?;
                Some(DocumentLink { id: derivative.id, title: derivative.title, markings, status })
            })
            .collect();
        Ok((derived_from, derivatives))
    }

    /// The markings and status of `row`, if `principal` may see it.
    fn visible(&self, principal: &Principal, row: &document::Model) -> Option<(Markings, Status)> {
        let readable = repo::read(row, &self.policy)?;
        decide(principal, &readable.facts, Action::See)
            .is_allowed()
            .then_some((readable.facts.markings, readable.facts.status))
    }
}

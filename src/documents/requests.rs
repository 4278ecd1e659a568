//! Handling-code requests (issue 16): a reader asks a document's provider for permission —
//! judicial use of an H1 document, dissemination of an H2 one — or for a sanitised version, and
//! the provider answers once. Who may ask and who may answer is `policy::requests`'; this module
//! applies it, stores what it allows and audits every step with the document's markings at the
//! time. A request on a document the caller may not see answers exactly like one on a document
//! that does not exist, and a request is seen only by the two organisations it concerns.

use sea_orm::TransactionTrait;
use serde_json::json;

use super::DocumentsError;
use super::model::{BoxName, NewDecision, NewRequest, Recipient, RequestStatus, RequestView, RequestsQuery, Verdict};
use super::service::Service;
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome, Target};
use crate::caller::Caller;
use crate::db::documents as documents_repo;
use crate::db::entities::handling_request;
use crate::db::requests::{self as repo, Decided, RequestBox};
use crate::db::saved_searches::{self as notices, Owner};
use crate::document_id::{DocumentId, RequestedId};
use crate::policy::{
    Action, Capability, Decision, Principal, Reason, RequestKind, RequestParties, RequestRefusal, decide, may_decide,
    may_request, reaches_requester,
};
use crate::throttle::Limit;

const MAX_TEXT_CHARS: usize = 4_000;
const MAX_REFERENCE_CHARS: usize = 200;
/// Requests listed when the caller names no `limit`, and the most it may name.
const DEFAULT_LIST: u64 = 50;
const MAX_LIST: u64 = 200;

impl Service {
    /// Ask the provider of document `id`; audited as `request.create` with its markings.
    pub async fn request(
        &self,
        caller: &Caller,
        id: &RequestedId,
        new: NewRequest,
    ) -> Result<RequestView, DocumentsError> {
        self.within(caller, Limit::Requests).await?;
        let permitted = self.authorize(caller, id, Action::See, AuditAction::RequestCreate).await?;
        let principal = &caller.principal;
        match may_request(principal, &permitted.facts, new.kind) {
            Ok(()) => {}
            Err(RequestRefusal::Hidden(_)) => return Err(DocumentsError::NotFound),
            Err(RequestRefusal::KindDoesNotFit { kind, code }) => {
                return Err(DocumentsError::invalid(
                    "kind",
                    format!("a `{kind}` request does not fit a document under handling code {}", code.as_str()),
                ));
            }
            Err(RequestRefusal::OwnDocument) => {
                let reason = Reason::OwnDocument;
                let event = NewEvent::of(caller, AuditAction::RequestCreate, Outcome::Denied)
                    .target(Target::version(&permitted.row.id, permitted.row.current_version))
                    .details(json!({"reason": reason, "kind": new.kind}));
                self.audit.record(event).await?;
                return Err(DocumentsError::Forbidden(reason));
            }
        }
        let justification = required_text("justification", &new.justification, MAX_TEXT_CHARS)?;
        let case_reference = optional_text("case_reference", new.case_reference.as_deref(), MAX_REFERENCE_CHARS)?;
        let recipient = match new.recipient {
            Some(recipient) => Some(self.valid_recipient(recipient)?),
            None if new.kind.needs_recipient() => {
                return Err(DocumentsError::invalid("recipient", "a dissemination request names its recipient"));
            }
            None => None,
        };
        let row = handling_request::Model {
            id: uuid::Uuid::new_v4().hyphenated().to_string(),
            document_id: permitted.row.id.clone(),
            kind: new.kind.as_str().to_owned(),
            status: repo::PENDING.to_owned(),
            justification,
            case_reference,
            recipient_organisation: recipient.as_ref().map(|r| r.organisation.clone()),
            recipient_country: recipient.as_ref().map(|r| r.country.clone()),
            requester_sub: principal.sub.clone(),
            requester_name: principal.name.clone(),
            requester_organisation: principal.organisation.clone(),
            requester_country: principal.country.clone(),
            requester_key: principal.organisation_key(),
            provider_key: permitted.facts.organisation_key(),
            created_at: chrono::Utc::now(),
            decided_at: None,
            decided_by: None,
            decision_note: None,
            derivative_id: None,
        };
        let event = NewEvent::of(caller, AuditAction::RequestCreate, Outcome::Allowed)
            .target(Target::version(&permitted.row.id, permitted.row.current_version))
            .details(json!({
                "request": row.id,
                "kind": row.kind,
                "justification": row.justification,
                "case_reference": row.case_reference,
                "recipient": recipient,
                "provider": {"organisation": permitted.row.originator_org, "country": permitted.row.originator_country},
                "markings": permitted.facts.markings,
            }));
        // The document's uploader hears of it (the provider's inbox lists it for all of them).
        let uploader = Owner {
            sub: permitted.row.originator_sub.clone(),
            organisation: permitted.row.originator_org.clone(),
            country: permitted.row.originator_country.clone(),
        };
        let txn = self.db.begin().await?;
        let row = repo::insert(&txn, row).await?;
        notices::notify(&txn, notices::of_request(&uploader, "request", &row.document_id, &row.id)).await?;
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        audit::Log::emit(&recorded);
        Ok(RequestView::of(row, Some(permitted.row.title)))
    }

    /// A request box of the caller's organisation, newest first; audited as `request.list`.
    pub async fn requests(&self, caller: &Caller, query: RequestsQuery) -> Result<Vec<RequestView>, DocumentsError> {
        let principal = &caller.principal;
        let (r#box, needs, name) = match query.r#box {
            BoxName::Incoming => {
                (RequestBox::Incoming(principal.organisation_key()), Capability::DocumentWrite, "incoming")
            }
            BoxName::Outgoing => {
                (RequestBox::Outgoing(principal.organisation_key()), Capability::DocumentRead, "outgoing")
            }
        };
        if !principal.has(needs) {
            let reason =
                if needs == Capability::DocumentWrite { Reason::NoWriteCapability } else { Reason::NoReadCapability };
            let event = NewEvent::of(caller, AuditAction::RequestList, Outcome::Denied)
                .details(json!({"box": name, "reason": reason}));
            self.audit.record(event).await?;
            return Err(DocumentsError::Forbidden(reason));
        }
        let limit = match query.limit {
            None => DEFAULT_LIST,
            Some(limit @ 1..=MAX_LIST) => limit,
            Some(_) => return Err(DocumentsError::invalid("limit", format!("must be between 1 and {MAX_LIST}"))),
        };
        let rows = repo::list(&self.db, &r#box, query.status.map(RequestStatus::as_str), limit).await?;
        let views = self.with_titles(principal, rows).await?;
        let event = NewEvent::of(caller, AuditAction::RequestList, Outcome::Allowed).details(json!({
            "box": name,
            "status": query.status,
            "requests": views.iter().map(|view| view.id.as_str()).collect::<Vec<_>>(),
        }));
        self.audit.record(event).await?;
        Ok(views)
    }

    /// The provider's answer to request `id`, given once; audited as `request.decide` with the
    /// document's markings. Anyone outside the two organisations is answered as if there were no
    /// such request.
    pub async fn decide_request(
        &self,
        caller: &Caller,
        id: &str,
        decision: NewDecision,
    ) -> Result<RequestView, DocumentsError> {
        self.within(caller, Limit::Requests).await?;
        let principal = &caller.principal;
        let refuse = |outcome, details: serde_json::Value| {
            NewEvent::of(caller, AuditAction::RequestDecide, outcome).details(details)
        };
        // A malformed id names no request; the audit keeps at most 64 characters of it.
        let request_id: String = id.chars().take(64).collect();
        let found = match uuid::Uuid::try_parse(id) {
            Ok(uuid) if uuid.hyphenated().to_string() == id => repo::find(&self.db, id).await?,
            _ => None,
        };
        let document = match &found {
            Some(row) => documents_repo::find(&self.db, &row.document_id).await?,
            None => None,
        };
        let readable = document.as_ref().and_then(|row| documents_repo::read(row, &self.policy));
        let (Some(row), Some(document), Some(readable)) = (found, document, readable) else {
            self.audit.record(refuse(Outcome::Denied, json!({"request": request_id, "reason": "not_found"}))).await?;
            return Err(DocumentsError::NotFound);
        };
        let parties = RequestParties {
            requester_sub: row.requester_sub.clone(),
            requester_organisation: row.requester_key.clone(),
            provider_organisation: row.provider_key.clone(),
        };
        let target = Target::version(&document.id, document.current_version);
        match may_decide(principal, &readable.facts, &parties) {
            Decision::Allow => {}
            Decision::Hidden(reason) => {
                let details = json!({"request": row.id, "reason": reason, "hidden": true});
                self.audit.record(refuse(Outcome::Denied, details).target(target)).await?;
                return Err(DocumentsError::NotFound);
            }
            Decision::Forbidden(reason) => {
                let details = json!({"request": row.id, "reason": reason});
                self.audit.record(refuse(Outcome::Denied, details).target(target)).await?;
                return Err(DocumentsError::Forbidden(reason));
            }
        }
        let status = RequestStatus::parse(&row.status);
        if status != RequestStatus::Pending {
            let details = json!({"request": row.id, "reason": "already_decided", "status": status});
            self.audit.record(refuse(Outcome::Error, details).target(target)).await?;
            return Err(DocumentsError::AlreadyDecided(status.as_str()));
        }
        let kind: RequestKind = row.kind.parse().unwrap_or(RequestKind::SanitisedVersion);
        let note = required_text("note", &decision.note, MAX_TEXT_CHARS)?;
        let derivative = self.answering_derivative(&row, kind, &decision).await?;
        let (status, verdict) = match decision.decision {
            Verdict::Approve => (RequestStatus::Approved, "approve"),
            Verdict::Deny => (RequestStatus::Denied, "deny"),
        };
        let now = chrono::Utc::now();
        let event = NewEvent::of(caller, AuditAction::RequestDecide, Outcome::Allowed).target(target).details(json!({
            "request": row.id,
            "kind": kind,
            "decision": verdict,
            "note": note,
            "derivative": derivative,
            "requester": {"sub": row.requester_sub, "organisation": row.requester_organisation, "country": row.requester_country},
            "markings": readable.facts.markings,
        }));
        let txn = self.db.begin().await?;
        let decided = Decided {
            status: status.as_str(),
            decided_by: &principal.sub,
            note: &note,
            derivative_id: derivative.as_deref(),
            at: now,
        };
        if !repo::decide(&txn, &row.id, decided).await? {
            // Decided by someone else meanwhile, or closed by a withdrawal.
            drop(txn);
            let now_stored = repo::find(&self.db, &row.id).await?.map(|r| RequestStatus::parse(&r.status));
            return Err(DocumentsError::AlreadyDecided(now_stored.unwrap_or(RequestStatus::Withdrawn).as_str()));
        }
        let requester = Owner {
            sub: row.requester_sub.clone(),
            organisation: row.requester_organisation.clone(),
            country: row.requester_country.clone(),
        };
        notices::notify(&txn, notices::of_request(&requester, "decision", &row.document_id, &row.id)).await?;
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        audit::Log::emit(&recorded);
        let stored = repo::find(&self.db, &row.id).await?.ok_or(DocumentsError::NotFound)?;
        Ok(RequestView::of(stored, Some(document.title)))
    }

    /// The permissions the caller's organisation holds on document `id`: its approved requests.
    pub(super) async fn permissions(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Vec<RequestView>, DocumentsError> {
        let rows = repo::approved_for(&self.db, id, &principal.organisation_key()).await?;
        Ok(rows.into_iter().map(|row| RequestView::of(row, None)).collect())
    }

    /// The derivative an approval names: only an approved `sanitised-version` request names one
    /// (and must), and it must be a derivative of the request's document.
    async fn answering_derivative(
        &self,
        request: &handling_request::Model,
        kind: RequestKind,
        decision: &NewDecision,
    ) -> Result<Option<String>, DocumentsError> {
        let needs_one = kind == RequestKind::SanitisedVersion && decision.decision == Verdict::Approve;
        let Some(id) = decision.derivative_id.as_deref() else {
            if needs_one {
                return Err(DocumentsError::invalid(
                    "derivative_id",
                    "approving a sanitised-version request names the derivative that answers it",
                ));
            }
            return Ok(None);
        };
        if !needs_one {
            return Err(DocumentsError::invalid(
                "derivative_id",
                "only the approval of a sanitised-version request names a derivative",
            ));
        }
        let derivative = match DocumentId::parse(id) {
            Some(id) => documents_repo::find(&self.db, &id.to_string()).await?,
            None => None,
        };
        let Some(row) = derivative.filter(|row| row.derived_from.as_deref() == Some(request.document_id.as_str()))
        else {
            return Err(DocumentsError::invalid("derivative_id", "is not a derivative of the requested document"));
        };
        // An approval the requester could not follow is a mistake: say so before it is recorded.
        let reaches = documents_repo::read(&row, &self.policy).is_some_and(|readable| {
            reaches_requester(
                &request.requester_sub,
                &request.requester_organisation,
                &request.requester_country,
                &readable.facts,
            )
        });
        if !reaches {
            return Err(DocumentsError::invalid(
                "derivative_id",
                format!(
                    "does not reach the requester: publish it, release it to {} and, under TLP:RED, name them",
                    request.requester_country
                ),
            ));
        }
        Ok(Some(row.id))
    }

    /// Views of `rows`, each with its document's title while the caller may see the document.
    async fn with_titles(
        &self,
        principal: &Principal,
        rows: Vec<handling_request::Model>,
    ) -> Result<Vec<RequestView>, DocumentsError> {
        let mut ids: Vec<String> = rows.iter().map(|row| row.document_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let documents = documents_repo::find_all(&self.db, &ids).await?;
        let title = |id: &str| {
            let document = documents.iter().find(|d| d.id == id)?;
            let readable = documents_repo::read(document, &self.policy)?;
            decide(principal, &readable.facts, Action::See).is_allowed().then(|| document.title.clone())
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let title = title(&row.document_id);
                RequestView::of(row, title)
            })
            .collect())
    }

    fn valid_recipient(&self, recipient: Recipient) -> Result<Recipient, DocumentsError> {
        let organisation = required_text("recipient.organisation", &recipient.organisation, MAX_REFERENCE_CHARS)?;
        let country = recipient.country.trim().to_ascii_uppercase();
        if !self.policy.countries.contains(&country) {
            return Err(DocumentsError::invalid(
                "recipient.country",
                format!("`{}` is not a country of the network", recipient.country),
            ));
        }
        Ok(Recipient { organisation, country })
    }
}

/// `text` trimmed, not blank, at most `max` characters.
fn required_text(field: &str, text: &str, max: usize) -> Result<String, DocumentsError> {
    match optional_text(field, Some(text), max)? {
        Some(text) => Ok(text),
        None => Err(DocumentsError::invalid(field, "must not be empty")),
    }
}

/// `text` trimmed, `None` when blank, at most `max` characters.
fn optional_text(field: &str, text: Option<&str>, max: usize) -> Result<Option<String>, DocumentsError> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    if text.is_some_and(|t| t.chars().count() > max) {
        return Err(DocumentsError::invalid(field, format!("is longer than {max} characters")));
    }
    Ok(text.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(required_text("note", "  yes  ", 10).ok(), Some("yes".to_owned()));
        assert!(required_text("note", "   ", 10).is_err());
        assert!(required_text("note", &"x".repeat(11), 10).is_err());
        assert_eq!(optional_text("case_reference", Some(" "), 10).ok(), Some(None));
    }

    #[test]
    fn stored_statuses_read_back() {
        for status in [RequestStatus::Pending, RequestStatus::Approved, RequestStatus::Denied, RequestStatus::Withdrawn]
        {
            assert_eq!(RequestStatus::parse(status.as_str()), status);
        }
    }
}

//! Audit events, in the normative format of docs/architecture.md ("The audit trail").

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::{Caller, RequestInfo};
use crate::policy::Principal;

/// What happened. Stable strings: auditors filter on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Action {
    #[serde(rename = "auth.login")]
    AuthLogin,
    #[serde(rename = "auth.denied")]
    AuthDenied,
    #[serde(rename = "document.create")]
    DocumentCreate,
    #[serde(rename = "document.view")]
    DocumentView,
    #[serde(rename = "document.download")]
    DocumentDownload,
    #[serde(rename = "document.version")]
    DocumentVersion,
    #[serde(rename = "document.update")]
    DocumentUpdate,
    #[serde(rename = "document.publish")]
    DocumentPublish,
    #[serde(rename = "document.withdraw")]
    DocumentWithdraw,
    /// A reader asked a document's provider for permission or a sanitised version.
    #[serde(rename = "request.create")]
    RequestCreate,
    /// A request box (incoming or outgoing) was read.
    #[serde(rename = "request.list")]
    RequestList,
    /// The provider approved or denied a request.
    #[serde(rename = "request.decide")]
    RequestDecide,
    /// A principal saved a search (with or without an alert), changed or deleted one.
    #[serde(rename = "saved_search.create")]
    SavedSearchCreate,
    #[serde(rename = "saved_search.update")]
    SavedSearchUpdate,
    #[serde(rename = "saved_search.delete")]
    SavedSearchDelete,
    /// A principal read their notifications (the documents shown are named).
    #[serde(rename = "notification.list")]
    NotificationList,
    #[serde(rename = "search.query")]
    SearchQuery,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "audit.export")]
    AuditExport,
    #[serde(rename = "audit.verify")]
    AuditVerify,
    /// An auditor read a per-document access report (the document is the target).
    #[serde(rename = "audit.report")]
    AuditReport,
    /// An auditor read the activity charts (or their numbers as CSV) or the anomaly flags.
    #[serde(rename = "audit.activity")]
    AuditActivity,
    /// An operator gave an organisation a new key version (`anaspoc keys rotate`).
    #[serde(rename = "keys.rotate")]
    KeysRotate,
    /// An operator re-wrapped an organisation's data keys under its current key version.
    #[serde(rename = "keys.rewrap")]
    KeysRewrap,
    /// An operator destroyed an organisation's keys (crypto-shredding).
    #[serde(rename = "keys.destroy")]
    KeysDestroy,
    /// An operator encrypted the objects stored before encryption was enabled.
    #[serde(rename = "keys.encrypt_existing")]
    KeysEncryptExisting,
}

impl Action {
    pub const ALL: [Action; 26] = [
        Action::AuthLogin,
        Action::AuthDenied,
        Action::DocumentCreate,
        Action::DocumentView,
        Action::DocumentDownload,
        Action::DocumentVersion,
        Action::DocumentUpdate,
        Action::DocumentPublish,
        Action::DocumentWithdraw,
        Action::RequestCreate,
        Action::RequestList,
        Action::RequestDecide,
        Action::SavedSearchCreate,
        Action::SavedSearchUpdate,
        Action::SavedSearchDelete,
        Action::NotificationList,
        Action::SearchQuery,
        Action::AuditRead,
        Action::AuditExport,
        Action::AuditVerify,
        Action::AuditReport,
        Action::AuditActivity,
        Action::KeysRotate,
        Action::KeysRewrap,
        Action::KeysDestroy,
        Action::KeysEncryptExisting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuthLogin => "auth.login",
            Action::AuthDenied => "auth.denied",
            Action::DocumentCreate => "document.create",
            Action::DocumentView => "document.view",
            Action::DocumentDownload => "document.download",
            Action::DocumentVersion => "document.version",
            Action::DocumentUpdate => "document.update",
            Action::DocumentPublish => "document.publish",
            Action::DocumentWithdraw => "document.withdraw",
            Action::RequestCreate => "request.create",
            Action::RequestList => "request.list",
            Action::RequestDecide => "request.decide",
            Action::SavedSearchCreate => "saved_search.create",
            Action::SavedSearchUpdate => "saved_search.update",
            Action::SavedSearchDelete => "saved_search.delete",
            Action::NotificationList => "notification.list",
            Action::SearchQuery => "search.query",
            Action::AuditRead => "audit.read",
            Action::AuditExport => "audit.export",
            Action::AuditVerify => "audit.verify",
            Action::AuditReport => "audit.report",
            Action::AuditActivity => "audit.activity",
            Action::KeysRotate => "keys.rotate",
            Action::KeysRewrap => "keys.rewrap",
            Action::KeysDestroy => "keys.destroy",
            Action::KeysEncryptExisting => "keys.encrypt_existing",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allowed,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Allowed, Outcome::Denied, Outcome::Error].into_iter().find(|o| o.as_str() == s)
    }
}

/// Who acted. Unknown for refused tokens (nothing unverified is recorded as identity).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    pub sub: Option<String>,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub country: Option<String>,
    pub roles: Vec<String>,
}

impl Actor {
    pub fn anonymous() -> Self {
        Self::default()
    }
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Self {
            sub: Some(p.sub.clone()),
            name: Some(p.name.clone()),
            organisation: Some(p.organisation.clone()),
            country: Some(p.country.clone()),
            roles: p.roles.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<i32>,
}

impl Target {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn document(id: &str) -> Self {
        Self { document_id: Some(recordable_id(id)), version: None }
    }

    pub fn version(id: &str, version: i32) -> Self {
        Self { document_id: Some(recordable_id(id)), version: Some(version) }
    }
}

/// The id as asked for, made storable: a refused request may name any text, but the trail keeps
/// at most 64 characters and no control characters (PostgreSQL refuses NUL in text).
fn recordable_id(id: &str) -> String {
    id.chars().take(64).map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c }).collect()
}

/// An event as recorded: every field of the normative format in order; `hash` covers all the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub actor: Actor,
    pub action: Action,
    pub outcome: Outcome,
    pub target: Target,
    pub request: RequestInfo,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// Documents the event names in its details other than as its target: a search's hits
    /// (`ids`), the documents a notification list showed (`documents`), a derivative's source
    /// (`derived_from.id`). Indexed in `audit_document_refs` when the event is appended.
    pub fn mentioned_documents(&self) -> Vec<String> {
        let details = &self.details;
        let listed = ["ids", "documents"].into_iter().filter_map(|key| details.get(key)?.as_array()).flatten();
        let source = details.get("derived_from").and_then(|d| d.get("id"));
        let mut ids: Vec<String> = listed
            .chain(source)
            .filter_map(Value::as_str)
            .filter(|id| id.len() <= 64 && self.target.document_id.as_deref() != Some(*id))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// What a caller states about an event; the log adds seq, id, time and the hashes.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub actor: Actor,
    pub action: Action,
    pub outcome: Outcome,
    pub target: Target,
    pub request: RequestInfo,
    pub details: Value,
}

impl NewEvent {
    pub fn new(actor: Actor, request: &RequestInfo, action: Action, outcome: Outcome) -> Self {
        Self {
            actor,
            action,
            outcome,
            target: Target::none(),
            request: request.clone(),
            details: Value::Object(Default::default()),
        }
    }

    /// An event of `caller`'s request.
    pub fn of(caller: &Caller, action: Action, outcome: Outcome) -> Self {
        Self::new(Actor::from(&caller.principal), &caller.request, action, outcome)
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

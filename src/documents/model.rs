//! What clients send and receive about documents (README, "Walk-through").

use serde::{Deserialize, Deserializer, Serialize};

use super::DocumentsError;
use crate::db::entities::document_version;
use crate::db::entities::handling_request;
use crate::db::requests as requests_repo;
use crate::document_id::DocumentId;
use crate::policy::{Markings, MarkingsInput, PolicyConfig, Principal, RequestKind, Status};

const MAX_TITLE_CHARS: usize = 300;
const MAX_SUMMARY_CHARS: usize = 10_000;
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 64;

/// The `metadata` part of an upload.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Trimmed; at most 300 characters.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub title: String,
    #[schema(max_length = 10000)]
    pub summary: Option<String>,
    /// A language tag such as `sr`, `sr-Latn`, `sq`; detected from the text when absent.
    #[schema(pattern = r"^\s*([A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*)?\s*$")]
    pub language: Option<String>,
    pub classification: String,
    pub tlp: String,
    pub handling_code: String,
    pub handling_note: Option<String>,
    #[serde(default)]
    pub releasable_to: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    /// At most 50, each at most 64 characters.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
    /// Publish at once (otherwise a draft, visible to the originating organisation only).
    #[serde(default)]
    pub publish: bool,
}

/// An upload's metadata once every field is checked: what a new document is made of.
#[derive(Debug, Clone)]
pub struct ValidNewDocument {
    pub title: String,
    pub summary: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub markings: Markings,
    pub publish: bool,
}

impl NewDocument {
    /// Check every field as `uploader` sends it, under `policy` (the markings are released
    /// from the uploader's country).
    pub fn validate(&self, policy: &PolicyConfig, uploader: &Principal) -> Result<ValidNewDocument, DocumentsError> {
        Ok(ValidNewDocument {
            title: validate_title(&self.title)?,
            summary: validate_summary(self.summary.as_deref())?,
            language: validate_language(self.language.as_deref())?,
            tags: validate_tags(&self.tags)?,
            markings: self.markings_input().validate(policy, uploader, &uploader.country)?,
            publish: self.publish,
        })
    }

    pub fn markings_input(&self) -> MarkingsInput {
        MarkingsInput {
            classification: self.classification.clone(),
            tlp: self.tlp.clone(),
            handling_code: self.handling_code.clone(),
            handling_note: self.handling_note.clone(),
            releasable_to: self.releasable_to.clone(),
            recipients: self.recipients.clone(),
        }
    }
}

/// `PATCH /api/v1/documents/{id}`: every field optional; `null` clears the optional ones.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentPatch {
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 10000)]
    pub summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(pattern = r"^\s*([A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*)?\s*$")]
    pub language: Option<Option<String>>,
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    pub classification: Option<String>,
    pub tlp: Option<String>,
    pub handling_code: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub handling_note: Option<Option<String>>,
    pub releasable_to: Option<Vec<String>>,
    pub recipients: Option<Vec<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl DocumentPatch {
    pub fn changes_markings(&self) -> bool {
        self.classification.is_some()
            || self.tlp.is_some()
            || self.handling_code.is_some()
            || self.handling_note.is_some()
            || self.releasable_to.is_some()
            || self.recipients.is_some()
    }

    /// The markings after this patch, as input to validate. A TLP changed away from RED drops
    /// the recipients and a handling code changed away from H3 drops the note, unless the patch
    /// states them.
    pub fn merged_markings(&self, current: &Markings) -> MarkingsInput {
        let mut input = current.to_input();
        if let Some(classification) = &self.classification {
            input.classification = classification.clone();
        }
        if let Some(tlp) = &self.tlp {
            input.tlp = tlp.clone();
            if self.recipients.is_none() && !tlp.trim().eq_ignore_ascii_case("RED") {
                input.recipients.clear();
            }
        }
        if let Some(code) = &self.handling_code {
            input.handling_code = code.clone();
            if self.handling_note.is_none() && !code.trim().eq_ignore_ascii_case("H3") {
                input.handling_note = None;
            }
        }
        if let Some(note) = &self.handling_note {
            input.handling_note = note.clone();
        }
        if let Some(releasable_to) = &self.releasable_to {
            input.releasable_to = releasable_to.clone();
        }
        if let Some(recipients) = &self.recipients {
            input.recipients = recipients.clone();
        }
        input
    }
}

pub fn validate_title(title: &str) -> Result<String, DocumentsError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(DocumentsError::invalid("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(DocumentsError::invalid("title", format!("is longer than {MAX_TITLE_CHARS} characters")));
    }
    Ok(title.to_owned())
}

pub fn validate_summary(summary: Option<&str>) -> Result<Option<String>, DocumentsError> {
    let summary = summary.map(str::trim).filter(|s| !s.is_empty());
    if summary.is_some_and(|s| s.chars().count() > MAX_SUMMARY_CHARS) {
        return Err(DocumentsError::invalid("summary", format!("is longer than {MAX_SUMMARY_CHARS} characters")));
    }
    Ok(summary.map(str::to_owned))
}

/// A BCP 47 language tag of the simple kinds used here: `sr`, `sr-Latn`, `sq`, `mk`, `en-GB`.
pub fn validate_language(language: Option<&str>) -> Result<Option<String>, DocumentsError> {
    let Some(tag) = language.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok = (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !primary_ok || !rest_ok {
        return Err(DocumentsError::invalid(
            "language",
            format!("`{tag}` is not a language tag such as sr, sr-Latn or sq"),
        ));
    }
    Ok(Some(tag.to_owned()))
}

pub fn validate_tags(tags: &[String]) -> Result<Vec<String>, DocumentsError> {
    let mut cleaned: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(DocumentsError::invalid("tags", format!("a tag is longer than {MAX_TAG_CHARS} characters")));
        }
        if !cleaned.iter().any(|t| t == tag) {
            cleaned.push(tag.to_owned());
        }
    }
    if cleaned.len() > MAX_TAGS {
        return Err(DocumentsError::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(cleaned)
}

/// A document as a reader sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub markings: Markings,
    /// What the handling code means, for people.
    pub handling: &'static str,
    pub originator_org: String,
    pub originator_country: String,
    pub status: Status,
    pub current_version: i32,
    /// Moves on with every change: the document's `ETag`, for `If-Match`.
    pub revision: i32,
    pub versions: Vec<VersionView>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the caller may add versions, change markings, publish and withdraw.
    pub can_change: bool,
    /// What the caller may ask the provider for (`POST /api/v1/documents/{id}/requests`):
    /// readers of other organisations, by the handling code.
    pub requestable: Vec<RequestKind>,
    /// The document this one is a derivative of — only when the caller may see that one too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<String>,
    /// The derivatives of this document that the caller may see.
    pub derivatives: Vec<DocumentLink>,
    /// The provider's written permissions held by the caller's organisation: its approved
    /// requests on this document.
    pub permissions: Vec<RequestView>,
}

/// Where a version's text stands: `pending`, `indexed`, or `failed` with the reason — the last
/// two once the answering server's index has applied the document's latest change (until then
/// `pending`): what it says is what a search there finds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IngestView {
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Something a reader should know about the text that is not an error: e.g. that OCR read
    /// the scan with a stand-in language pack, the document's own not being installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub ingest: IngestView,
    /// The language detected in the text, when the uploader gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_language: Option<String>,
    pub version: i32,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: String,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<document_version::Model> for VersionView {
    fn from(row: document_version::Model) -> Self {
        Self {
            ingest: IngestView { state: row.ingest_state, error: row.ingest_error, note: row.ingest_note },
            detected_language: row.detected_language,
            version: row.version,
            sha256: row.sha256,
            size: row.size_bytes,
            media_type: row.media_type,
            filename: row.filename,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

// ---- derivatives (derivatives.rs) --------------------------------------------------------

/// The source of a derivative, as it was when the derivative was planned.
#[derive(Debug, Clone)]
pub struct DerivedFrom {
    pub id: DocumentId,
    /// Recorded in the derivative's `document.create` event.
    pub markings: Markings,
}

/// Another document, as a link on a document's page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentLink {
    pub id: String,
    pub title: String,
    pub markings: Markings,
    pub status: Status,
}

// ---- handling-code requests (requests.rs) ------------------------------------------------

/// `POST /api/v1/documents/{id}/requests`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// `judicial-use` (the document is H1), `dissemination` (H2; needs `recipient`) or
    /// `sanitised-version` (any handling code).
    pub kind: RequestKind,
    /// Why the requester needs it; at most 4,000 characters.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub justification: String,
    /// The requester's case or file number, if any; at most 200 characters.
    #[schema(max_length = 200)]
    pub case_reference: Option<String>,
    /// To whom the requester wants to pass the document (or the sanitised version).
    pub recipient: Option<Recipient>,
}

/// An organisation outside the document's audience, named by a requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// At most 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub organisation: String,
    /// A country code of the network (`AL`, `BA`, … `EU`).
    pub country: String,
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    /// The document was withdrawn while the request was open.
    Withdrawn,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => requests_repo::PENDING,
            Self::Approved => requests_repo::APPROVED,
            Self::Denied => requests_repo::DENIED,
            Self::Withdrawn => requests_repo::WITHDRAWN,
        }
    }

    pub(super) fn parse(stored: &str) -> Self {
        [Self::Approved, Self::Denied, Self::Withdrawn]
            .into_iter()
            .find(|status| status.as_str() == stored)
            .unwrap_or(Self::Pending)
    }
}

/// Which requests: those on the caller's organisation's documents, or its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BoxName {
    Incoming,
    Outgoing,
}

/// `GET /api/v1/requests`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// `incoming`: requests on documents of the caller's organisation (needs `document:write`);
    /// `outgoing`: requests made by the caller's organisation.
    #[serde(rename = "box")]
    #[param(rename = "box", inline)]
    pub r#box: BoxName,
    /// Only requests in this state.
    pub status: Option<RequestStatus>,
    /// At most this many, newest first (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// The provider's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Deny,
}

/// `POST /api/v1/requests/{id}/decision`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecision {
    pub decision: Verdict,
    /// The provider's conditions or reasons, in writing; at most 4,000 characters.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub note: String,
    /// The derivative that answers an approved `sanitised-version` request (and only that).
    pub derivative_id: Option<String>,
}

/// A person who made a request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Requester {
    pub sub: String,
    pub name: String,
    pub organisation: String,
    pub country: String,
}

/// A request as the two organisations it concerns see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: String,
    pub kind: RequestKind,
    pub status: RequestStatus,
    pub document_id: String,
    /// The document's title, while the caller may see the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_title: Option<String>,
    pub justification: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    pub requester: Requester,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The `sub` of the provider's member who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_note: Option<String>,
    /// The derivative that answers an approved `sanitised-version` request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derivative_id: Option<String>,
}

impl RequestView {
    pub(super) fn of(row: handling_request::Model, document_title: Option<String>) -> Self {
        let recipient = match (row.recipient_organisation, row.recipient_country) {
            (Some(organisation), Some(country)) => Some(Recipient { organisation, country }),
            _ => None,
        };
        Self {
            kind: row.kind.parse().unwrap_or(RequestKind::SanitisedVersion),
            status: RequestStatus::parse(&row.status),
            id: row.id,
            document_id: row.document_id,
            document_title,
            justification: row.justification,
            case_reference: row.case_reference,
            recipient,
            requester: Requester {
                sub: row.requester_sub,
                name: row.requester_name,
                organisation: row.requester_organisation,
                country: row.requester_country,
            },
            created_at: row.created_at,
            decided_at: row.decided_at,
            decided_by: row.decided_by,
            decision_note: row.decision_note,
            derivative_id: row.derivative_id,
        }
    }
}

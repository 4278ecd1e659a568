//! `decide`: the only function that says whether a principal may see or change a document.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::markings::{Markings, Tlp};
use super::principal::organisation_key;
use super::{Capability, Principal};

/// Life cycle of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Published,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Draft, Status::Published, Status::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Published => "published",
            Status::Withdrawn => "withdrawn",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| format!("unknown status `{s}`"))
    }
}

/// Everything about a document that access depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentMarkings {
    pub markings: Markings,
    pub originator_org: String,
    pub originator_country: String,
    pub status: Status,
}

impl DocumentMarkings {
    /// The originating organisation (see [`organisation_key`]).
    pub fn organisation_key(&self) -> String {
        organisation_key(&self.originator_country, &self.originator_org)
    }

    /// Whether `principal` belongs to the originating organisation: same name, same country.
    pub fn is_originator(&self, principal: &Principal) -> bool {
        principal.organisation == self.originator_org && principal.country == self.originator_country
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Metadata, content, versions, search hits, facet counts, snippets.
    See,
    /// New version, markings/metadata change, publish, withdraw.
    Change,
}

/// Why access is refused (for the audit trail and logs; never shown for hidden documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoReadCapability,
    ClearanceTooLow,
    NotPublished,
    NotReleasableToCountry,
    NotARecipient,
    NoWriteCapability,
    NotOriginatorOrganisation,
    /// A handling-code request is decided by the provider, never by whoever made it.
    OwnRequest,
    /// The provider's own organisation asks nobody for permission on its documents.
    OwnDocument,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The principal may not see the document: answer exactly as if it did not exist.
    Hidden(Reason),
    /// The principal may see the document but not do this to it.
    Forbidden(Reason),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// docs/architecture.md, "Where access is decided": U may see D iff U has `document:read`, clearance(U) ≥
/// classification(D), and either U belongs to the originator organisation (same name and
/// country), or D is published,
/// released to U's country (or ALL) and, when TLP:RED, addressed to U. U may change D iff U may
/// see D, has `document:write` and belongs to the originator organisation.
pub fn decide(principal: &Principal, document: &DocumentMarkings, action: Action) -> Decision {
    if let Some(reason) = hidden_because(principal, document) {
        return Decision::Hidden(reason);
    }
    match action {
        Action::See => Decision::Allow,
        Action::Change if !principal.has(Capability::DocumentWrite) => Decision::Forbidden(Reason::NoWriteCapability),
        Action::Change if !document.is_originator(principal) => Decision::Forbidden(Reason::NotOriginatorOrganisation),
        Action::Change => Decision::Allow,
    }
}

fn hidden_because(principal: &Principal, document: &DocumentMarkings) -> Option<Reason> {
    let markings = &document.markings;
    if !principal.has(Capability::DocumentRead) {
        return Some(Reason::NoReadCapability);
    }
    if principal.clearance < *markings.classification() {
        return Some(Reason::ClearanceTooLow);
    }
    if document.is_originator(principal) {
        return None;
    }
    if document.status != Status::Published {
        return Some(Reason::NotPublished);
    }
    if !markings.releasable_to().includes(&principal.country) {
        return Some(Reason::NotReleasableToCountry);
    }
    if markings.tlp() == Tlp::Red && !markings.recipients().contains(&principal.sub) {
        return Some(Reason::NotARecipient);
    }
    None
}

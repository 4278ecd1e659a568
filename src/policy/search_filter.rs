//! `search_filter`: the policy of `decide` restated as clauses a search index evaluates on the
//! marking fields it stores, so that totals and facets only ever count visible documents. The
//! search module compiles it into the engine's query; [`VisibilityFilter::admits`] evaluates it
//! here, so a test can check it against `decide` on every generated pair.

use super::markings::Tlp;
use super::{ALL_COUNTRIES, Capability, DocumentMarkings, Principal, Status};

/// The index value of `red_gate` for documents that are not TLP:RED.
pub const OPEN_GATE: &str = "*";

/// The index value of `red_gate` for a TLP:RED recipient.
pub fn recipient_gate(subject: &str) -> String {
    format!("sub:{subject}")
}

/// Values a document stores in its `red_gate` field: open, or one per recipient.
pub fn red_gates(document: &DocumentMarkings) -> Vec<String> {
    if document.markings.tlp() == Tlp::Red {
        document.markings.recipients().iter().map(|s| recipient_gate(s)).collect()
    } else {
        vec![OPEN_GATE.to_owned()]
    }
}

/// Values a document stores in its `release` field: the countries, or `ALL`.
pub fn release_values(document: &DocumentMarkings) -> Vec<String> {
    document.markings.releasable_to().codes()
}

/// A principal may see a document iff
/// `rank ≤ max_rank ∧ (org = organisation ∨ (status = published ∧ release ∋ {country, ALL} ∧
/// red_gate ∋ {*, sub:subject}))`. Only [`search_filter`] makes one, from a principal: nobody
/// can widen it by hand.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VisibilityFilter {
    max_rank: u8,
    organisation: String,
    country: String,
    subject_gate: String,
}

/// `None`: the principal sees no document at all (no `document:read`).
pub fn search_filter(principal: &Principal) -> Option<VisibilityFilter> {
    principal.has(Capability::DocumentRead).then(|| VisibilityFilter {
        max_rank: principal.clearance.rank(),
        organisation: principal.organisation_key(),
        country: principal.country.clone(),
        subject_gate: recipient_gate(&principal.sub),
    })
}

impl VisibilityFilter {
    /// The highest classification rank visible.
    pub fn max_rank(&self) -> u8 {
        self.max_rank
    }

    /// The organisation (its [`super::organisation_key`]) whose documents are visible in any status.
    pub fn organisation(&self) -> &str {
        &self.organisation
    }

    /// The release value (besides `ALL`) of published documents that are visible.
    pub fn country(&self) -> &str {
        &self.country
    }

    /// The `red_gate` value (besides the open gate) of visible TLP:RED documents.
    pub fn subject_gate(&self) -> &str {
        &self.subject_gate
    }

    /// The status value of documents visible outside their organisation.
    pub fn published(&self) -> &'static str {
        Status::Published.as_str()
    }

    /// Evaluate the clauses on a document's index fields, as the index would.
    pub fn admits(&self, document: &DocumentMarkings) -> bool {
        let release = release_values(document);
        let gates = red_gates(document);
        document.markings.classification().rank() <= self.max_rank
            && (document.organisation_key() == self.organisation
                || (document.status.as_str() == self.published()
                    && release.iter().any(|r| *r == self.country || r == ALL_COUNTRIES)
                    && gates.iter().any(|g| g == OPEN_GATE || *g == self.subject_gate)))
    }
}

//! Access policy: pure, no I/O, and depending on no other module of the platform. Who is asking
//! ([`Principal`]), what a document carries ([`Markings`]) and the decision built on both live
//! here and nowhere else (docs/architecture.md, "Where access is decided"). Services call
//! [`decide`] and [`search_filter`]; handlers never decide access themselves.

mod classification;
mod decision;
mod markings;
mod principal;
mod requests;
mod search_filter;

use std::collections::BTreeSet;

pub use classification::{Ladder, LadderError, Level};
pub use decision::{Action, Decision, DocumentMarkings, Reason, Status, decide};
pub use markings::{ALL_COUNTRIES, HandlingCode, Markings, MarkingsError, MarkingsInput, Releasability, Tlp};
pub use principal::{Capability, Principal, UnknownCapability, organisation_key};
pub use requests::{RequestKind, RequestParties, RequestRefusal, may_decide, may_request, reaches_requester};
pub use search_filter::{OPEN_GATE, VisibilityFilter, recipient_gate, red_gates, release_values, search_filter};

/// The configured vocabulary markings are checked against (built from `[policy]` by
/// `config::PolicySettings::compile`).
#[derive(Clone, Debug)]
pub struct PolicyConfig {
    pub ladder: Ladder,
    /// Country codes documents can be released to (`[policy] countries`).
    pub countries: BTreeSet<String>,
}

#[cfg(test)]
mod tests;

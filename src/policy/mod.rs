//! Access policy: pure, no I/O. Markings types and the decision built on them live here and
//! nowhere else (DESIGN.md, "Markings and access"). Services call [`decide`]; handlers never
//! decide access themselves.

mod classification;
mod decision;
mod markings;
mod search_filter;

use std::collections::BTreeSet;

pub use classification::{Ladder, Level};
pub use decision::{Action, Decision, DocumentMarkings, Reason, Status, decide};
pub use markings::{ALL_COUNTRIES, HandlingCode, Markings, MarkingsError, MarkingsInput, Releasability, Tlp};
pub use search_filter::{OPEN_GATE, VisibilityFilter, recipient_gate, red_gates, release_values, search_filter};

use crate::config::PolicySettings;

/// The configured vocabulary markings are checked against.
#[derive(Clone, Debug)]
pub struct PolicyConfig {
    pub ladder: Ladder,
    /// Country codes documents can be released to (`[policy] countries`).
    pub countries: BTreeSet<String>,
}

impl PolicyConfig {
    /// `None` if the settings are inconsistent (configuration validation rules that out).
    pub fn from_settings(settings: &PolicySettings) -> Option<Self> {
        Some(Self {
            ladder: Ladder::new(&settings.levels, &settings.max_classification)?,
            countries: settings.countries.iter().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests;

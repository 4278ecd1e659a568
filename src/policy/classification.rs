//! The classification ladder: an ordered list of levels configured in `[policy] levels`.
//! Documents carry a level (their classification) and principals carry one (their clearance).

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// One rung of the ladder. Ordered by rank only; built only by [`Ladder`], so always valid.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level {
    rank: u8,
    name: Arc<str>,
}

impl Level {
    /// Position on the ladder, 0 = lowest.
    pub fn rank(&self) -> u8 {
        self.rank
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.rank)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// The configured ladder, lowest first, with the platform maximum for uploads.
#[derive(Clone, Debug)]
pub struct Ladder {
    levels: Vec<Level>,
    max_classification: Level,
}

impl Ladder {
    /// `names` lowest first; `max` must be one of them (config validation guarantees it).
    pub fn new(names: &[String], max: &str) -> Option<Self> {
        if names.is_empty() || names.len() > usize::from(u8::MAX) {
            return None;
        }
        let levels: Vec<Level> = names
            .iter()
            .enumerate()
            .map(|(rank, name)| Level { rank: rank as u8, name: Arc::from(name.as_str()) })
            .collect();
        let max_classification = levels.iter().find(|l| l.name() == max)?.clone();
        Some(Self { levels, max_classification })
    }

    /// The level with this exact name.
    pub fn parse(&self, name: &str) -> Option<Level> {
        self.levels.iter().find(|l| l.name() == name).cloned()
    }

    pub fn lowest(&self) -> Level {
        self.levels[0].clone()
    }

    /// Uploads above this level are refused.
    pub fn max_classification(&self) -> &Level {
        &self.max_classification
    }

    pub fn levels(&self) -> &[Level] {
        &self.levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder() -> Ladder {
        let names: Vec<String> = ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"].map(String::from).to_vec();
        Ladder::new(&names, "RESTRICTED").expect("valid ladder")
    }

    #[test]
    fn levels_order_by_their_place_on_the_ladder_not_their_name() {
        let ladder = ladder();
        let sensitive = ladder.parse("SENSITIVE").expect("known");
        let confidential = ladder.parse("CONFIDENTIAL").expect("known");
        assert!(ladder.lowest() < sensitive);
        assert!(sensitive < confidential);
        assert_eq!(ladder.max_classification().name(), "RESTRICTED");
    }

    #[test]
    fn unknown_names_and_case_variants_are_not_levels() {
        let ladder = ladder();
        assert!(ladder.parse("SECRET").is_none());
        assert!(ladder.parse("restricted").is_none());
        assert!(Ladder::new(&["A".into()], "B").is_none());
    }
}

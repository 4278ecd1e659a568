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

/// Most levels a ladder may have.
const MAX_LEVELS: usize = 16;

/// Why a list of names is no ladder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("must list between 1 and {MAX_LEVELS} levels, lowest first")]
    Size,
    #[error("lists the level `{0}` twice")]
    Duplicate(String),
    #[error("`{0}` is not a level name")]
    Blank(String),
    #[error("`{0}` is not one of policy.levels")]
    UnknownMaximum(String),
}

/// The configured ladder, lowest first, with the platform maximum for uploads.
#[derive(Clone, Debug)]
pub struct Ladder {
    levels: Vec<Level>,
    max_classification: Level,
}

impl Ladder {
    /// `names` lowest first, each once; `max` one of them.
    pub fn new(names: &[String], max: &str) -> Result<Self, LadderError> {
        if names.is_empty() || names.len() > MAX_LEVELS {
            return Err(LadderError::Size);
        }
        let mut levels: Vec<Level> = Vec::with_capacity(names.len());
        for (rank, name) in (0u8..).zip(names) {
            if name.trim().is_empty() {
                return Err(LadderError::Blank(name.clone()));
            }
            if levels.iter().any(|l| l.name() == name) {
                return Err(LadderError::Duplicate(name.clone()));
            }
            levels.push(Level { rank, name: Arc::from(name.as_str()) });
        }
        let max_classification = levels
            .iter()
            .find(|l| l.name() == max)
            .cloned()
            .ok_or_else(|| LadderError::UnknownMaximum(max.to_owned()))?;
        Ok(Self { levels, max_classification })
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
        assert_eq!(Ladder::new(&["A".into()], "B").err(), Some(LadderError::UnknownMaximum("B".into())));
        assert_eq!(Ladder::new(&["A".into(), "A".into()], "A").err(), Some(LadderError::Duplicate("A".into())));
        assert_eq!(Ladder::new(&[], "A").err(), Some(LadderError::Size));
    }
}

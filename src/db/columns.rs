//! Column types that are not plain SQL scalars.

use std::convert::Infallible;

use sea_orm::DeriveValueType;

/// A list of strings stored as a JSON array in a text column (tags, releasability, TLP:RED
/// recipients, roles). A stored value that is not such an array is kept as [`StringList::Corrupt`]
/// — never read as an empty list, which could change who may see a document — so that the row it
/// belongs to fails closed where it is read (see `db::documents::read`), loudly.
#[derive(Clone, Debug, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String", from_str = "StringList::decode", to_str = "StringList::encode", column_type = "Text")]
pub enum StringList {
    Items(Vec<String>),
    /// What the column held instead, as it was.
    Corrupt(String),
}

impl StringList {
    fn decode(stored: &str) -> Result<Self, Infallible> {
        Ok(serde_json::from_str(stored).map_or_else(|_| Self::Corrupt(stored.to_owned()), Self::Items))
    }

    fn encode(&self) -> String {
        match self {
            // A list of strings always serialises.
            Self::Items(items) => serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned()),
            Self::Corrupt(stored) => stored.clone(),
        }
    }

    /// The items, or `None` when the stored value was not a list of strings.
    pub fn items(&self) -> Option<&[String]> {
        match self {
            Self::Items(items) => Some(items),
            Self::Corrupt(_) => None,
        }
    }
}

impl From<Vec<String>> for StringList {
    fn from(items: Vec<String>) -> Self {
        Self::Items(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_anything_else_is_kept_as_corrupt() {
        let list = StringList::from(vec!["RS".to_owned(), "Ђ \"q\"".to_owned()]);
        assert_eq!(StringList::decode(&list.encode()), Ok(list));
        for corrupt in ["", "[", "{}", "[1]", "null", "\"RS\""] {
            let decoded = StringList::decode(corrupt).unwrap_or_else(|never| match never {});
            assert_eq!(decoded, StringList::Corrupt(corrupt.to_owned()), "{corrupt:?}");
            assert_eq!(decoded.items(), None);
            assert_eq!(decoded.encode(), corrupt, "written back as it was");
        }
    }
}

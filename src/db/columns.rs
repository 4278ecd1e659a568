//! Column types that are not plain SQL scalars.

use sea_orm::DeriveValueType;

/// A list of strings stored as a JSON array in a text column (tags, releasability, TLP:RED
/// recipients, roles). A stored value that is not such an array fails the query that reads it —
/// loudly, and without serving anything — instead of reading as an empty list.
#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String", from_str = "StringList::decode", to_str = "StringList::encode", column_type = "Text")]
pub struct StringList(pub Vec<String>);

impl StringList {
    fn decode(stored: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(stored).map(Self)
    }

    fn encode(&self) -> String {
        // A list of strings always serialises.
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".to_owned())
    }
}

impl From<Vec<String>> for StringList {
    fn from(items: Vec<String>) -> Self {
        Self(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_anything_else_is_an_error() {
        let list = StringList(vec!["RS".into(), "Ђ \"q\"".into()]);
        assert_eq!(StringList::decode(&list.encode()).expect("round trip"), list);
        for corrupt in ["", "[", "{}", "[1]", "null", "\"RS\""] {
            assert!(StringList::decode(corrupt).is_err(), "{corrupt:?}");
        }
    }
}

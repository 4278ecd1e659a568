//! Document ids, parsed once where a request names one. A document's id is a UUID in its
//! canonical form (lower-case, hyphenated); anything else — padded, upper-case, braced, NUL,
//! oversized — names no document, and answers exactly like a document that does not exist.

use std::fmt;

use uuid::Uuid;

/// Longest malformed id kept for the audit trail (which keeps at most 64 characters).
const MAX_KEPT_CHARS: usize = 64;

/// The id of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId(Uuid);

impl DocumentId {
    /// A fresh id for a new document.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// An id derived from 16 bytes (a hash): a version-8 ("custom") UUID, so that it is never
    /// mistaken for a random one.
    pub fn derived(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// The id `text` spells, if it spells one in canonical form.
    pub fn parse(text: &str) -> Option<Self> {
        let uuid = Uuid::try_parse(text).ok()?;
        (uuid.hyphenated().to_string() == text).then_some(Self(uuid))
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A document as a request named it: by a well-formed id, or by something that cannot be one.
/// The second kind still reaches the service, so that the refusal is audited like any other
/// request for a document that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestedId {
    Id(DocumentId),
    /// Not an id; kept (bounded) only to record the attempt.
    Malformed(String),
}

impl RequestedId {
    pub fn parse(text: &str) -> Self {
        match DocumentId::parse(text) {
            Some(id) => Self::Id(id),
            None => Self::Malformed(text.chars().take(MAX_KEPT_CHARS).collect()),
        }
    }

    /// What the audit trail records as the target.
    pub fn as_target(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Malformed(text) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_form_is_an_id() {
        let id = DocumentId::generate();
        let text = id.to_string();
        assert_eq!(DocumentId::parse(&text), Some(id));
        for odd in [
            format!(" {text}"),
            format!("{text} "),
            text.to_uppercase(),
            format!("{{{text}}}"),
            format!("urn:uuid:{text}"),
            text.replace('-', ""),
            format!("{text}\0"),
            "a".repeat(300),
            String::new(),
        ] {
            assert_eq!(DocumentId::parse(&odd), None, "{odd:?}");
            assert!(matches!(RequestedId::parse(&odd), RequestedId::Malformed(_)));
        }
        let RequestedId::Malformed(kept) = RequestedId::parse(&"b".repeat(300)) else { panic!("malformed") };
        assert_eq!(kept, "b".repeat(MAX_KEPT_CHARS), "bounded");
    }
}

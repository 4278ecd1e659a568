//! The demo's sample corpus: fictional strategic analyses in every language of the network,
//! described in `corpus.toml` (compiled into the binary, so the demo needs no files beside it)
//! with their uploader, file format, markings and status.

use serde::Deserialize;

use crate::documents::NewDocument;
use crate::policy::{DocumentMarkings, PolicyConfig, Principal, Status as DocumentStatus};

const CORPUS: &str = include_str!("corpus.toml");

/// The file a document is uploaded as, made from its text (by `files.rs`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Txt,
    Md,
    Html,
    Docx,
    Odt,
    /// A PDF with a text layer (drawn in a standard PDF font: Latin-1 text only).
    Pdf,
    /// A poor office scan in a PDF, no text layer: the platform reads it by OCR.
    ScannedPdf,
    Eml,
}

/// What a document is uploaded as once, and afterwards.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Published,
    /// Published, then withdrawn by its organisation.
    Withdrawn,
}

/// One sample document.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Unique and stable: the seeded activity names documents by it.
    pub key: String,
    /// The demo persona who uploads it.
    pub uploader: String,
    pub format: Format,
    pub title: String,
    pub summary: String,
    pub language: String,
    pub classification: String,
    pub tlp: String,
    pub handling_code: String,
    pub handling_note: Option<String>,
    pub releasable_to: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    pub tags: Vec<String>,
    pub status: Status,
    /// Paragraphs separated by blank lines.
    pub text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    document: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
#[error("the demo corpus (src/demo/corpus.toml): {0}")]
pub struct CorpusError(String);

/// Every sample document, in upload order.
pub fn load() -> Result<Vec<Entry>, CorpusError> {
    let file: File = toml::from_str(CORPUS).map_err(|e| CorpusError(e.to_string()))?;
    let mut keys = std::collections::HashSet::new();
    if let Some(twice) = file.document.iter().find(|entry| !keys.insert(entry.key.as_str())) {
        return Err(CorpusError(format!("the key {} is used twice", twice.key)));
    }
    Ok(file.document)
}

impl Entry {
    /// The upload's metadata, as a client would send it (published at once unless a draft).
    pub fn metadata(&self) -> NewDocument {
        NewDocument {
            title: self.title.clone(),
            summary: Some(self.summary.clone()),
            language: Some(self.language.clone()),
            classification: self.classification.clone(),
            tlp: self.tlp.clone(),
            handling_code: self.handling_code.clone(),
            handling_note: self.handling_note.clone(),
            releasable_to: self.releasable_to.clone(),
            recipients: self.recipients.clone(),
            tags: self.tags.clone(),
            publish: self.status != Status::Draft,
        }
    }

    /// The document's markings and status once `uploader` has uploaded it, as the policy decides
    /// on them (`None` when the corpus holds an upload the policy would refuse).
    pub fn document(&self, policy: &PolicyConfig, uploader: &Principal) -> Option<DocumentMarkings> {
        let valid = self.metadata().validate(policy, uploader).ok()?;
        Some(DocumentMarkings {
            markings: valid.markings,
            originator_org: uploader.organisation.clone(),
            originator_country: uploader.country.clone(),
            status: match self.status {
                Status::Draft => DocumentStatus::Draft,
                Status::Published => DocumentStatus::Published,
                Status::Withdrawn => DocumentStatus::Withdrawn,
            },
        })
    }

    pub fn paragraphs(&self) -> impl Iterator<Item = &str> {
        self.text.split("\n\n").map(str::trim).filter(|p| !p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use super::*;
    use crate::auth::ClaimMapper;
    use crate::auth::demo_idp::PERSONAS;
    use crate::config::{Profile, Settings};
    use crate::policy::{Action, Decision, decide};

    fn principals() -> (crate::policy::PolicyConfig, HashMap<&'static str, Principal>) {
        let settings = Settings::load(&Profile::Named("demo".into())).expect("demo settings");
        let policy = settings.policy.compile().expect("policy");
        let mapper = ClaimMapper::new(settings.oidc.claims.clone(), &policy, settings.policy.roles.clone());
        let principals =
            PERSONAS.iter().map(|p| (p.username, mapper.map(&p.identity_claims()).expect("persona maps"))).collect();
        (policy, principals)
    }

    /// Who sees which document once the corpus is loaded: persona → keys.
    fn visibility() -> BTreeMap<&'static str, BTreeSet<String>> {
        let (policy, principals) = principals();
        let corpus = load().expect("corpus");
        let mut seen: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        for entry in &corpus {
            let uploader = &principals[entry.uploader.as_str()];
            let document = entry.document(&policy, uploader).unwrap_or_else(|| panic!("{}: a valid upload", entry.key));
            for (name, principal) in &principals {
                if decide(principal, &document, Action::See) == Decision::Allow {
                    seen.entry(name).or_default().insert(entry.key.clone());
                }
            }
        }
        seen
    }

    #[test]
    fn every_document_is_a_valid_upload_by_its_persona() {
        let (policy, principals) = principals();
        for entry in load().expect("corpus") {
            let uploader = principals.get(entry.uploader.as_str()).unwrap_or_else(|| panic!("{}: uploader", entry.key));
            entry.metadata().validate(&policy, uploader).unwrap_or_else(|e| panic!("{}: {e}", entry.key));
            assert!(entry.paragraphs().count() >= 2, "{}: a few paragraphs", entry.key);
        }
    }

    #[test]
    fn the_corpus_covers_languages_formats_and_markings() {
        let corpus = load().expect("corpus");
        assert!(corpus.len() >= 24, "at least 24 documents");
        let count = |f: &dyn Fn(&Entry) -> bool| corpus.iter().filter(|e| f(e)).count();
        for language in ["sq", "sr-Cyrl", "sr-Latn", "bs", "hr", "cnr", "mk", "en"] {
            assert!(count(&|e| e.language == language) >= 2, "language {language}");
        }
        for format in [Format::Txt, Format::Md, Format::Html, Format::Docx, Format::Odt, Format::Pdf, Format::Eml] {
            assert!(count(&|e| e.format == format) >= 1, "format {format:?}");
        }
        assert_eq!(count(&|e| e.format == Format::ScannedPdf), 1, "one scanned, image-only PDF");
        for level in ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED"] {
            assert!(count(&|e| e.classification == level) >= 2, "classification {level}");
        }
        for tlp in ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"] {
            assert!(count(&|e| e.tlp == tlp) >= 2, "TLP {tlp}");
        }
        for code in ["H0", "H1", "H2", "H3"] {
            assert!(count(&|e| e.handling_code == code) >= 2, "handling code {code}");
        }
        assert!(count(&|e| e.status == Status::Draft) >= 1, "a draft");
        assert_eq!(count(&|e| e.status == Status::Withdrawn), 1, "one withdrawn");
        assert!(count(&|e| e.releasable_to == ["ALL"]) >= 2, "released to ALL");
        assert!(count(&|e| e.releasable_to.len() == 1 && e.releasable_to != ["ALL"]) >= 2, "to two countries");
        for persona in PERSONAS.iter().filter(|p| p.roles.contains(&"analyst") || p.roles.contains(&"advisor")) {
            assert!(count(&|e| e.uploader == persona.username) >= 2, "{} uploads", persona.username);
        }
    }

    #[test]
    fn each_persona_sees_a_different_set() {
        let seen = visibility();
        let readers =
            ["analyst-al", "analyst-ba", "analyst-xk", "analyst-me", "analyst-mk", "analyst-rs", "advisor-europol"];
        for (i, a) in readers.iter().enumerate() {
            assert!(seen.get(a).is_some_and(|set| set.len() >= 5), "{a} sees a good part of the corpus");
            for b in &readers[i + 1..] {
                assert_ne!(seen.get(a), seen.get(b), "{a} and {b} see the same documents");
            }
        }
        for (a, b) in
            [("analyst-al", "analyst-rs"), ("analyst-rs", "advisor-europol"), ("analyst-al", "advisor-europol")]
        {
            assert!(!seen[a].is_subset(&seen[b]), "{a} sees documents {b} does not");
            assert!(!seen[b].is_subset(&seen[a]), "{b} sees documents {a} does not");
        }
        for nobody in ["auditor", "admin"] {
            assert!(!seen.contains_key(nobody), "{nobody} reads no document");
        }
    }
}

//! What the index stores of a document: built from the database row, its policy facts and the
//! extracted text of its current version.

use tantivy::{DateTime, TantivyDocument};

use super::schema::Fields;
use crate::policy::{DocumentMarkings, red_gates, release_values};

/// A document as the index sees it, at one revision.
#[derive(Clone, Debug)]
pub struct IndexEntry {
    pub id: String,
    pub revision: u64,
    /// The version whose text is `body`; 0 while no text is extracted yet.
    pub text_version: u64,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub tags: Vec<String>,
    /// Given by the uploader, else detected; "und" when unknown.
    pub language: String,
    pub facts: DocumentMarkings,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl IndexEntry {
    pub fn to_document(&self, fields: &Fields) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.id, &self.id);
        doc.add_u64(fields.revision, self.revision);
        doc.add_u64(fields.text_version, self.text_version);
        doc.add_text(fields.title, &self.title);
        doc.add_text(fields.summary, &self.summary);
        doc.add_text(fields.body, &self.body);
        for tag in &self.tags {
            doc.add_text(fields.tag, tag);
            doc.add_text(fields.keywords, tag);
        }
        doc.add_text(fields.language, &self.language);
        let markings = &self.facts.markings;
        doc.add_text(fields.classification, markings.classification().name());
        doc.add_u64(fields.class_rank, u64::from(markings.classification().rank()));
        doc.add_text(fields.tlp, markings.tlp().as_str());
        doc.add_text(fields.country, &self.facts.originator_country);
        doc.add_text(fields.org, self.facts.organisation_key());
        doc.add_text(fields.status, self.facts.status.as_str());
        for value in release_values(&self.facts) {
            doc.add_text(fields.release, value);
        }
        for gate in red_gates(&self.facts) {
            doc.add_text(fields.red_gate, gate);
        }
        if let Some(at) = self.published_at {
            doc.add_date(fields.published_at, DateTime::from_timestamp_micros(at.timestamp_micros()));
        }
        doc
    }
}

//! The search index schema: one tantivy document per platform document (its current version),
//! with analysed text fields for the query, raw marking fields for the policy filter and the
//! user's filters, and fast fields for facets and sorting.

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};

use super::analyzer::ANALYZER;

#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub id: Field,
    pub revision: Field,
    /// The version whose text is in `body` (0: none yet).
    pub text_version: Field,
    pub title: Field,
    pub summary: Field,
    pub body: Field,
    pub keywords: Field,
    pub tag: Field,
    pub language: Field,
    pub classification: Field,
    pub class_rank: Field,
    pub tlp: Field,
    pub country: Field,
    pub org: Field,
    pub status: Field,
    pub release: Field,
    pub red_gate: Field,
    pub published_at: Field,
}

/// Fields the user's words are looked for in (boosts in `query`).
pub const TEXT_FIELDS: [&str; 4] = ["title", "summary", "body", "keywords"];

pub fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analysed = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED | FAST),
        revision: builder.add_u64_field("revision", STORED | FAST),
        text_version: builder.add_u64_field("text_version", STORED | FAST),
        title: builder.add_text_field("title", analysed(true)),
        summary: builder.add_text_field("summary", analysed(true)),
        body: builder.add_text_field("body", analysed(true)),
        keywords: builder.add_text_field("keywords", analysed(false)),
        tag: builder.add_text_field("tag", STRING | STORED | FAST),
        language: builder.add_text_field("language", STRING | STORED | FAST),
        classification: builder.add_text_field("classification", STRING | STORED | FAST),
        class_rank: builder.add_u64_field("class_rank", INDEXED | FAST),
        tlp: builder.add_text_field("tlp", STRING | STORED | FAST),
        country: builder.add_text_field("country", STRING | STORED | FAST),
        org: builder.add_text_field("org", STRING),
        status: builder.add_text_field("status", STRING),
        release: builder.add_text_field("release", STRING),
        red_gate: builder.add_text_field("red_gate", STRING),
        published_at: builder.add_date_field(
            "published_at",
            DateOptions::from(INDEXED | STORED | FAST).set_precision(DateTimePrecision::Microseconds),
        ),
    };
    (builder.build(), fields)
}

//! `document_versions`: every uploaded version of a document; never changed after insert, but
//! for its text once extracted, and the object's key and `sealed` columns, switched together
//! when an object stored before encryption was enabled is encrypted (`keys::encrypt_existing`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "document_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub document_id: String,
    pub version: i32,
    pub object_key: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub media_type: String,
    pub filename: String,
    pub created_by: String,
    pub created_at: ChronoDateTimeUtc,
    /// Object key of the extracted text (`documents/{uuid}/v{n}.txt`, `v{n}.{attempt}.txt` when the
    /// ingest pipeline encrypts it, or the version's own key when the file is its own text), once
    /// extracted.
    pub text_key: Option<String>,
    pub text_bytes: Option<i64>,
    /// `pending`, `indexed` or `failed`.
    pub ingest_state: String,
    pub ingest_error: Option<String>,
    /// Not an error: e.g. which OCR language pack stood in for a missing one.
    pub ingest_note: Option<String>,
    pub detected_language: Option<String>,
    /// How the object is encrypted (`WrappedKey::to_column`); none: stored as received.
    #[sea_orm(column_type = "Text")]
    pub sealed: Option<String>,
    /// The same for the extracted text's object.
    #[sea_orm(column_type = "Text")]
    pub text_sealed: Option<String>,
}

/// The foreign key lives in the migration; nothing here navigates between the tables.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

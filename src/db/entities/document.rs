//! `documents`: one row per document, with its current markings.

use sea_orm::entity::prelude::*;

use crate::db::columns::StringList;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    pub language: Option<String>,
    pub tags: StringList,
    pub classification: String,
    pub tlp: String,
    pub handling_code: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub handling_note: Option<String>,
    /// `["ALL"]` or country codes.
    pub releasable_to: StringList,
    /// OIDC subjects (TLP:RED only).
    pub recipients: StringList,
    pub originator_org: String,
    pub originator_country: String,
    pub originator_sub: String,
    pub status: String,
    pub current_version: i32,
    /// Object-key slots handed out to uploads (internal; see documents::service).
    pub upload_slots: i32,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub published_at: Option<ChronoDateTimeUtc>,
    /// Incremented by every change (the ETag).
    pub revision: i32,
    /// The feed number of the latest change the search index must follow (see `db::feed`).
    pub change_seq: i64,
    /// When that change was made, by the database's clock, in milliseconds since 1970.
    pub changed_at_ms: i64,
    /// The document this one was derived from (a sanitised version of it), if any.
    pub derived_from: Option<String>,
}

/// The foreign key lives in the migration; nothing here navigates between the tables.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

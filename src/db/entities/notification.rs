//! `notifications`: something a principal should look at — a document a saved search found, a
//! request to their organisation, a decision on their organisation's request. What it points to
//! is decided again when it is read.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_sub: String,
    pub owner_organisation: String,
    pub owner_country: String,
    /// `saved-search`, `request` or `decision`.
    pub kind: String,
    pub created_at: ChronoDateTimeUtc,
    pub read_at: Option<ChronoDateTimeUtc>,
    pub saved_search_id: Option<String>,
    pub document_id: Option<String>,
    pub request_id: Option<String>,
    /// When an e-mail digest counted it.
    pub emailed_at: Option<ChronoDateTimeUtc>,
}

/// The foreign key lives in the migration; nothing here navigates between the tables.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

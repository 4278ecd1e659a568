//! `saved_searches`: a principal's named search (words and filters), with or without an alert.

use sea_orm::entity::prelude::*;

use crate::db::columns::StringList;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_searches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owner is a principal: subject, organisation and country together.
    pub owner_sub: String,
    pub owner_organisation: String,
    pub owner_country: String,
    /// The owner's clearance and capabilities when they last used their saved searches: what
    /// their alerts are decided with until they are back.
    pub owner_clearance: String,
    pub owner_capabilities: StringList,
    /// Where e-mail digests go (the owner's `email` claim), if anywhere.
    pub owner_email: Option<String>,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub q: String,
    /// The filters as JSON (`notify::SearchFilters`).
    #[sea_orm(column_type = "Text")]
    pub filters: String,
    pub alert: bool,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `users`: principals seen at sign-in.

use sea_orm::entity::prelude::*;

use crate::db::columns::StringList;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sub: String,
    pub name: String,
    pub organisation: String,
    pub country: String,
    pub clearance: String,
    pub roles: StringList,
    pub first_seen_at: ChronoDateTimeUtc,
    pub last_seen_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

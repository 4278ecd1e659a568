//! `plaintext_leftovers`: plaintext objects that `anaspoc keys encrypt-existing` has switched a
//! version away from (to their encrypted copy) but not deleted yet — recorded in the same
//! transaction as the switch, removed once the object is gone, so no plaintext is forgotten in
//! the store when a run is interrupted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plaintext_leftovers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_key: String,
    pub recorded_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

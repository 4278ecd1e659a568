//! `audit_checkpoints`: chain heads signed with the server's Ed25519 key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub hash: String,
    pub at: String,
    pub key_id: String,
    /// Base64 of the raw Ed25519 public key.
    #[sea_orm(column_type = "Text")]
    pub public_key: String,
    /// Base64 Ed25519 signature over the checkpoint statement.
    #[sea_orm(column_type = "Text")]
    pub signature: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

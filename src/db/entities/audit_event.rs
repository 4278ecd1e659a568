//! `audit_events`: the hash-chained audit trail. Append-only (triggers refuse UPDATE/DELETE).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub id: String,
    /// RFC 3339 UTC, exactly as hashed.
    pub at: String,
    /// Copies of event fields for filtering; verification checks they match `event`.
    pub actor_sub: Option<String>,
    pub action: String,
    pub outcome: String,
    pub document_id: Option<String>,
    /// JCS of the event without `hash` — the bytes the hash covers.
    #[sea_orm(column_type = "Text")]
    pub event: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

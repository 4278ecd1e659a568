//! `web_logins`: sign-ins on their way through the identity provider (state → PKCE verifier,
//! nonce, where to return); each is used once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "web_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    #[sea_orm(column_type = "Text")]
    pub return_to: String,
    pub created_at: ChronoDateTimeUtc,
    /// SHA-256 of the sign-in cookie given to the browser that started it.
    pub browser_hash: String,
    /// The client address that started it (sign-ins in progress are capped per address).
    pub client_ip: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

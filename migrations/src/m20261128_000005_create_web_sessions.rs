//! Browser sessions and pending sign-ins of the web interface. The cookie holds only a random
//! session id; the database keeps its SHA-256, the principal and the CSRF token.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    IdHash,
    Principal,
    Csrf,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebLogins {
    Table,
    State,
    PkceVerifier,
    Nonce,
    ReturnTo,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebSessions::Table)
                    .if_not_exists()
                    .col(string_len(WebSessions::IdHash, 64).primary_key())
                    .col(text(WebSessions::Principal))
                    .col(string_len(WebSessions::Csrf, 64))
                    .col(timestamp_with_time_zone(WebSessions::ExpiresAt))
                    .col(timestamp_with_time_zone(WebSessions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebLogins::Table)
                    .if_not_exists()
                    .col(string_len(WebLogins::State, 128).primary_key())
                    .col(string_len(WebLogins::PkceVerifier, 128))
                    .col(string_len(WebLogins::Nonce, 128))
                    .col(text(WebLogins::ReturnTo))
                    .col(timestamp_with_time_zone(WebLogins::CreatedAt))
                    .to_owned(),
            )
            .await
    }
}

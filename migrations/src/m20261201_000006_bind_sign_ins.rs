//! Sign-ins bound to the browser that started them (the SHA-256 of a cookie's value) and
//! counted per client address; indexes for purging expired sessions and sign-ins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebLogins {
    Table,
    BrowserHash,
    ClientIp,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time. Sign-ins pending from
        // before get an empty hash, which no browser matches.
        manager
            .alter_table(
                Table::alter()
                    .table(WebLogins::Table)
                    .add_column(string_len(WebLogins::BrowserHash, 64).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebLogins::Table)
                    .add_column(string_len(WebLogins::ClientIp, 64).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_web_logins_client")
                    .table(WebLogins::Table)
                    .col(WebLogins::ClientIp)
                    .col(WebLogins::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_web_sessions_expires")
                    .table(WebSessions::Table)
                    .col(WebSessions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}

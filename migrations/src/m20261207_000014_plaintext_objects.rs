//! Encrypting objects stored before encryption was enabled (issue 21, `anaspoc keys
//! encrypt-existing`): the plaintext objects an interrupted run switched away from but had not
//! deleted yet (written in the same transaction as the switch, so the next run finishes the
//! deletion), and partial indexes so that counting what is left stays cheap however large the
//! table (they hold only the rows still to encrypt).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlaintextLeftovers {
    Table,
    ObjectKey,
    RecordedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlaintextLeftovers::Table)
                    .if_not_exists()
                    .col(string(PlaintextLeftovers::ObjectKey).primary_key())
                    .col(timestamp_with_time_zone(PlaintextLeftovers::RecordedAt))
                    .to_owned(),
            )
            .await?;
        // Partial indexes: the same statement on SQLite and PostgreSQL (sea-query's index
        // builder has no WHERE clause).
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_document_versions_plaintext \
             ON document_versions (id) WHERE sealed IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_document_versions_plaintext_text \
             ON document_versions (id) WHERE text_key IS NOT NULL AND text_sealed IS NULL",
        )
        .await?;
        Ok(())
    }
}

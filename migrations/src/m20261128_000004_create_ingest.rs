//! Ingest: a durable job queue (extract a new version's text, refresh a document in the index
//! after a change), each version's ingest state and extracted text, and a document revision
//! the search index is reconciled against.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IngestJobs {
    Table,
    Id,
    DocumentId,
    Version,
    Kind,
    State,
    Attempts,
    Error,
    ClaimedUntil,
    ClaimedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Revision,
}

#[derive(DeriveIden)]
enum DocumentVersions {
    Table,
    TextKey,
    TextBytes,
    IngestState,
    IngestError,
    DetectedLanguage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IngestJobs::Table)
                    .if_not_exists()
                    .col(pk_auto(IngestJobs::Id))
                    .col(string_len(IngestJobs::DocumentId, 36))
                    .col(integer(IngestJobs::Version))
                    .col(string_len(IngestJobs::Kind, 16))
                    .col(string_len(IngestJobs::State, 16))
                    .col(integer(IngestJobs::Attempts).default(0))
                    .col(text_null(IngestJobs::Error))
                    .col(timestamp_with_time_zone_null(IngestJobs::ClaimedUntil))
                    .col(string_len_null(IngestJobs::ClaimedBy, 36))
                    .col(timestamp_with_time_zone(IngestJobs::CreatedAt))
                    .col(timestamp_with_time_zone(IngestJobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ingest_jobs_state")
                    .table(IngestJobs::Table)
                    .col(IngestJobs::State)
                    .col(IngestJobs::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Documents::Table).add_column(integer(Documents::Revision).default(1)).to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [
            ColumnDef::new(DocumentVersions::TextKey).string().null().to_owned(),
            ColumnDef::new(DocumentVersions::TextBytes).big_integer().null().to_owned(),
            ColumnDef::new(DocumentVersions::IngestState).string_len(16).not_null().default("pending").to_owned(),
            ColumnDef::new(DocumentVersions::IngestError).text().null().to_owned(),
            ColumnDef::new(DocumentVersions::DetectedLanguage).string_len(16).null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(DocumentVersions::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

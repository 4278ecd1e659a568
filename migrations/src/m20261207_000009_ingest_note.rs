//! A note on a version's extraction that is not an error: which OCR language pack stood in for
//! one that is not installed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DocumentVersions {
    Table,
    IngestNote,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DocumentVersions::Table)
                    .add_column(text_null(DocumentVersions::IngestNote))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(DocumentVersions::Table).drop_column(DocumentVersions::IngestNote).to_owned(),
            )
            .await
    }
}

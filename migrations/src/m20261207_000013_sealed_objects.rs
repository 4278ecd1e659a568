//! Encryption at rest (issue 21): how a version's stored object, and its extracted text, are
//! sealed — the data key wrapped under the organisation's KEK (JSON: organisation, KEK version,
//! wrapped key). Empty: stored as received (before encryption was enabled, or not yet migrated).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DocumentVersions {
    Table,
    Sealed,
    TextSealed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [DocumentVersions::Sealed, DocumentVersions::TextSealed] {
            manager
                .alter_table(Table::alter().table(DocumentVersions::Table).add_column(text_null(column)).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Documents with their markings, and their versions (the bytes live in the object store).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    Title,
    Summary,
    Language,
    Tags,
    Classification,
    Tlp,
    HandlingCode,
    HandlingNote,
    ReleasableTo,
    Recipients,
    OriginatorOrg,
    OriginatorCountry,
    OriginatorSub,
    Status,
    CurrentVersion,
    UploadSlots,
    CreatedAt,
    UpdatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum DocumentVersions {
    Table,
    Id,
    DocumentId,
    Version,
    ObjectKey,
    Sha256,
    SizeBytes,
    MediaType,
    Filename,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .if_not_exists()
                    .col(string_len(Documents::Id, 36).primary_key())
                    .col(text(Documents::Title))
                    .col(text_null(Documents::Summary))
                    .col(string_len_null(Documents::Language, 16))
                    .col(text(Documents::Tags))
                    .col(string_len(Documents::Classification, 64))
                    .col(string_len(Documents::Tlp, 16))
                    .col(string_len(Documents::HandlingCode, 4))
                    .col(text_null(Documents::HandlingNote))
                    .col(text(Documents::ReleasableTo))
                    .col(text(Documents::Recipients))
                    .col(string(Documents::OriginatorOrg))
                    .col(string_len(Documents::OriginatorCountry, 8))
                    .col(string(Documents::OriginatorSub))
                    .col(string_len(Documents::Status, 16))
                    .col(integer(Documents::CurrentVersion))
                    .col(integer(Documents::UploadSlots))
                    .col(timestamp_with_time_zone(Documents::CreatedAt))
                    .col(timestamp_with_time_zone(Documents::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Documents::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentVersions::Table)
                    .if_not_exists()
                    .col(pk_auto(DocumentVersions::Id))
                    .col(string_len(DocumentVersions::DocumentId, 36))
                    .col(integer(DocumentVersions::Version))
                    .col(string(DocumentVersions::ObjectKey))
                    .col(string_len(DocumentVersions::Sha256, 64))
                    .col(big_integer(DocumentVersions::SizeBytes))
                    .col(string(DocumentVersions::MediaType))
                    .col(string(DocumentVersions::Filename))
                    .col(string(DocumentVersions::CreatedBy))
                    .col(timestamp_with_time_zone(DocumentVersions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_document_versions_document")
                            .from(DocumentVersions::Table, DocumentVersions::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_document_versions_document_version")
                    .table(DocumentVersions::Table)
                    .col(DocumentVersions::DocumentId)
                    .col(DocumentVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_originator_org")
                    .table(Documents::Table)
                    .col(Documents::OriginatorOrg)
                    .to_owned(),
            )
            .await
    }
}

//! Handling-code requests (a reader asks a document's provider for permission to use it in
//! judicial proceedings, to pass it on, or for a sanitised version) with the provider's
//! decision, and the source of a derivative document (`documents.derived_from`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HandlingRequests {
    Table,
    Id,
    DocumentId,
    Kind,
    Status,
    Justification,
    CaseReference,
    RecipientOrganisation,
    RecipientCountry,
    RequesterSub,
    RequesterName,
    RequesterOrganisation,
    RequesterCountry,
    RequesterKey,
    ProviderKey,
    CreatedAt,
    DecidedAt,
    DecidedBy,
    DecisionNote,
    DerivativeId,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    DerivedFrom,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HandlingRequests::Table)
                    .if_not_exists()
                    .col(string_len(HandlingRequests::Id, 36).primary_key())
                    .col(string_len(HandlingRequests::DocumentId, 36))
                    .col(string_len(HandlingRequests::Kind, 24))
                    .col(string_len(HandlingRequests::Status, 16))
                    .col(text(HandlingRequests::Justification))
                    .col(string_null(HandlingRequests::CaseReference))
                    .col(string_null(HandlingRequests::RecipientOrganisation))
                    .col(string_len_null(HandlingRequests::RecipientCountry, 8))
                    .col(string(HandlingRequests::RequesterSub))
                    .col(string(HandlingRequests::RequesterName))
                    .col(string(HandlingRequests::RequesterOrganisation))
                    .col(string_len(HandlingRequests::RequesterCountry, 8))
                    // Organisation keys (country + name) of the two parties: each lists its box.
                    .col(string(HandlingRequests::RequesterKey))
                    .col(string(HandlingRequests::ProviderKey))
                    .col(timestamp_with_time_zone(HandlingRequests::CreatedAt))
                    .col(timestamp_with_time_zone_null(HandlingRequests::DecidedAt))
                    .col(string_null(HandlingRequests::DecidedBy))
                    .col(text_null(HandlingRequests::DecisionNote))
                    .col(string_len_null(HandlingRequests::DerivativeId, 36))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_handling_requests_document")
                            .from(HandlingRequests::Table, HandlingRequests::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, party) in [
            ("idx_handling_requests_provider", HandlingRequests::ProviderKey),
            ("idx_handling_requests_requester", HandlingRequests::RequesterKey),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(HandlingRequests::Table)
                        .col(party)
                        .col(HandlingRequests::Status)
                        .col(HandlingRequests::CreatedAt)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_handling_requests_document")
                    .table(HandlingRequests::Table)
                    .col(HandlingRequests::DocumentId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(string_len_null(Documents::DerivedFrom, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_derived_from")
                    .table(Documents::Table)
                    .col(Documents::DerivedFrom)
                    .to_owned(),
            )
            .await
    }
}

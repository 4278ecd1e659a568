//! Saved searches, their alerts and the notifications a principal receives (issue 17), and the
//! change-feed position up to which alerts have been evaluated (one for the whole cluster).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SavedSearches {
    Table,
    Id,
    OwnerSub,
    OwnerOrganisation,
    OwnerCountry,
    /// The owner's clearance and capabilities when they last touched their saved searches: what
    /// alerts are decided with until they are back (their reads are decided with their token).
    OwnerClearance,
    OwnerCapabilities,
    /// Where e-mail digests go (the `email` claim), if anywhere.
    OwnerEmail,
    Name,
    Q,
    Filters,
    Alert,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    OwnerSub,
    OwnerOrganisation,
    OwnerCountry,
    Kind,
    CreatedAt,
    ReadAt,
    SavedSearchId,
    DocumentId,
    RequestId,
    EmailedAt,
}

#[derive(DeriveIden)]
enum AlertPosition {
    Table,
    Id,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SavedSearches::Table)
                    .if_not_exists()
                    .col(string_len(SavedSearches::Id, 36).primary_key())
                    .col(string(SavedSearches::OwnerSub))
                    .col(string(SavedSearches::OwnerOrganisation))
                    .col(string_len(SavedSearches::OwnerCountry, 8))
                    .col(string(SavedSearches::OwnerClearance))
                    .col(text(SavedSearches::OwnerCapabilities))
                    .col(string_null(SavedSearches::OwnerEmail))
                    .col(string(SavedSearches::Name))
                    .col(text(SavedSearches::Q))
                    .col(text(SavedSearches::Filters))
                    .col(boolean(SavedSearches::Alert))
                    .col(timestamp_with_time_zone(SavedSearches::CreatedAt))
                    .col(timestamp_with_time_zone(SavedSearches::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_saved_searches_owner")
                    .table(SavedSearches::Table)
                    .col(SavedSearches::OwnerSub)
                    .col(SavedSearches::OwnerOrganisation)
                    .col(SavedSearches::OwnerCountry)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_saved_searches_alert")
                    .table(SavedSearches::Table)
                    .col(SavedSearches::Alert)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(string_len(Notifications::Id, 36).primary_key())
                    .col(string(Notifications::OwnerSub))
                    .col(string(Notifications::OwnerOrganisation))
                    .col(string_len(Notifications::OwnerCountry, 8))
                    .col(string_len(Notifications::Kind, 16))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(string_len_null(Notifications::SavedSearchId, 36))
                    .col(string_len_null(Notifications::DocumentId, 36))
                    .col(string_len_null(Notifications::RequestId, 36))
                    .col(timestamp_with_time_zone_null(Notifications::EmailedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notifications_saved_search")
                            .from(Notifications::Table, Notifications::SavedSearchId)
                            .to(SavedSearches::Table, SavedSearches::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_owner")
                    .table(Notifications::Table)
                    .col(Notifications::OwnerSub)
                    .col(Notifications::OwnerOrganisation)
                    .col(Notifications::OwnerCountry)
                    .col(Notifications::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // A saved search tells its owner of a document once (NULLs are distinct: request and
        // decision notifications are not affected).
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_once")
                    .table(Notifications::Table)
                    .col(Notifications::SavedSearchId)
                    .col(Notifications::DocumentId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertPosition::Table)
                    .if_not_exists()
                    .col(integer(AlertPosition::Id).primary_key())
                    .col(big_integer(AlertPosition::Seq))
                    .to_owned(),
            )
            .await?;
        let start = Query::insert()
            .into_table(AlertPosition::Table)
            .columns([AlertPosition::Id, AlertPosition::Seq])
            .values_panic([1.into(), 0.into()])
            .to_owned();
        manager.exec_stmt(start).await
    }
}

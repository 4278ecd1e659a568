//! Directory of principals seen at sign-in: lets TLP:RED recipients be chosen by name and gives
//! auditors a stable view of who an OIDC subject was.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Sub,
    Name,
    Organisation,
    Country,
    Clearance,
    Roles,
    FirstSeenAt,
    LastSeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(string(Users::Sub).primary_key())
                    .col(string(Users::Name))
                    .col(string(Users::Organisation))
                    .col(string(Users::Country))
                    .col(string(Users::Clearance))
                    .col(text(Users::Roles))
                    .col(timestamp_with_time_zone(Users::FirstSeenAt))
                    .col(timestamp_with_time_zone(Users::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_users_organisation").table(Users::Table).col(Users::Organisation).to_owned(),
            )
            .await
    }
}

//! Rate-limit buckets shared by replicas on PostgreSQL (see `db::rate_limits`): one row per
//! limited key with its theoretical arrival time (GCRA), in microseconds since 1970.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    Tat,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .if_not_exists()
                    .col(string_len(RateLimits::Key, 300).primary_key())
                    .col(big_integer(RateLimits::Tat))
                    .to_owned(),
            )
            .await
    }
}

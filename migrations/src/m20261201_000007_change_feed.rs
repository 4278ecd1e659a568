//! The change feed that every replica's search index follows (DESIGN.md, "Scale-out"): a
//! one-row counter handing out gap-free `change_seq` numbers, and on each document the number of
//! its latest change (the documents table is the compacted log) with the database time of that
//! change in milliseconds. Existing documents get numbers in creation order, so an index built
//! before the feed existed is rebuilt from it. Refresh jobs disappear: followers re-index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChangeFeed {
    Table,
    Id,
    Seq,
    FeedId,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    ChangeSeq,
    ChangedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChangeFeed::Table)
                    .if_not_exists()
                    .col(integer(ChangeFeed::Id).primary_key())
                    .col(big_integer(ChangeFeed::Seq).default(0))
                    // Which feed an index followed: a database restored or replaced under an
                    // index starts numbering anew, and the index must notice.
                    .col(string_len(ChangeFeed::FeedId, 36))
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(Documents::ChangeSeq).big_integer().not_null().default(0).to_owned(),
            ColumnDef::new(Documents::ChangedAtMs).big_integer().not_null().default(0).to_owned(),
        ] {
            manager.alter_table(Table::alter().table(Documents::Table).add_column(column).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_change_seq")
                    .table(Documents::Table)
                    .col(Documents::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        // Window functions and UPDATE … FROM: PostgreSQL, and SQLite since 3.33.
        db.execute_unprepared(
            "UPDATE documents SET change_seq = numbered.n FROM \
             (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM documents) AS numbered \
             WHERE documents.id = numbered.id",
        )
        .await?;
        // A random feed id from the database itself (32 hex digits).
        let random_id = match backend {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => "md5(random()::text || clock_timestamp()::text)",
            _ => "lower(hex(randomblob(16)))",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO change_feed (id, seq, feed_id) SELECT 1, COUNT(*), {random_id} FROM documents"
        ))
        .await?;
        db.execute_unprepared("DELETE FROM ingest_jobs WHERE kind = 'refresh'").await?;
        Ok(())
    }
}

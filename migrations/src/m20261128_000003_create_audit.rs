//! The audit trail: an append-only, hash-chained event table, the chain head (one row, locked
//! by every append so the chain stays linear across connections and replicas), and signed
//! checkpoints. Triggers refuse UPDATE and DELETE on events and checkpoints, on SQLite and
//! PostgreSQL alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Seq,
    Id,
    At,
    ActorSub,
    Action,
    Outcome,
    DocumentId,
    Event,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Seq,
    Hash,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    Seq,
    Hash,
    At,
    KeyId,
    PublicKey,
    Signature,
}

const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(big_integer(AuditEvents::Seq).primary_key())
                    .col(string_len(AuditEvents::Id, 36))
                    .col(string_len(AuditEvents::At, 40))
                    .col(string_null(AuditEvents::ActorSub))
                    .col(string_len(AuditEvents::Action, 32))
                    .col(string_len(AuditEvents::Outcome, 16))
                    .col(string_len_null(AuditEvents::DocumentId, 64))
                    .col(text(AuditEvents::Event))
                    .col(string_len(AuditEvents::PrevHash, 64))
                    .col(string_len(AuditEvents::Hash, 64))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_audit_events_actor", AuditEvents::ActorSub),
            ("idx_audit_events_document", AuditEvents::DocumentId),
            ("idx_audit_events_action", AuditEvents::Action),
            ("idx_audit_events_at", AuditEvents::At),
        ] {
            manager.create_index(Index::create().name(name).table(AuditEvents::Table).col(column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .if_not_exists()
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::Seq))
                    .col(string_len(AuditHead::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::Seq, AuditHead::Hash])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .if_not_exists()
                    .col(big_integer(AuditCheckpoints::Seq).primary_key())
                    .col(string_len(AuditCheckpoints::Hash, 64))
                    .col(string_len(AuditCheckpoints::At, 40))
                    .col(string(AuditCheckpoints::KeyId))
                    .col(text(AuditCheckpoints::PublicKey))
                    .col(text(AuditCheckpoints::Signature))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION anaspoc_audit_append_only() RETURNS trigger AS $$
                     BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END; $$ LANGUAGE plpgsql",
                )
                .await?;
                for table in ["audit_events", "audit_checkpoints"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION anaspoc_audit_append_only()"
                    ))
                    .await?;
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION anaspoc_audit_append_only()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in ["audit_events", "audit_checkpoints"] {
                    for operation in ["UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{op} BEFORE {operation} ON {table} \
                             BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
                            op = operation.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }
}

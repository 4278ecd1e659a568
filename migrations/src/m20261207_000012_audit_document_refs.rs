//! `audit_document_refs`: which events mention a document other than as their target — a search
//! that returned it as a hit, a notification list that showed it, a derivative made from it — so
//! that an auditor's per-document report finds them by index rather than by reading every event
//! (issue 18). An index of the trail, derived from each event's hashed body in the transaction
//! that appends it; append-only like the trail. Existing events are indexed here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditDocumentRefs {
    Table,
    DocumentId,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditDocumentRefs::Table)
                    .if_not_exists()
                    .col(string_len(AuditDocumentRefs::DocumentId, 64))
                    .col(big_integer(AuditDocumentRefs::Seq))
                    .primary_key(Index::create().col(AuditDocumentRefs::DocumentId).col(AuditDocumentRefs::Seq))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // The arrays of document ids events carry in `details` (see `Event::mentioned_documents`).
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for (action, path) in [("search.query", "ids"), ("notification.list", "documents")] {
                    db.execute_unprepared(&format!(
                        "INSERT INTO audit_document_refs (document_id, seq)
                         SELECT DISTINCT mentioned, e.seq FROM audit_events e,
                           jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.event::jsonb -> 'details' -> '{path}') = 'array'
                             THEN e.event::jsonb -> 'details' -> '{path}' ELSE '[]'::jsonb END) AS mentioned
                         WHERE e.action = '{action}' AND length(mentioned) <= 64
                         ON CONFLICT DO NOTHING"
                    ))
                    .await?;
                }
                db.execute_unprepared(
                    "INSERT INTO audit_document_refs (document_id, seq)
                     SELECT e.event::jsonb -> 'details' -> 'derived_from' ->> 'id', e.seq FROM audit_events e
                     WHERE e.action = 'document.create' AND e.event::jsonb -> 'details' -> 'derived_from' ->> 'id' IS NOT NULL
                     ON CONFLICT DO NOTHING",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_document_refs_append_only BEFORE UPDATE OR DELETE ON audit_document_refs \
                     FOR EACH ROW EXECUTE FUNCTION anaspoc_audit_append_only()",
                )
                .await?;
            }
            _ => {
                for (action, path) in [("search.query", "ids"), ("notification.list", "documents")] {
                    db.execute_unprepared(&format!(
                        "INSERT OR IGNORE INTO audit_document_refs (document_id, seq)
                         SELECT DISTINCT j.value, e.seq FROM audit_events e, json_each(e.event, '$.details.{path}') j
                         WHERE e.action = '{action}' AND j.type = 'text' AND length(j.value) <= 64"
                    ))
                    .await?;
                }
                db.execute_unprepared(
                    "INSERT OR IGNORE INTO audit_document_refs (document_id, seq)
                     SELECT json_extract(e.event, '$.details.derived_from.id'), e.seq FROM audit_events e
                     WHERE e.action = 'document.create' AND json_extract(e.event, '$.details.derived_from.id') IS NOT NULL",
                )
                .await?;
                for operation in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER audit_document_refs_no_{op} BEFORE {operation} ON audit_document_refs \
                         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
                        op = operation.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }
}

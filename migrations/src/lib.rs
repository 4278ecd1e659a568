//! Database schema of anaspoc, one migration per change; the same migrations run on SQLite and
//! PostgreSQL. Never edit a released migration: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_users;
mod m20261128_000002_create_documents;
mod m20261128_000003_create_audit;
mod m20261128_000004_create_ingest;
mod m20261128_000005_create_web_sessions;
mod m20261201_000006_bind_sign_ins;
mod m20261201_000007_change_feed;
mod m20261201_000008_rate_limits;
mod m20261207_000009_ingest_note;
mod m20261207_000010_handling_requests;
mod m20261207_000011_saved_searches;
mod m20261207_000012_audit_document_refs;
mod m20261207_000013_sealed_objects;
mod m20261207_000014_plaintext_objects;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_users::Migration),
            Box::new(m20261128_000002_create_documents::Migration),
            Box::new(m20261128_000003_create_audit::Migration),
            Box::new(m20261128_000004_create_ingest::Migration),
            Box::new(m20261128_000005_create_web_sessions::Migration),
            Box::new(m20261201_000006_bind_sign_ins::Migration),
            Box::new(m20261201_000007_change_feed::Migration),
            Box::new(m20261201_000008_rate_limits::Migration),
            Box::new(m20261207_000009_ingest_note::Migration),
            Box::new(m20261207_000010_handling_requests::Migration),
            Box::new(m20261207_000011_saved_searches::Migration),
            Box::new(m20261207_000012_audit_document_refs::Migration),
            Box::new(m20261207_000013_sealed_objects::Migration),
            Box::new(m20261207_000014_plaintext_objects::Migration),
        ]
    }
}

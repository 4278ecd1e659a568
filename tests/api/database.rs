//! The same migrations and repositories on SQLite (always) and PostgreSQL (when
//! `ANASPOC_TEST_DATABASE_URL` is set): each test gets a fresh database.

use std::collections::BTreeSet;

use anaspoc::config::DatabaseSettings;
use anaspoc::policy::Ladder;
use anaspoc::policy::{Capability, Principal};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::helpers::{DATABASE_URL_VAR, peer};

/// A fresh, empty PostgreSQL database on the peer server; dropped by [`PgDatabase::drop_now`].
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> Self {
        let name = format!("anaspoc_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url).await.expect("connect to PostgreSQL");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
        admin.close().await.ok();
        let mut url = reqwest::Url::parse(admin_url).expect("database url");
        url.set_path(&name);
        Self { admin_url: admin_url.to_owned(), name, url: url.to_string() }
    }

    pub async fn drop_now(self) {
        let admin = Database::connect(&self.admin_url).await.expect("connect");
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await.ok();
        admin.close().await.ok();
    }

    /// Drop from a destructor: on a thread of its own, since the test's runtime may be ending.
    pub fn drop_in_background(self) {
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(self.drop_now());
            }
        })
        .join();
    }
}

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: url.to_owned(),
        max_connections: 4,
        auto_migrate: true,
        acquire_timeout_ms: 5000,
        statement_timeout_ms: 30000,
    }
}

fn principal() -> Principal {
    let levels: Vec<String> = ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED"].map(String::from).to_vec();
    let ladder = Ladder::new(&levels, "RESTRICTED").expect("ladder");
    Principal {
        sub: "a1b2".into(),
        name: "Blerta Gashi".into(),
        organisation: "XK-KP".into(),
        country: "XK".into(),
        clearance: ladder.parse("SENSITIVE").expect("level"),
        roles: vec!["analyst".into()],
        capabilities: BTreeSet::from([Capability::DocumentRead]),
        email: None,
    }
}

async fn migrations_and_round_trip(db: &DatabaseConnection) {
    assert!(anaspoc::db::check_ready(db).await.is_err(), "a fresh database has pending migrations");
    anaspoc::db::migrate(db).await.expect("migrate");
    anaspoc::db::check_ready(db).await.expect("ready after migrating");
    anaspoc::db::migrate(db).await.expect("migrating twice is a no-op");

    let mut someone = principal();
    anaspoc::db::users::record_sign_in(db, &someone).await.expect("insert");
    let first = anaspoc::db::users::find(db, "a1b2").await.expect("select").expect("row");
    assert_eq!(first.name, "Blerta Gashi");
    assert_eq!(first.clearance, "SENSITIVE");

    someone.name = "Blerta Gashi-Krasniqi".into();
    anaspoc::db::users::record_sign_in(db, &someone).await.expect("upsert");
    let second = anaspoc::db::users::find(db, "a1b2").await.expect("select").expect("row");
    assert_eq!(second.name, "Blerta Gashi-Krasniqi", "the directory follows the identity provider");
    assert_eq!(second.first_seen_at, first.first_seen_at, "first sign-in is kept");
    assert!(second.last_seen_at >= first.last_seen_at);
    assert!(anaspoc::db::users::find(db, "nobody").await.expect("select").is_none());
}

#[tokio::test]
async fn sqlite_migrations_and_repository_round_trip() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/nested/dir/anaspoc.db?mode=rwc", dir.path().display());
    let db = anaspoc::db::connect(&settings(&url)).await.expect("connect creates the directory");
    migrations_and_round_trip(&db).await;
    let mode = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "PRAGMA journal_mode"))
        .await
        .expect("pragma")
        .expect("row");
    let mode: String = mode.try_get_by_index(0).expect("text");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn postgres_migrations_and_repository_round_trip() {
    let Some(admin_url) = peer(DATABASE_URL_VAR) else {
        return;
    };
    let database = PgDatabase::create(&admin_url).await;
    let db = anaspoc::db::connect(&settings(&database.url)).await.expect("connect");
    migrations_and_round_trip(&db).await;
    db.close().await.ok();
    database.drop_now().await;
}

#[tokio::test]
async fn the_server_runs_on_postgres() {
    let Some(admin_url) = peer(DATABASE_URL_VAR) else {
        return;
    };
    let database = PgDatabase::create(&admin_url).await;
    let url = database.url.clone();
    let app = crate::helpers::TestApp::spawn_with(move |s| s.database.url = url).await;
    let ready: serde_json::Value =
        app.client.get(app.url("/readyz")).send().await.expect("readyz").json().await.expect("json");
    assert_eq!(ready["checks"]["database"], "ok");
    let token = app.token("analyst-al").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    let user = anaspoc::db::users::find(&app.db, "analyst-al").await.expect("select").expect("row");
    assert_eq!(user.organisation, "AL-ASP");
    drop(app);
    database.drop_now().await;
}

/// A database from before the change feed: its documents are numbered into the feed in creation
/// order, the feed's head is their count and has an id — so an index built before is rebuilt
/// from the feed — and refresh jobs are gone.
async fn existing_documents_are_numbered_into_the_feed(db: &DatabaseConnection) {
    use migration::MigratorTrait;
    use sea_orm::ConnectionTrait;
    migration::Migrator::up(db, Some(6)).await.expect("migrations before the feed");
    for (id, created) in
        [("c", "2026-11-29 12:00:00+00:00"), ("a", "2026-11-29 10:00:00+00:00"), ("b", "2026-11-29 11:00:00+00:00")]
    {
        db.execute_unprepared(&format!(
            "INSERT INTO documents (id, title, tags, classification, tlp, handling_code, releasable_to, recipients, \
             originator_org, originator_country, originator_sub, status, current_version, upload_slots, created_at, \
             updated_at, revision) VALUES ('{id}', 'T', '[]', 'SENSITIVE', 'AMBER', 'H1', '[\"RS\"]', '[]', 'RS-MUP', \
             'RS', 'rs-1', 'published', 1, 1, '{created}', '{created}', 1)"
        ))
        .await
        .expect("old document");
    }
    db.execute_unprepared(
        "INSERT INTO ingest_jobs (document_id, version, kind, state, attempts, created_at, updated_at) \
         VALUES ('a', 1, 'refresh', 'pending', 0, '2026-11-29 10:00:00+00:00', '2026-11-29 10:00:00+00:00')",
    )
    .await
    .expect("old refresh job");
    anaspoc::db::migrate(db).await.expect("the feed migration");
    let numbered: Vec<(String, i64)> = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id, change_seq FROM documents ORDER BY change_seq",
        ))
        .await
        .expect("select")
        .iter()
        .map(|row| (row.try_get("", "id").expect("id"), row.try_get("", "change_seq").expect("seq")))
        .collect();
    assert_eq!(numbered, [("a".to_owned(), 1), ("b".to_owned(), 2), ("c".to_owned(), 3)], "creation order");
    let head = anaspoc::db::feed::head(db).await.expect("head");
    assert_eq!(head.seq, 3);
    assert_eq!(head.feed_id.len(), 32, "{head:?}");
    let jobs = db
        .query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT id FROM ingest_jobs"))
        .await
        .expect("jobs");
    assert!(jobs.is_empty(), "refresh jobs are gone");
}

#[tokio::test]
async fn sqlite_documents_from_before_the_feed_are_numbered() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/anaspoc.db?mode=rwc", dir.path().display());
    let db = anaspoc::db::connect(&settings(&url)).await.expect("connect");
    existing_documents_are_numbered_into_the_feed(&db).await;
}

#[tokio::test]
async fn postgres_documents_from_before_the_feed_are_numbered() {
    let Some(admin_url) = peer(DATABASE_URL_VAR) else {
        return;
    };
    let database = PgDatabase::create(&admin_url).await;
    let db = anaspoc::db::connect(&settings(&database.url)).await.expect("connect");
    existing_documents_are_numbered_into_the_feed(&db).await;
    db.close().await.ok();
    database.drop_now().await;
}

/// A follower far behind (a new replica, or a bulk import faster than indexing) reads a full
/// batch of changes with each one's current version — on SQLite too, where a query of one
/// condition per document was refused as "Expression tree is too large" and the index never
/// caught up.
async fn a_full_batch_of_changes_comes_with_current_versions(db: &DatabaseConnection) {
    anaspoc::db::migrate(db).await.expect("migrate");
    let numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)";
    // A literal in a SELECT is text to PostgreSQL, which does not turn text into a timestamp.
    let at = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "TIMESTAMPTZ '2026-11-29 10:00:00+00'",
        _ => "'2026-11-29 10:00:00+00:00'",
    };
    db.execute_unprepared(&format!(
        "{numbers} INSERT INTO documents (id, title, tags, classification, tlp, handling_code, releasable_to, \
         recipients, originator_org, originator_country, originator_sub, status, current_version, upload_slots, \
         created_at, updated_at, revision, change_seq) SELECT 'd' || i, 'T', '[]', 'SENSITIVE', 'AMBER', 'H1', \
         '[\"RS\"]', '[]', 'RS-MUP', 'RS', 'rs-1', 'published', 1 + i % 2, 2, {at}, {at}, 1, i FROM n"
    ))
    .await
    .expect("documents");
    for version in [1, 2] {
        db.execute_unprepared(&format!(
            "{numbers} INSERT INTO document_versions (document_id, version, object_key, sha256, size_bytes, \
             media_type, filename, created_by, created_at, ingest_state) SELECT 'd' || i, {version}, \
             'k' || i || '-{version}', 'x', 1, 'text/plain', 'f.txt', 'rs-1', {at}, 'indexed' FROM n"
        ))
        .await
        .expect("versions");
    }
    let changes = anaspoc::db::feed::changes_after(db, 100, 1000).await.expect("a full batch is read");
    assert_eq!(changes.len(), 1000);
    assert_eq!(changes[0].row.change_seq, 101, "in feed order, after the cursor");
    for change in &changes {
        let current = change.current.as_ref().unwrap_or_else(|| panic!("no version for {}", change.row.id));
        assert_eq!((&current.document_id, current.version), (&change.row.id, change.row.current_version));
    }
}

#[tokio::test]
async fn sqlite_follows_a_full_batch_of_changes() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/anaspoc.db?mode=rwc", dir.path().display());
    let db = anaspoc::db::connect(&settings(&url)).await.expect("connect");
    a_full_batch_of_changes_comes_with_current_versions(&db).await;
}

#[tokio::test]
async fn postgres_follows_a_full_batch_of_changes() {
    let Some(admin_url) = peer(DATABASE_URL_VAR) else {
        return;
    };
    let database = PgDatabase::create(&admin_url).await;
    let db = anaspoc::db::connect(&settings(&database.url)).await.expect("connect");
    a_full_batch_of_changes_comes_with_current_versions(&db).await;
    db.close().await.ok();
    database.drop_now().await;
}

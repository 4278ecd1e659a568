//! Database access: connection (SQLite embedded or PostgreSQL, chosen by URL), migrations,
//! readiness, and the repositories. Entities live in [`entities`]; each repository is a module
//! named after what it stores.

pub mod columns;
pub mod documents;
pub mod entities;
pub mod feed;
pub mod plaintext;
pub mod rate_limits;
pub mod requests;
pub mod saved_searches;
pub mod sessions;
pub mod users;

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::DatabaseSettings;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the database directory {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("migration lock: {0}")]
    MigrationLock(#[from] sea_orm::sqlx::Error),
}

/// The PostgreSQL advisory lock migrations run under ("anaspoc" in ASCII).
const MIGRATION_LOCK: i64 = 0x0061_6e61_7370_6f63;

/// Connect by URL, every wait bounded (`acquire_timeout_ms`, `statement_timeout_ms`). SQLite gets
/// WAL (readers never block the writer), a busy timeout and foreign
/// keys; its directory is created if needed.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbError> {
    if let Some(path) = sqlite_file(&settings.url)
        && let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|source| DbError::Directory { path: dir.display().to_string(), source })?;
    }
    let busy = Duration::from_millis(settings.statement_timeout_ms);
    let statement_timeout = format!("{}ms", settings.statement_timeout_ms);
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .connect_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy)
                .foreign_keys(true)
        })
        .map_sqlx_postgres_opts(move |opts| opts.options([("statement_timeout", statement_timeout.clone())]));
    Ok(Database::connect(options).await?)
}

/// Apply pending migrations — on PostgreSQL under an advisory lock, so that replicas starting
/// together migrate one after the other (the later ones find nothing left to do). The lock is
/// held on a connection of its own and goes with it if this process dies.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    use sea_orm::sqlx::{self, Connection};
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        Migrator::up(db, None).await?;
        return Ok(());
    }
    let options = db.get_postgres_connection_pool().connect_options();
    let mut lock = sqlx::postgres::PgConnection::connect_with(&options).await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut lock).await?;
    let migrated = Migrator::up(db, None).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut lock).await;
    let _ = lock.close().await;
    Ok(migrated?)
}

/// Readiness: the database answers and no migration is pending.
pub async fn check_ready(db: &DatabaseConnection) -> Result<(), String> {
    db.ping().await.map_err(|e| format!("database unreachable: {e}"))?;
    let pending =
        Migrator::get_pending_migrations_read_only(db).await.map_err(|e| format!("migration status unknown: {e}"))?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(format!("{} migration(s) pending; run `anaspoc migrate`", pending.len()))
    }
}

/// Whether `error` means the database is unreachable, overloaded or too slow (so the request
/// should answer 503 and be retried later) rather than that the request or the code is wrong.
pub fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let runtime = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(error) = runtime else { return false };
    match error.as_ref() {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => {
            // PostgreSQL: statement timeout (57014), shutting down or starting (57P01–57P03),
            // connection failures (08xxx); SQLite: busy or locked past busy_timeout (5, 6).
            let code = database.code().unwrap_or_default();
            matches!(code.as_ref(), "57014" | "57P01" | "57P02" | "57P03" | "5" | "6") || code.starts_with("08")
        }
        _ => false,
    }
}

/// The file path of a `sqlite:` URL, if it names a file.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(sqlite_file("sqlite://data/anaspoc.db?mode=rwc"), Some("data/anaspoc.db"));
        assert_eq!(sqlite_file("sqlite:///var/lib/a.db"), Some("/var/lib/a.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/test"), None);
    }

    /// `.cargo/config.toml` builds SQLite with the query planner stability guarantee: without
    /// it every statement with a bound `LIMIT` is planned anew on each execution.
    #[tokio::test]
    async fn sqlite_is_built_with_plans_independent_of_bound_values() {
        use sea_orm::{ConnectionTrait, Statement};
        let settings = crate::config::DatabaseSettings {
            url: "sqlite::memory:".into(),
            max_connections: 1,
            auto_migrate: false,
            acquire_timeout_ms: 5000,
            statement_timeout_ms: 5000,
        };
        let db = super::connect(&settings).await.unwrap();
        let backend = db.get_database_backend();
        let options: Vec<String> = db
            .query_all_raw(Statement::from_string(backend, "PRAGMA compile_options"))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect();
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "compile options: {options:?}");
    }
}

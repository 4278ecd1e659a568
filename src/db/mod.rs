//! Database access: connection (SQLite embedded or PostgreSQL, chosen by URL), migrations,
//! readiness, and the repositories. Entities live in [`entities`]; each repository is a module
//! named after what it stores.

pub mod columns;
pub mod documents;
pub mod entities;
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
}

/// Connect by URL. SQLite gets WAL (readers never block the writer), a busy timeout and foreign
/// keys; its directory is created if needed.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbError> {
    if let Some(path) = sqlite_file(&settings.url)
        && let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|source| DbError::Directory { path: dir.display().to_string(), source })?;
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    Ok(Database::connect(options).await?)
}

/// Apply pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    Migrator::up(db, None).await?;
    Ok(())
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
}

//! `anaspoc keys rotate|rewrap|destroy --organisation COUNTRY:ORGANISATION`: the operator's
//! commands over the keyring of encryption at rest (issue 21). Each is an audit event (actor:
//! none — an operator on the server, named by the command in the request's user agent).
//! Rotation adds a KEK version for new objects; re-wrapping moves the organisation's data keys
//! to the current version without touching the stored bytes (an UPDATE of the `sealed` columns);
//! destruction removes every KEK of the organisation — its documents' content and text can never
//! be read again — and stamps its documents in the change feed so every replica's index drops
//! their text at once. Auditors keep seeing the documents' markings in the trail. Destruction is
//! refused while the organisation has objects stored as plaintext (before encryption was
//! enabled): `anaspoc keys encrypt-existing` ([`encrypt_existing`]) first.

pub mod encrypt_existing;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use serde_json::json;

use crate::audit::{Action, Actor, Log, NewEvent, Outcome};
use crate::caller::RequestInfo;
use crate::config::Settings;
use crate::crypto::keyring::{FileKeyring, Keyring, KeyringError, WrappedKey};
use crate::db::entities::{document, document_version};

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("encryption at rest is not enabled ([crypto] enabled = false)")]
    NotEnabled,
    #[error("crypto.master_key_file is not set: where should the master key be written?")]
    NoMasterKeyFile,
    #[error("`{0}` is not an organisation as COUNTRY:ORGANISATION (e.g. RS:RS-MUP)")]
    Organisation(String),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(
        "{organisation} still has {objects} versions stored as plaintext (from before encryption was enabled), \
         which destroying its keys would leave readable: run `anaspoc keys encrypt-existing` first"
    )]
    PlaintextLeft { organisation: String, objects: u64 },
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// What a command did.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Rotated { version: u32 },
    Rewrapped { keys: usize },
    Destroyed { documents: usize },
}

pub enum KeysCommand {
    Rotate,
    Rewrap,
    Destroy,
}

pub async fn run(settings: &Settings, command: KeysCommand, organisation: &str) -> Result<Done, KeysError> {
    if !settings.crypto.enabled {
        return Err(KeysError::NotEnabled);
    }
    let Some((country, name)) = organisation.split_once(':').filter(|(c, o)| !c.is_empty() && !o.is_empty()) else {
        return Err(KeysError::Organisation(organisation.to_owned()));
    };
    let keyring = FileKeyring::from_config(&settings.crypto)?;
    let db = connect(settings).await?;
    let done = match command {
        KeysCommand::Rotate => Done::Rotated { version: keyring.rotate(organisation)? },
        KeysCommand::Rewrap => Done::Rewrapped { keys: rewrap(&db, &keyring, country, name, organisation).await? },
        KeysCommand::Destroy => return destroy(&db, &keyring, country, name, organisation).await,
    };
    record_done(&db, organisation, &done).await?;
    Ok(done)
}

/// Crypto-shredding: refused while plaintext would survive it; audited as soon as the keys are
/// gone, whatever happens next (a second run after a failure stamps the documents again).
async fn destroy(
    db: &sea_orm::DatabaseConnection,
    keyring: &FileKeyring,
    country: &str,
    name: &str,
    organisation: &str,
) -> Result<Done, KeysError> {
    let objects = plaintext_of(db, country, name).await?;
    if objects > 0 {
        return Err(KeysError::PlaintextLeft { organisation: organisation.to_owned(), objects });
    }
    keyring.destroy(organisation)?;
    // Listed after: a document committed until now was sealed under the keys just destroyed.
    let documents = documents_of(db, country, name).await?;
    let done = Done::Destroyed { documents: documents.len() };
    record_done(db, organisation, &done).await?;
    forget_texts(db, &documents).await?;
    Ok(done)
}

/// The audit event of what a command did to `organisation`'s keys.
async fn record_done(db: &sea_orm::DatabaseConnection, organisation: &str, done: &Done) -> Result<(), KeysError> {
    let (action, command, details) = match done {
        Done::Rotated { version } => {
            (Action::KeysRotate, "rotate", json!({"organisation": organisation, "version": version}))
        }
        Done::Rewrapped { keys } => (Action::KeysRewrap, "rewrap", json!({"organisation": organisation, "keys": keys})),
        Done::Destroyed { documents } => {
            (Action::KeysDestroy, "destroy", json!({"organisation": organisation, "documents": documents}))
        }
    };
    record(db, action, &format!("{command} --organisation {organisation}"), details).await
}

/// `anaspoc keys master-key`: a new master key at `crypto.master_key_file` (mode 0600; never
/// overwritten) — made by the operator once, before any replica starts.
pub fn create_master_key(settings: &Settings) -> Result<std::path::PathBuf, KeysError> {
    let path = std::path::PathBuf::from(&settings.crypto.master_key_file);
    if path.as_os_str().is_empty() {
        return Err(KeysError::NoMasterKeyFile);
    }
    crate::crypto::keyring::MasterKey::create_file(&path)?;
    Ok(path)
}

async fn connect(settings: &Settings) -> Result<sea_orm::DatabaseConnection, KeysError> {
    Ok(crate::db::connect(&settings.database).await.map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?)
}

/// The audit event of an operator's command `anaspoc keys {command_line}` (no actor: an operator
/// on the server, named by the command in the user agent).
async fn record(
    db: &sea_orm::DatabaseConnection,
    action: Action,
    command_line: &str,
    details: serde_json::Value,
) -> Result<(), KeysError> {
    let request = RequestInfo {
        id: uuid::Uuid::new_v4().to_string(),
        ip: String::new(),
        user_agent: format!("anaspoc keys {command_line}"),
    };
    Log::new(db.clone())
        .record(NewEvent::new(Actor::anonymous(), &request, action, Outcome::Allowed).details(details))
        .await?;
    Ok(())
}

/// How many of `country`/`name`'s versions have an object stored as plaintext — plus, after an
/// interrupted `encrypt-existing`, its leftovers (not told apart by organisation).
async fn plaintext_of(db: &sea_orm::DatabaseConnection, country: &str, name: &str) -> Result<u64, KeysError> {
    let versions = sealed_versions(db, country, name).await?;
    let plaintext = versions
        .iter()
        .filter(|(_, sealed, text_key, text_sealed)| sealed.is_none() || (text_key.is_some() && text_sealed.is_none()))
        .count();
    Ok(plaintext as u64 + crate::db::plaintext::left(db).await?.leftovers)
}

/// The ids of the documents `country`/`name` originated.
async fn documents_of(db: &impl ConnectionTrait, country: &str, name: &str) -> Result<Vec<String>, sea_orm::DbErr> {
    document::Entity::find()
        .select_only()
        .column(document::Column::Id)
        .filter(document::Column::OriginatorCountry.eq(country))
        .filter(document::Column::OriginatorOrg.eq(name))
        .into_tuple()
        .all(db)
        .await
}

/// A version's row id, `sealed`, text key and `text_sealed`.
type VersionKeys = (i32, Option<String>, Option<String>, Option<String>);

/// The versions of `country`/`name`'s documents.
async fn sealed_versions(
    db: &impl ConnectionTrait,
    country: &str,
    name: &str,
) -> Result<Vec<VersionKeys>, sea_orm::DbErr> {
    use document_version::Column;
    let documents = documents_of(db, country, name).await?;
    document_version::Entity::find()
        .select_only()
        .columns([Column::Id, Column::Sealed, Column::TextKey, Column::TextSealed])
        .filter(Column::DocumentId.is_in(documents))
        .into_tuple()
        .all(db)
        .await
}

/// Re-wrap every data key of the organisation under its current KEK version.
async fn rewrap(
    db: &sea_orm::DatabaseConnection,
    keyring: &FileKeyring,
    country: &str,
    name: &str,
    organisation: &str,
) -> Result<usize, KeysError> {
    use document_version::Column;
    let mut rewrapped = 0;
    for (id, sealed, _, text_sealed) in sealed_versions(db, country, name).await? {
        for (column, stored) in [(Column::Sealed, sealed), (Column::TextSealed, text_sealed)] {
            let Some(stored) = stored else { continue };
            if rewrap_column(db, keyring, organisation, id, column, &stored).await? {
                rewrapped += 1;
            }
        }
    }
    Ok(rewrapped)
}

/// Re-wrap the data key `stored` in `column` of version row `id`, if it is `organisation`'s
/// under an older KEK version; whether the row changed. Compare-and-set on `stored`: the
/// platform keeps writing while the command runs (extraction records a text, `encrypt-existing`
/// switches an object), and what it wrote meanwhile — wrapped under the current version
/// already — is never overwritten with the value read before.
pub async fn rewrap_column(
    db: &impl ConnectionTrait,
    keyring: &impl Keyring,
    organisation: &str,
    id: i32,
    column: document_version::Column,
    stored: &str,
) -> Result<bool, KeysError> {
    let Some(wrapped) = WrappedKey::from_column(stored).filter(|w| w.organisation == organisation) else {
        return Ok(false);
    };
    let fresh = keyring.wrap(organisation, &keyring.unwrap(&wrapped)?)?;
    if fresh.version == wrapped.version {
        return Ok(false);
    }
    let updated = document_version::Entity::update_many()
        .col_expr(column, Expr::value(Some(fresh.to_column())))
        .filter(document_version::Column::Id.eq(id))
        .filter(column.eq(stored))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Stamp the organisation's documents in the change feed: every replica re-indexes them, and
/// their text — unreadable now — leaves the index.
async fn forget_texts(db: &sea_orm::DatabaseConnection, documents: &[String]) -> Result<(), KeysError> {
    for batch in documents.chunks(500) {
        let txn = db.begin().await?;
        crate::db::feed::stamp_all(&txn, batch).await?;
        txn.commit().await?;
    }
    Ok(())
}

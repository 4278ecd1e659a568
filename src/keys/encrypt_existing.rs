//! `anaspoc keys encrypt-existing`: encrypt the objects stored before encryption at rest was
//! enabled — document versions and their extracted text — under their originating
//! organisation's key, and count what is left for `/readyz` and `/metrics`.
//!
//! Safe to stop at any moment, and to run again (or twice at once): each object is sealed into a
//! fresh key beside the plaintext (`{key}.sealed-{random}`), held against the size and SHA-256
//! recorded at upload (an object altered in the store is reported, never sealed as genuine), then
//! one transaction switches the version to it — a compare-and-set on the old key — and lists the
//! plaintext as a leftover; the plaintext is deleted after, and its leftover row with it. A run
//! stopped anywhere leaves either the plaintext in use (and perhaps a sealed copy no row names),
//! or the sealed copy in use and the plaintext listed, which the next run deletes first. Readers
//! switch at once: a download that looked up the old key just before the switch opens the new
//! one (`documents::Service::open`). Versions whose text is being extracted are skipped (the
//! pipeline is reading them): run again later.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::json;

use super::KeysError;
use crate::config::Settings;
use crate::crypto::keyring::WrappedKey;
use crate::db::entities::{document, document_version, plaintext_leftover};
use crate::storage::{ObjectKey, Storage};

/// Versions read per database round trip.
const BATCH: u64 = 200;
/// Failures listed by name in the summary (all are counted).
const LISTED_FAILURES: usize = 20;

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub versions: usize,
    pub texts: usize,
    /// Plaintext bytes encrypted.
    pub bytes: u64,
    /// Plaintext objects of an earlier, interrupted run deleted now.
    pub leftovers_deleted: usize,
    /// Versions skipped while their text is being extracted.
    pub skipped: usize,
    /// Objects that could not be encrypted (left as they are), the first few by name.
    pub failed: usize,
    pub failures: Vec<String>,
    /// Still stored as plaintext after the run.
    pub left: crate::db::plaintext::PlaintextLeft,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "encrypted {} versions and {} texts ({}); deleted {} plaintext leftovers of an earlier run; \
             skipped {} versions being extracted; {} failed; left as plaintext: {} versions, {} texts, {} leftovers",
            self.versions,
            self.texts,
            indicatif::HumanBytes(self.bytes),
            self.leftovers_deleted,
            self.skipped,
            self.failed,
            self.left.versions,
            self.left.texts,
            self.left.leftovers,
        )?;
        for failure in &self.failures {
            write!(f, "\n  failed: {failure}")?;
        }
        if self.failed > self.failures.len() {
            write!(f, "\n  … and {} more (see the log)", self.failed - self.failures.len())?;
        }
        Ok(())
    }
}

/// Which of a version's objects.
#[derive(Clone, Copy)]
enum Part {
    /// The version's bytes — with `text`, also its text (a plain-text file that is its own).
    Version { text: bool },
    /// Its text, in an object of its own.
    Text,
}

impl Part {
    /// The (key, sealed) columns the object is recorded in.
    fn columns(self) -> Vec<(document_version::Column, document_version::Column)> {
        use document_version::Column;
        match self {
            Part::Version { text: false } => vec![(Column::ObjectKey, Column::Sealed)],
            Part::Version { text: true } => {
                vec![(Column::ObjectKey, Column::Sealed), (Column::TextKey, Column::TextSealed)]
            }
            Part::Text => vec![(Column::TextKey, Column::TextSealed)],
        }
    }
}

/// One plaintext object to encrypt, and what was recorded of it.
struct Plain<'a> {
    row: i32,
    part: Part,
    key: &'a str,
    size: u64,
    /// Recorded for versions (texts have only their size).
    sha256: Option<&'a str>,
    organisation: &'a str,
}

struct Run {
    db: DatabaseConnection,
    storage: Storage,
    bar: indicatif::ProgressBar,
    summary: Summary,
}

/// Encrypt every object stored as plaintext; `progress` shows a bar on standard error.
pub async fn run(settings: &Settings, progress: bool) -> Result<Summary, KeysError> {
    if !settings.crypto.enabled {
        return Err(KeysError::NotEnabled);
    }
    let storage = Storage::from_config(settings)?;
    let db = super::connect(settings).await?;
    let before = crate::db::plaintext::left(&db).await?;
    let bar = crate::progress::bar(
        before.total(),
        progress,
        "{spinner} encrypting: {pos}/{len} objects {wide_bar} {msg} eta {eta}",
    );
    let mut run = Run { db, storage, bar, summary: Summary::default() };
    run.delete_leftovers().await?;
    let mut after = 0;
    loop {
        let rows = to_encrypt(&run.db, after).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let organisations = organisations(&run.db, &rows).await?;
        for row in &rows {
            let Some(organisation) = organisations.get(&row.document_id) else { continue };
            run.encrypt(row, organisation).await?;
        }
    }
    run.bar.finish_and_clear();
    run.summary.left = crate::db::plaintext::left(&run.db).await?;
    let summary = &run.summary;
    let details = json!({
        "versions": summary.versions,
        "texts": summary.texts,
        "bytes": summary.bytes,
        "leftovers_deleted": summary.leftovers_deleted,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "left": summary.left.total(),
    });
    super::record(&run.db, crate::audit::Action::KeysEncryptExisting, "encrypt-existing", details).await?;
    Ok(run.summary)
}

/// The next versions, after row `after`, with an object or a text stored as plaintext.
async fn to_encrypt(db: &DatabaseConnection, after: i32) -> Result<Vec<document_version::Model>, sea_orm::DbErr> {
    use document_version::Column;
    let plaintext = Condition::any().add(Column::Sealed.is_null()).add(crate::db::plaintext::separate_plaintext_text());
    document_version::Entity::find()
        .filter(plaintext)
        .filter(Column::Id.gt(after))
        .order_by_asc(Column::Id)
        .limit(BATCH)
        .all(db)
        .await
}

/// The originating organisation (`country:organisation`) of each row's document: whose key
/// seals it, as for an upload.
async fn organisations(
    db: &DatabaseConnection,
    rows: &[document_version::Model],
) -> Result<HashMap<String, String>, sea_orm::DbErr> {
    let ids: Vec<&str> = rows.iter().map(|row| row.document_id.as_str()).collect();
    let found: Vec<(String, String, String)> = document::Entity::find()
        .select_only()
        .columns([document::Column::Id, document::Column::OriginatorCountry, document::Column::OriginatorOrg])
        .filter(document::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found.into_iter().map(|(id, country, org)| (id, crate::policy::organisation_key(&country, &org))).collect())
}

impl Run {
    async fn encrypt(&mut self, row: &document_version::Model, organisation: &str) -> Result<(), KeysError> {
        let own_text = row.text_key.as_deref() == Some(row.object_key.as_str());
        let version_plain = row.sealed.is_none();
        let text_plain = row.text_key.is_some() && row.text_sealed.is_none() && !own_text;
        if row.ingest_state == "pending" {
            self.summary.skipped += 1;
            self.bar.inc(u64::from(version_plain) + u64::from(text_plain));
            return Ok(());
        }
        if version_plain {
            let size = u64::try_from(row.size_bytes).unwrap_or_default();
            let plain = Plain {
                row: row.id,
                part: Part::Version { text: own_text && row.text_sealed.is_none() },
                key: &row.object_key,
                size,
                sha256: Some(&row.sha256),
                organisation,
            };
            if self.seal(plain).await? {
                self.summary.versions += 1;
                self.summary.bytes += size;
            }
        }
        if text_plain && let Some(key) = &row.text_key {
            let size = u64::try_from(row.text_bytes.unwrap_or_default()).unwrap_or_default();
            let plain = Plain { row: row.id, part: Part::Text, key, size, sha256: None, organisation };
            if self.seal(plain).await? {
                self.summary.texts += 1;
                self.summary.bytes += size;
            }
        }
        Ok(())
    }

    /// Encrypt one object; whether this run did (a failure is counted, not returned: the next
    /// object is tried).
    async fn seal(&mut self, plain: Plain<'_>) -> Result<bool, KeysError> {
        self.bar.inc(1);
        let from = ObjectKey::from_stored(plain.key);
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let to = ObjectKey::from_stored(&format!("{}.sealed-{}", plain.key, &suffix[..8]));
        let received = match self.storage.seal_existing(&from, to.clone(), plain.organisation).await {
            Ok(received) => received,
            Err(error) => {
                self.failed(plain.key, &error.to_string());
                return Ok(false);
            }
        };
        let genuine = received.size() == plain.size && plain.sha256.is_none_or(|sha| sha == received.sha256());
        let Some(wrapped) = received.sealed().filter(|_| genuine).map(WrappedKey::to_column) else {
            self.discard(&to).await;
            self.failed(plain.key, "the stored object does not match its recorded size and SHA-256: left as it is");
            return Ok(false);
        };
        // Compare-and-set: only if the row still names the plaintext.
        let mut switch = document_version::Entity::update_many().filter(document_version::Column::Id.eq(plain.row));
        for (key_column, sealed_column) in plain.part.columns() {
            switch = switch
                .col_expr(key_column, Expr::value(to.as_str().to_owned()))
                .col_expr(sealed_column, Expr::value(Some(wrapped.clone())))
                .filter(key_column.eq(plain.key))
                .filter(sealed_column.is_null());
        }
        let txn = self.db.begin().await?;
        let switched = switch.exec(&txn).await?.rows_affected == 1;
        if switched {
            let leftover = plaintext_leftover::ActiveModel {
                object_key: Set(plain.key.to_owned()),
                recorded_at: Set(chrono::Utc::now()),
            };
            plaintext_leftover::Entity::insert(leftover).exec(&txn).await?;
        }
        txn.commit().await?;
        if !switched {
            // Another run encrypted it first: its copy is the one in use.
            self.discard(&to).await;
            return Ok(false);
        }
        self.bar.set_message(format!("{}", indicatif::HumanBytes(self.summary.bytes + plain.size)));
        self.delete_leftover(plain.key).await?;
        Ok(true)
    }

    /// Delete the plaintext objects an earlier run switched away from.
    async fn delete_leftovers(&mut self) -> Result<(), KeysError> {
        let keys: Vec<String> = plaintext_leftover::Entity::find()
            .select_only()
            .column(plaintext_leftover::Column::ObjectKey)
            .into_tuple()
            .all(&self.db)
            .await?;
        for key in keys {
            if self.delete_leftover(&key).await? {
                self.summary.leftovers_deleted += 1;
            }
        }
        Ok(())
    }

    /// Delete a plaintext object no version names any more, then its leftover row; whether it
    /// is gone (a store that fails leaves the row for the next run).
    async fn delete_leftover(&mut self, key: &str) -> Result<bool, KeysError> {
        if let Err(error) = self.storage.delete(&ObjectKey::from_stored(key)).await {
            self.failed(key, &format!("the plaintext could not be deleted ({error}); the next run tries again"));
            return Ok(false);
        }
        plaintext_leftover::Entity::delete_by_id(key.to_owned()).exec(&self.db).await?;
        Ok(true)
    }

    /// Remove an encrypted copy no version names.
    async fn discard(&self, key: &ObjectKey) {
        if let Err(error) = self.storage.delete(key).await {
            tracing::warn!(key = key.as_str(), %error, "could not delete an unused encrypted copy");
        }
    }

    fn failed(&mut self, key: &str, reason: &str) {
        tracing::warn!(key, reason, "not encrypted");
        self.summary.failed += 1;
        if self.summary.failures.len() < LISTED_FAILURES {
            self.summary.failures.push(format!("{key}: {reason}"));
        }
    }
}

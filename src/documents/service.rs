//! The documents service: the only way routes reach documents. Every method that touches a
//! document loads it and asks `policy::decide` first ([`Service::authorize`]). Reading is here;
//! uploads are in `upload.rs`, changes in `changes.rs`.

use std::ops::Range;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use serde_json::json;

use super::DocumentsError;
use super::creation::CreationWriter;
use super::model::{DocumentView, VersionView};
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome, Target};
use crate::caller::Caller;
use crate::db::documents as repo;
use crate::db::entities::document;
use crate::document_id::{DocumentId, RequestedId};
use crate::ingest::Trigger;
use crate::policy::{
    Action, Decision, DocumentMarkings, PolicyConfig, Principal, Reason, RequestKind, decide, may_request,
};
use crate::storage::{Download, ObjectKey, Storage, StorageError};
use crate::throttle::{Limit, Throttle};

pub struct Service {
    pub(super) db: DatabaseConnection,
    pub(super) storage: Storage,
    pub(super) audit: audit::Log,
    ingest: Trigger,
    pub(super) policy: Arc<PolicyConfig>,
    pub(super) max_upload_bytes: u64,
    pub(super) throttle: Throttle,
    /// New documents are recorded through it: concurrent uploads share transactions.
    pub(super) creations: CreationWriter,
}

/// A version the caller may download. Only [`Service::content`] makes one.
#[derive(Debug)]
pub struct Content {
    view: VersionView,
    key: ObjectKey,
    /// How the object is encrypted, if it is (the version's `sealed` column).
    sealed: Option<String>,
    /// Its plaintext size.
    size: u64,
    /// The document's id, for the audit event of a download that fails.
    document_id: String,
}

impl Content {
    pub fn version(&self) -> &VersionView {
        &self.view
    }
}

/// A document row that passed the policy for the action asked.
pub(super) struct Permitted {
    pub(super) id: DocumentId,
    pub(super) row: document::Model,
    pub(super) facts: DocumentMarkings,
    pub(super) tags: Vec<String>,
}

impl Service {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        audit: audit::Log,
        ingest: Trigger,
        policy: Arc<PolicyConfig>,
        max_upload_bytes: u64,
        throttle: Throttle,
    ) -> Self {
        let creations = CreationWriter::start(db.clone());
        Self { db, storage, audit, ingest, policy, max_upload_bytes, throttle, creations }
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes
    }

    // ---- reading ---------------------------------------------------------------------------

    /// Metadata, markings and versions; audited as `document.view`.
    pub async fn get(&self, caller: &Caller, id: &RequestedId) -> Result<DocumentView, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::See, AuditAction::DocumentView).await?;
        let details = json!({"markings": permitted.facts.markings, "status": permitted.facts.status});
        let view = self.view(&caller.principal, permitted).await?;
        self.audit
            .record(
                NewEvent::of(caller, AuditAction::DocumentView, Outcome::Allowed)
                    .target(Target::version(&view.id, view.current_version))
                    .details(details),
            )
            .await?;
        Ok(view)
    }

    /// The version to download (`None` = current), if the caller may see the document. The
    /// `document.download` event is durable before this returns, so before any byte is served.
    pub async fn content(
        &self,
        caller: &Caller,
        id: &RequestedId,
        version: Option<i32>,
    ) -> Result<Content, DocumentsError> {
        self.within(caller, Limit::Downloads).await?;
        let permitted = self.authorize(caller, id, Action::See, AuditAction::DocumentDownload).await?;
        let number = version.unwrap_or(permitted.row.current_version);
        let event = |outcome| {
            NewEvent::of(caller, AuditAction::DocumentDownload, outcome)
                .target(Target::version(&permitted.row.id, number))
        };
        let Some(row) = repo::version(&self.db, &permitted.row.id, number).await? else {
            self.audit.record(event(Outcome::Error).details(json!({"reason": "no such version"}))).await?;
            return Err(DocumentsError::VersionNotFound(number));
        };
        let details = json!({
            "markings": permitted.facts.markings,
            "sha256": row.sha256,
            "size": row.size_bytes,
        });
        self.audit.record(event(Outcome::Allowed).details(details)).await?;
        Ok(Content {
            key: ObjectKey::from_stored(&row.object_key),
            sealed: row.sealed.clone(),
            size: u64::try_from(row.size_bytes).unwrap_or_default(),
            document_id: permitted.row.id.clone(),
            view: row.into(),
        })
    }

    /// Stream the bytes of a permitted version, or a range of them. An encrypted object whose
    /// organisation's keys were destroyed, or that fails its integrity check, is an error, and
    /// an audit event (`document.download`, outcome `error`) — also when the check fails in the
    /// middle of the stream, where the download breaks off before the altered chunk's bytes.
    pub async fn open(
        &self,
        caller: &Caller,
        content: &Content,
        range: Option<Range<u64>>,
    ) -> Result<Download, DocumentsError> {
        use futures_util::StreamExt;
        let failure = |reason: &str| {
            NewEvent::of(caller, AuditAction::DocumentDownload, Outcome::Error)
                .target(Target::version(&content.document_id, content.view.version))
                .details(json!({"reason": reason}))
        };
        let mut opened =
            self.storage.download_object(&content.key, range.clone(), content.sealed.as_deref(), content.size).await;
        // A plaintext object encrypted (moved to a new key) since `content` was looked up.
        if matches!(opened, Err(StorageError::NotFound(_)))
            && content.sealed.is_none()
            && let Some(row) = repo::version(&self.db, &content.document_id, content.view.version).await?
            && row.object_key != content.key.as_str()
        {
            let key = ObjectKey::from_stored(&row.object_key);
            opened = self.storage.download_object(&key, range, row.sealed.as_deref(), content.size).await;
        }
        let mut download = match opened {
            Ok(download) => download,
            Err(error @ (StorageError::KeysDestroyed | StorageError::Tampered(_))) => {
                let reason = if matches!(error, StorageError::KeysDestroyed) {
                    "keys destroyed"
                } else {
                    "integrity check failed"
                };
                self.audit.record(failure(reason)).await?;
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        let audit = self.audit.clone();
        let event = failure("integrity check failed");
        let mut event = Some(event);
        download.stream = download
            .stream
            .inspect(move |chunk| {
                if matches!(chunk, Err(StorageError::Tampered(_)))
                    && let Some(event) = event.take()
                {
                    let audit = audit.clone();
                    tokio::spawn(async move {
                        if let Err(error) = audit.record(event).await {
                            tracing::error!(%error, "could not audit a failed download");
                        }
                    });
                }
            })
            .boxed();
        Ok(download)
    }

    /// After a change committed: its event to the SIEM log, and the ingest workers woken.
    pub(super) fn changed(&self, recorded: &audit::Event) {
        audit::Log::emit(recorded);
        self.ingest.wake();
    }

    /// Refuse a caller over `limit` before any work (not audited: a flood of refusals would be
    /// a flood of events; `/metrics` counts them).
    pub(super) async fn within(&self, caller: &Caller, limit: Limit) -> Result<(), DocumentsError> {
        self.throttle.check(limit, &caller.principal.sub).await.map_err(DocumentsError::Throttled)
    }

    // ---- policy ----------------------------------------------------------------------------

    /// Load a document and apply the policy; a refusal is audited as `action` with outcome
    /// `denied`, recorded against the id asked for. Missing and hidden documents give the same
    /// error after the same work: one lookup by id, one audit write. (A malformed id names no
    /// document: it is refused without a lookup, since no document could answer to it.)
    pub(super) async fn authorize(
        &self,
        caller: &Caller,
        id: &RequestedId,
        action: Action,
        audit_action: AuditAction,
    ) -> Result<Permitted, DocumentsError> {
        let loaded = match id {
            RequestedId::Id(id) => self.load(&caller.principal, *id, action).await?,
            RequestedId::Malformed(_) => Loaded::Missing,
        };
        let (refusal, error) = match loaded {
            Loaded::Permitted(permitted) => return Ok(*permitted),
            Loaded::Missing => (json!({"reason": "not_found"}), DocumentsError::NotFound),
            Loaded::Unreadable => (json!({"reason": "unreadable_markings"}), DocumentsError::NotFound),
            Loaded::Hidden(reason) => (json!({"reason": reason, "hidden": true}), DocumentsError::NotFound),
            Loaded::Forbidden(reason) => (json!({"reason": reason}), DocumentsError::Forbidden(reason)),
        };
        self.audit
            .record(
                NewEvent::of(caller, audit_action, Outcome::Denied)
                    .target(Target::document(&id.as_target()))
                    .details(refusal),
            )
            .await?;
        Err(error)
    }

    async fn load(&self, principal: &Principal, id: DocumentId, action: Action) -> Result<Loaded, DocumentsError> {
        let Some(row) = repo::find(&self.db, &id.to_string()).await? else {
            // The same work as for a document that exists — read a row, decide on it — so that
            // "missing" and "hidden" take the same time (`anaspoc bench` compares the two).
            let stand_in =
                repo::read(&stand_in(id, &self.policy), &self.policy).map(|r| decide(principal, &r.facts, action));
            std::hint::black_box(stand_in);
            return Ok(Loaded::Missing);
        };
        let Some(repo::Readable { facts, tags }) = repo::read(&row, &self.policy) else {
            return Ok(Loaded::Unreadable);
        };
        Ok(match decide(principal, &facts, action) {
            Decision::Allow => Loaded::Permitted(Box::new(Permitted { id, row, facts, tags })),
            Decision::Hidden(reason) => Loaded::Hidden(reason),
            Decision::Forbidden(reason) => Loaded::Forbidden(reason),
        })
    }

    /// The document as it is now, for the caller who just changed it (not a separate view).
    pub(super) async fn current_view(
        &self,
        principal: &Principal,
        id: DocumentId,
    ) -> Result<DocumentView, DocumentsError> {
        match self.load(principal, id, Action::See).await? {
            Loaded::Permitted(permitted) => self.view(principal, *permitted).await,
            _ => Err(DocumentsError::NotFound),
        }
    }

    async fn view(&self, principal: &Principal, permitted: Permitted) -> Result<DocumentView, DocumentsError> {
        let Permitted { row, facts, tags, .. } = permitted;
        let mut versions: Vec<VersionView> =
            repo::versions(&self.db, &row.id).await?.into_iter().map(VersionView::from).collect();
        // The outcome ("indexed", or "failed" and found by its metadata only) is reported once
        // this server's index has applied the document's latest change — read again after the
        // versions, as the change that recorded the outcome may have committed after `row`.
        if let Some(current) = versions.iter_mut().find(|v| v.version == row.current_version)
            && current.ingest.state != "pending"
        {
            // One column, and only when `row` alone would say "searchable".
            let searchable = self.ingest.searchable(row.change_seq)
                && self.ingest.searchable(repo::change_seq(&self.db, &row.id).await?.unwrap_or(row.change_seq));
            if !searchable {
                current.ingest.state = "pending".into();
            }
        }
        let can_change = decide(principal, &facts, Action::Change).is_allowed();
        let requestable =
            RequestKind::ALL.into_iter().filter(|kind| may_request(principal, &facts, *kind).is_ok()).collect();
        let (derived_from, derivatives) = self.lineage(principal, &row).await?;
        let permissions = self.permissions(principal, &row.id).await?;
        Ok(DocumentView {
            id: row.id,
            title: row.title,
            summary: row.summary,
            language: row.language,
            tags,
            handling: facts.markings.handling_code().meaning(),
            markings: facts.markings,
            originator_org: row.originator_org,
            originator_country: row.originator_country,
            status: facts.status,
            current_version: row.current_version,
            revision: row.revision,
            versions,
            created_at: row.created_at,
            updated_at: row.updated_at,
            published_at: row.published_at,
            can_change,
            requestable,
            derived_from,
            derivatives,
            permissions,
        })
    }
}

/// What a lookup found, before it is turned into an answer (and an audit event).
enum Loaded {
    Permitted(Box<Permitted>),
    Missing,
    Unreadable,
    Hidden(Reason),
    Forbidden(Reason),
}

/// A plausible stored row — valid under `policy` — for the work a lookup of a missing document
/// does in its place.
fn stand_in(id: DocumentId, policy: &PolicyConfig) -> document::Model {
    let now = chrono::Utc::now();
    let country = policy.countries.iter().next().cloned().unwrap_or_default();
    document::Model {
        id: id.to_string(),
        title: String::new(),
        summary: None,
        language: None,
        tags: Vec::new().into(),
        classification: policy.ladder.lowest().name().to_owned(),
        tlp: "AMBER".into(),
        handling_code: "H1".into(),
        handling_note: None,
        releasable_to: vec!["ALL".to_owned()].into(),
        recipients: Vec::new().into(),
        originator_org: String::new(),
        originator_country: country,
        originator_sub: String::new(),
        status: "published".into(),
        current_version: 1,
        upload_slots: 1,
        created_at: now,
        updated_at: now,
        published_at: Some(now),
        revision: 1,
        change_seq: 0,
        derived_from: None,
        changed_at_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::Format;

    use super::*;

    /// The stand-in must read cleanly: a row that failed would log an error for every lookup of
    /// a missing document.
    #[test]
    fn the_stand_in_reads_as_a_document() {
        let settings: crate::config::Settings =
            figment::Figment::from(figment::providers::Toml::string(crate::config::DEFAULT_TOML))
                .extract()
                .expect("defaults");
        let policy = settings.policy.compile().expect("policy");
        assert!(repo::read(&stand_in(DocumentId::generate(), &policy), &policy).is_some());
    }
}

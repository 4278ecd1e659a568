//! The documents service: the only way routes reach documents. Every method that touches a
//! document loads it and asks `policy::decide` first.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::{ActiveValue::Set, DatabaseConnection, IntoActiveModel, TransactionTrait};
use serde_json::json;

use super::model::{self, DocumentPatch, DocumentView, NewDocument, VersionView};
use super::{DocumentsError, detect_media_type, sanitise_filename};
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome, Target};
use crate::caller::Caller;
use crate::db::documents::{self as repo, NewDocumentRow, NewVersionRow};
use crate::db::entities::document;
use crate::document_id::{DocumentId, RequestedId};
use crate::ingest::Trigger;
use crate::ingest::jobs::{self, JobKind};
use crate::policy::{
    Action, Capability, Decision, DocumentMarkings, Markings, PolicyConfig, Principal, Reason, Status, decide,
};
use crate::storage::{Download, ObjectKey, ReceivedObject, Storage};

pub struct Service {
    db: DatabaseConnection,
    storage: Storage,
    audit: audit::Log,
    ingest: Trigger,
    policy: Arc<PolicyConfig>,
    max_upload_bytes: u64,
}

/// A validated upload waiting for its bytes. Only [`Service::plan_create`] makes one.
#[derive(Debug)]
pub struct CreatePlan {
    id: DocumentId,
    key: ObjectKey,
    title: String,
    summary: Option<String>,
    language: Option<String>,
    tags: Vec<String>,
    markings: Markings,
    publish: bool,
}

/// A permitted upload waiting for its bytes: the only way to store any ([`Service::receive`]).
pub trait UploadPlan: sealed::Sealed {
    fn key(&self) -> &ObjectKey;
}

mod sealed {
    /// Only this module's plans are plans.
    pub trait Sealed {}
    impl Sealed for super::CreatePlan {}
    impl Sealed for super::VersionPlan {}
}

impl UploadPlan for CreatePlan {
    fn key(&self) -> &ObjectKey {
        &self.key
    }
}

/// A permitted new version waiting for its bytes. Only [`Service::plan_version`] makes one.
#[derive(Debug)]
pub struct VersionPlan {
    document_id: DocumentId,
    key: ObjectKey,
}

impl UploadPlan for VersionPlan {
    fn key(&self) -> &ObjectKey {
        &self.key
    }
}

/// A version the caller may download. Only [`Service::content`] makes one.
#[derive(Debug)]
pub struct Content {
    view: VersionView,
    key: ObjectKey,
}

impl Content {
    pub fn version(&self) -> &VersionView {
        &self.view
    }
}

/// A document row that passed the policy for the action asked.
struct Permitted {
    id: DocumentId,
    row: document::Model,
    facts: DocumentMarkings,
    tags: Vec<String>,
}

impl Service {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        audit: audit::Log,
        ingest: Trigger,
        policy: Arc<PolicyConfig>,
        max_upload_bytes: u64,
    ) -> Self {
        Self { db, storage, audit, ingest, policy, max_upload_bytes }
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
        Ok(Content { key: ObjectKey::from_stored(&row.object_key), view: row.into() })
    }

    /// Stream the bytes of a permitted version, or a range of them.
    pub async fn open(&self, content: &Content, range: Option<Range<u64>>) -> Result<Download, DocumentsError> {
        Ok(self.storage.download(&content.key, range).await?)
    }

    // ---- uploading -------------------------------------------------------------------------

    /// Refuse (and audit) an upload by a caller who may not write, before anything is read.
    pub async fn may_create(&self, caller: &Caller) -> Result<(), DocumentsError> {
        if caller.principal.has(Capability::DocumentWrite) {
            return Ok(());
        }
        let reason = Reason::NoWriteCapability;
        self.audit
            .record(
                NewEvent::of(caller, AuditAction::DocumentCreate, Outcome::Denied).details(json!({"reason": reason})),
            )
            .await?;
        Err(DocumentsError::Forbidden(reason))
    }

    /// Validate an upload's metadata before any byte is stored.
    pub async fn plan_create(&self, caller: &Caller, new: NewDocument) -> Result<CreatePlan, DocumentsError> {
        let principal = &caller.principal;
        self.may_create(caller).await?;
        let title = model::validate_title(&new.title)?;
        let summary = model::validate_summary(new.summary.as_deref())?;
        let language = model::validate_language(new.language.as_deref())?;
        let tags = model::validate_tags(&new.tags)?;
        let markings = new.markings_input().validate(&self.policy, principal, &principal.country)?;
        let id = DocumentId::generate();
        Ok(CreatePlan {
            id,
            key: ObjectKey::version(id.uuid(), 1),
            title,
            summary,
            language,
            tags,
            markings,
            publish: new.publish,
        })
    }

    /// Stream `body` into the new object `plan` reserved, hashing and counting. Any error aborts
    /// the upload: nothing is left behind.
    pub async fn receive<S, E>(&self, plan: &impl UploadPlan, mut body: S) -> Result<ReceivedObject, DocumentsError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut upload = self.storage.begin_upload(plan.key().clone(), self.max_upload_bytes).await?;
        while let Some(chunk) = body.next().await {
            let written = match chunk {
                Ok(chunk) => upload.write(chunk).await.map_err(DocumentsError::from),
                Err(error) => Err(DocumentsError::malformed("file", format!("the upload was interrupted: {error}"))),
            };
            if let Err(error) = written {
                upload.abort().await;
                return Err(error);
            }
        }
        Ok(upload.finish().await?)
    }

    /// After a change committed: its event to the SIEM log, and the ingest workers woken.
    fn changed(&self, recorded: &audit::Event) {
        audit::Log::emit(recorded);
        self.ingest.wake();
    }

    /// The end of a transaction that recorded stored bytes: on failure the object goes too.
    async fn keep_or_discard(
        &self,
        result: Result<audit::Event, DocumentsError>,
        object: ReceivedObject,
    ) -> Result<(), DocumentsError> {
        match result {
            Ok(recorded) => {
                self.changed(&recorded);
                Ok(())
            }
            Err(error) => {
                self.discard(object).await;
                Err(error)
            }
        }
    }

    /// Remove an object received for a request that failed after all.
    pub async fn discard(&self, object: ReceivedObject) {
        if let Err(error) = self.storage.delete(object.key()).await {
            tracing::error!(key = object.key().as_str(), %error, "could not remove an orphaned object");
        }
    }

    /// Record a new document whose bytes are stored, with its `document.create` event in the
    /// same transaction. On failure the object is removed.
    pub async fn commit_create(
        &self,
        caller: &Caller,
        plan: CreatePlan,
        object: ReceivedObject,
        filename: Option<&str>,
    ) -> Result<DocumentView, DocumentsError> {
        let principal = &caller.principal;
        let now = chrono::Utc::now();
        let id = plan.id.to_string();
        let status = if plan.publish { Status::Published } else { Status::Draft };
        let version = version_row(plan.id, &object, filename, principal, now);
        let details = json!({
            "markings": plan.markings,
            "status": status,
            "sha256": object.sha256(),
            "size": object.size(),
            "media_type": version.media_type,
        });
        let row = NewDocumentRow {
            id: id.clone(),
            title: plan.title,
            summary: plan.summary,
            language: plan.language,
            tags: plan.tags,
            markings: &plan.markings,
            originator_org: principal.organisation.clone(),
            originator_country: principal.country.clone(),
            originator_sub: principal.sub.clone(),
            status,
            now,
        }
        .into_active_model();
        let event = NewEvent::of(caller, AuditAction::DocumentCreate, Outcome::Allowed)
            .target(Target::version(&id, 1))
            .details(details);
        let result = async {
            let txn = self.db.begin().await?;
            repo::insert(&txn, row).await?;
            repo::append_version(&txn, version.into_active_model(), now).await?;
            jobs::enqueue(&txn, &id, 1, JobKind::Extract).await?;
            let recorded = audit::Log::append(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, DocumentsError>(recorded)
        }
        .await;
        self.keep_or_discard(result, object).await?;
        self.current_view(principal, plan.id).await
    }

    /// Permission to add a version, with an object key reserved for its bytes.
    pub async fn plan_version(&self, caller: &Caller, id: &RequestedId) -> Result<VersionPlan, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::Change, AuditAction::DocumentVersion).await?;
        let txn = self.db.begin().await?;
        let slot = repo::reserve_slot(&txn, &permitted.row.id).await?;
        txn.commit().await?;
        Ok(VersionPlan { document_id: permitted.id, key: ObjectKey::version(permitted.id.uuid(), slot) })
    }

    /// Record a new version whose bytes are stored, with its `document.version` event; the
    /// permission is checked again, since the document may have changed during a long upload.
    /// On failure the object is removed.
    pub async fn commit_version(
        &self,
        caller: &Caller,
        plan: VersionPlan,
        object: ReceivedObject,
        filename: Option<&str>,
    ) -> Result<DocumentView, DocumentsError> {
        let principal = &caller.principal;
        let result = async {
            let requested = RequestedId::Id(plan.document_id);
            let permitted = self.authorize(caller, &requested, Action::Change, AuditAction::DocumentVersion).await?;
            let now = chrono::Utc::now();
            let version = version_row(plan.document_id, &object, filename, principal, now);
            let id = plan.document_id.to_string();
            let txn = self.db.begin().await?;
            let stored = repo::append_version(&txn, version.into_active_model(), now).await?;
            jobs::enqueue(&txn, &id, stored.version, JobKind::Extract).await?;
            let event = NewEvent::of(caller, AuditAction::DocumentVersion, Outcome::Allowed)
                .target(Target::version(&id, stored.version))
                .details(json!({
                    "markings": permitted.facts.markings,
                    "sha256": stored.sha256,
                    "size": stored.size_bytes,
                    "media_type": stored.media_type,
                }));
            let recorded = audit::Log::append(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, DocumentsError>(recorded)
        }
        .await;
        self.keep_or_discard(result, object).await?;
        self.current_view(principal, plan.document_id).await
    }

    // ---- changing --------------------------------------------------------------------------

    /// Change title, summary, language, tags and markings; audited with before and after.
    pub async fn update(
        &self,
        caller: &Caller,
        id: &RequestedId,
        patch: DocumentPatch,
    ) -> Result<DocumentView, DocumentsError> {
        let principal = &caller.principal;
        let permitted = self.authorize(caller, id, Action::Change, AuditAction::DocumentUpdate).await?;
        let document_id = permitted.id;
        let id = permitted.row.id.as_str();
        let before = permitted.row.clone();
        let mut row = permitted.row.clone().into_active_model();
        if let Some(title) = &patch.title {
            row.title = Set(model::validate_title(title)?);
        }
        if let Some(summary) = &patch.summary {
            row.summary = Set(model::validate_summary(summary.as_deref())?);
        }
        if let Some(language) = &patch.language {
            row.language = Set(model::validate_language(language.as_deref())?);
        }
        if let Some(tags) = &patch.tags {
            row.tags = Set(model::validate_tags(tags)?.into());
        }
        let mut markings_after = permitted.facts.markings.clone();
        if patch.changes_markings() {
            let input = patch.merged_markings(&permitted.facts.markings);
            markings_after = input.validate(&self.policy, principal, &permitted.row.originator_country)?;
            repo::set_markings(&mut row, &markings_after);
        }
        row.updated_at = Set(chrono::Utc::now());
        let txn = self.db.begin().await?;
        let after = repo::update(&txn, row).await?;
        repo::bump_revision(&txn, id).await?;
        jobs::enqueue(&txn, id, after.current_version, JobKind::Refresh).await?;
        let event = NewEvent::of(caller, AuditAction::DocumentUpdate, Outcome::Allowed)
            .target(Target::version(id, after.current_version))
            .details(json!({
                // Titles, summaries and tags are document content, which auditors may not read
                // (nobody reads documents without document:read): the event names the
                // fields that changed, and the markings before and after.
                "changed": changed_fields(&before, &after),
                "before": {"markings": permitted.facts.markings},
                "after": {"markings": markings_after},
            }));
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        self.changed(&recorded);
        self.current_view(principal, document_id).await
    }

    pub async fn publish(&self, caller: &Caller, id: &RequestedId) -> Result<DocumentView, DocumentsError> {
        self.set_status(caller, id, Status::Published, AuditAction::DocumentPublish).await
    }

    /// Hide the document from everyone outside the originator organisation.
    pub async fn withdraw(&self, caller: &Caller, id: &RequestedId) -> Result<DocumentView, DocumentsError> {
        self.set_status(caller, id, Status::Withdrawn, AuditAction::DocumentWithdraw).await
    }

    async fn set_status(
        &self,
        caller: &Caller,
        id: &RequestedId,
        status: Status,
        action: AuditAction,
    ) -> Result<DocumentView, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::Change, action).await?;
        let document_id = permitted.id;
        let id = permitted.row.id.as_str();
        let previous = permitted.facts.status;
        let now = chrono::Utc::now();
        let txn = self.db.begin().await?;
        if previous != status {
            let mut row = permitted.row.clone().into_active_model();
            row.status = Set(status.as_str().to_owned());
            row.updated_at = Set(now);
            if status == Status::Published {
                row.published_at = Set(Some(now));
            }
            repo::update(&txn, row).await?;
            repo::bump_revision(&txn, id).await?;
            jobs::enqueue(&txn, id, permitted.row.current_version, JobKind::Refresh).await?;
        }
        let event = NewEvent::of(caller, action, Outcome::Allowed)
            .target(Target::version(id, permitted.row.current_version))
            .details(json!({"from": previous, "to": status, "markings": permitted.facts.markings}));
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        self.changed(&recorded);
        self.current_view(&caller.principal, document_id).await
    }

    // ---- policy ----------------------------------------------------------------------------

    /// Load a document and apply the policy; a refusal is audited as `action` with outcome
    /// `denied`, recorded against the id asked for. Missing and hidden documents give the same
    /// error after the same work: one lookup by id, one audit write. (A malformed id names no
    /// document: it is refused without a lookup, since no document could answer to it.)
    async fn authorize(
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
    async fn current_view(&self, principal: &Principal, id: DocumentId) -> Result<DocumentView, DocumentsError> {
        match self.load(principal, id, Action::See).await? {
            Loaded::Permitted(permitted) => self.view(principal, *permitted).await,
            _ => Err(DocumentsError::NotFound),
        }
    }

    async fn view(&self, principal: &Principal, permitted: Permitted) -> Result<DocumentView, DocumentsError> {
        let Permitted { row, facts, tags, .. } = permitted;
        let versions = repo::versions(&self.db, &row.id).await?.into_iter().map(VersionView::from).collect();
        let can_change = decide(principal, &facts, Action::Change).is_allowed();
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
            versions,
            created_at: row.created_at,
            updated_at: row.updated_at,
            published_at: row.published_at,
            can_change,
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

/// The row of a version whose bytes are stored.
fn version_row(
    document: DocumentId,
    object: &ReceivedObject,
    filename: Option<&str>,
    principal: &Principal,
    now: chrono::DateTime<chrono::Utc>,
) -> NewVersionRow {
    NewVersionRow {
        document_id: document.to_string(),
        object_key: object.key().as_str().to_owned(),
        sha256: object.sha256().to_owned(),
        size_bytes: i64::try_from(object.size()).unwrap_or(i64::MAX),
        media_type: detect_media_type(object.head()),
        filename: sanitise_filename(filename),
        created_by: principal.sub.clone(),
        now,
    }
}

/// Names of the fields an update changed, in a fixed order.
fn changed_fields(before: &document::Model, after: &document::Model) -> Vec<&'static str> {
    [
        ("title", before.title != after.title),
        ("summary", before.summary != after.summary),
        ("language", before.language != after.language),
        ("tags", before.tags != after.tags),
        ("classification", before.classification != after.classification),
        ("tlp", before.tlp != after.tlp),
        ("handling_code", before.handling_code != after.handling_code),
        ("handling_note", before.handling_note != after.handling_note),
        ("releasable_to", before.releasable_to != after.releasable_to),
        ("recipients", before.recipients != after.recipients),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

//! The documents service: the only way routes reach documents. Every method that touches a
//! document loads it and asks `policy::decide` first.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::{ActiveValue::Set, DatabaseConnection, IntoActiveModel, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::model::{self, DocumentPatch, DocumentView, IngestView, NewDocument, VersionView};
use super::{DocumentsError, detect_media_type, sanitise_filename};
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome, Target};
use crate::auth::{Caller, Capability, Principal};
use crate::db::documents as repo;
use crate::db::entities::{document, document_version};
use crate::ingest::Trigger;
use crate::ingest::jobs::{self, JobKind};
use crate::policy::{
    Action, Decision, DocumentMarkings, Markings, MarkingsInput, PolicyConfig, Reason, Status, decide,
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
    id: Uuid,
    key: ObjectKey,
    title: String,
    summary: Option<String>,
    language: Option<String>,
    tags: Vec<String>,
    markings: Markings,
    publish: bool,
}

impl CreatePlan {
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }
}

/// A permitted new version waiting for its bytes. Only [`Service::plan_version`] makes one.
#[derive(Debug)]
pub struct VersionPlan {
    document_id: String,
    key: ObjectKey,
}

impl VersionPlan {
    pub fn key(&self) -> &ObjectKey {
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
    row: document::Model,
    facts: DocumentMarkings,
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
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<DocumentView, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::See, AuditAction::DocumentView).await?;
        let details = json!({"markings": permitted.facts.markings, "status": permitted.facts.status});
        let view = self.view(&caller.principal, permitted).await?;
        self.audit
            .record(
                NewEvent::by(&caller.principal, &caller.request, AuditAction::DocumentView, Outcome::Allowed)
                    .target(Target::version(&view.id, view.current_version))
                    .details(details),
            )
            .await?;
        Ok(view)
    }

    /// The version to download (`None` = current), if the caller may see the document. The
    /// `document.download` event is durable before this returns, so before any byte is served.
    pub async fn content(&self, caller: &Caller, id: &str, version: Option<i32>) -> Result<Content, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::See, AuditAction::DocumentDownload).await?;
        let number = version.unwrap_or(permitted.row.current_version);
        let event = |outcome| {
            NewEvent::by(&caller.principal, &caller.request, AuditAction::DocumentDownload, outcome)
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
        Ok(Content { key: ObjectKey::from_stored(&row.object_key), view: version_view(row) })
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
                NewEvent::by(&caller.principal, &caller.request, AuditAction::DocumentCreate, Outcome::Denied)
                    .details(json!({"reason": reason})),
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
        let id = Uuid::new_v4();
        Ok(CreatePlan {
            id,
            key: ObjectKey::version(id, 1),
            title,
            summary,
            language,
            tags,
            markings,
            publish: new.publish,
        })
    }

    /// Stream `body` into a new object at `key`, hashing and counting. Any error aborts the
    /// upload: nothing is left behind.
    pub async fn receive<S, E>(&self, key: &ObjectKey, mut body: S) -> Result<ReceivedObject, DocumentsError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut upload = self.storage.begin_upload(key.clone(), self.max_upload_bytes).await?;
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
        if let Err(error) = self.storage.delete(&object.key).await {
            tracing::error!(key = object.key.as_str(), %error, "could not remove an orphaned object");
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
        let markings = stored_markings(&plan.markings);
        let version = new_version_row(&id, &object, filename, principal, now);
        let details = json!({
            "markings": plan.markings,
            "status": status,
            "sha256": object.sha256,
            "size": object.size,
            "media_type": detect_media_type(&object.head),
        });
        let row = document::ActiveModel {
            id: Set(id.clone()),
            title: Set(plan.title),
            summary: Set(plan.summary),
            language: Set(plan.language),
            tags: Set(json_list(&plan.tags)),
            classification: Set(markings.classification),
            tlp: Set(markings.tlp),
            handling_code: Set(markings.handling_code),
            handling_note: Set(markings.handling_note),
            releasable_to: Set(json_list(&markings.releasable_to)),
            recipients: Set(json_list(&markings.recipients)),
            originator_org: Set(principal.organisation.clone()),
            originator_country: Set(principal.country.clone()),
            originator_sub: Set(principal.sub.clone()),
            status: Set(status.as_str().to_owned()),
            current_version: Set(0),
            upload_slots: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            published_at: Set(plan.publish.then_some(now)),
            revision: Set(1),
        };
        let event = NewEvent::by(principal, &caller.request, AuditAction::DocumentCreate, Outcome::Allowed)
            .target(Target::version(&id, 1))
            .details(details);
        let result = async {
            let txn = self.db.begin().await?;
            repo::insert(&txn, row).await?;
            repo::append_version(&txn, version, now).await?;
            jobs::enqueue(&txn, &id, 1, JobKind::Extract).await?;
            let recorded = audit::Log::append(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, DocumentsError>(recorded)
        }
        .await;
        self.keep_or_discard(result, object).await?;
        self.current_view(principal, &id).await
    }

    /// Permission to add a version, with an object key reserved for its bytes.
    pub async fn plan_version(&self, caller: &Caller, id: &str) -> Result<VersionPlan, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::Change, AuditAction::DocumentVersion).await?;
        let txn = self.db.begin().await?;
        let slot = repo::reserve_slot(&txn, &permitted.row.id).await?;
        txn.commit().await?;
        let uuid = Uuid::parse_str(&permitted.row.id).map_err(|e| {
            DocumentsError::Storage(crate::storage::StorageError::Config(format!(
                "document id `{}` is not a UUID: {e}",
                permitted.row.id
            )))
        })?;
        Ok(VersionPlan { document_id: permitted.row.id, key: ObjectKey::version(uuid, slot) })
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
            let permitted =
                self.authorize(caller, &plan.document_id, Action::Change, AuditAction::DocumentVersion).await?;
            let now = chrono::Utc::now();
            let version = new_version_row(&plan.document_id, &object, filename, principal, now);
            let txn = self.db.begin().await?;
            let stored = repo::append_version(&txn, version, now).await?;
            jobs::enqueue(&txn, &plan.document_id, stored.version, JobKind::Extract).await?;
            let event = NewEvent::by(principal, &caller.request, AuditAction::DocumentVersion, Outcome::Allowed)
                .target(Target::version(&plan.document_id, stored.version))
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
        self.current_view(principal, &plan.document_id).await
    }

    // ---- changing --------------------------------------------------------------------------

    /// Change title, summary, language, tags and markings; audited with before and after.
    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        patch: DocumentPatch,
    ) -> Result<DocumentView, DocumentsError> {
        let principal = &caller.principal;
        let permitted = self.authorize(caller, id, Action::Change, AuditAction::DocumentUpdate).await?;
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
            row.tags = Set(json_list(&model::validate_tags(tags)?));
        }
        let mut markings_after = permitted.facts.markings.clone();
        if patch.changes_markings() {
            let input = patch.merged_markings(&permitted.facts.markings);
            markings_after = input.validate(&self.policy, principal, &permitted.row.originator_country)?;
            let stored = stored_markings(&markings_after);
            row.classification = Set(stored.classification);
            row.tlp = Set(stored.tlp);
            row.handling_code = Set(stored.handling_code);
            row.handling_note = Set(stored.handling_note);
            row.releasable_to = Set(json_list(&stored.releasable_to));
            row.recipients = Set(json_list(&stored.recipients));
        }
        row.updated_at = Set(chrono::Utc::now());
        let txn = self.db.begin().await?;
        let after = repo::update(&txn, row).await?;
        repo::bump_revision(&txn, id).await?;
        jobs::enqueue(&txn, id, after.current_version, JobKind::Refresh).await?;
        let event = NewEvent::by(principal, &caller.request, AuditAction::DocumentUpdate, Outcome::Allowed)
            .target(Target::version(id, after.current_version))
            .details(json!({
                // Titles, summaries and tags are document content, which auditors may not read
                // (DESIGN: nobody reads documents without document:read): the event names the
                // fields that changed, and the markings before and after.
                "changed": changed_fields(&before, &after),
                "before": {"markings": permitted.facts.markings},
                "after": {"markings": markings_after},
            }));
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        self.changed(&recorded);
        self.current_view(principal, id).await
    }

    pub async fn publish(&self, caller: &Caller, id: &str) -> Result<DocumentView, DocumentsError> {
        self.set_status(caller, id, Status::Published, AuditAction::DocumentPublish).await
    }

    /// Hide the document from everyone outside the originator organisation.
    pub async fn withdraw(&self, caller: &Caller, id: &str) -> Result<DocumentView, DocumentsError> {
        self.set_status(caller, id, Status::Withdrawn, AuditAction::DocumentWithdraw).await
    }

    async fn set_status(
        &self,
        caller: &Caller,
        id: &str,
        status: Status,
        action: AuditAction,
    ) -> Result<DocumentView, DocumentsError> {
        let permitted = self.authorize(caller, id, Action::Change, action).await?;
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
        let event = NewEvent::by(&caller.principal, &caller.request, action, Outcome::Allowed)
            .target(Target::version(id, permitted.row.current_version))
            .details(json!({"from": previous, "to": status, "markings": permitted.facts.markings}));
        let recorded = audit::Log::append(&txn, event).await?;
        txn.commit().await?;
        self.changed(&recorded);
        self.current_view(&caller.principal, id).await
    }

    // ---- policy ----------------------------------------------------------------------------

    /// Load a document and apply the policy; a refusal is audited as `action` with outcome
    /// `denied`, recorded against the id asked for. Missing and hidden documents give the same
    /// error after the same work: one lookup by id, one audit write.
    async fn authorize(
        &self,
        caller: &Caller,
        id: &str,
        action: Action,
        audit_action: AuditAction,
    ) -> Result<Permitted, DocumentsError> {
        let (refusal, error) = match self.load(&caller.principal, id, action).await? {
            Loaded::Permitted(permitted) => return Ok(*permitted),
            Loaded::Missing => (json!({"reason": "not_found"}), DocumentsError::NotFound),
            Loaded::Unreadable => (json!({"reason": "unreadable_markings"}), DocumentsError::NotFound),
            Loaded::Hidden(reason) => (json!({"reason": reason, "hidden": true}), DocumentsError::NotFound),
            Loaded::Forbidden(reason) => (json!({"reason": reason}), DocumentsError::Forbidden(reason)),
        };
        self.audit
            .record(
                NewEvent::by(&caller.principal, &caller.request, audit_action, Outcome::Denied)
                    .target(Target::document(id))
                    .details(refusal),
            )
            .await?;
        Err(error)
    }

    async fn load(&self, principal: &Principal, id: &str, action: Action) -> Result<Loaded, DocumentsError> {
        // The id is looked up as given (a padded id is simply missing). PostgreSQL refuses text
        // with NUL; such an id is looked up as "" instead, so it costs the same and answers 404.
        let lookup = if id.contains('\0') { "" } else { id };
        let Some(row) = repo::find(&self.db, lookup).await? else {
            return Ok(Loaded::Missing);
        };
        let Some(facts) = self.facts(&row) else {
            return Ok(Loaded::Unreadable);
        };
        Ok(match decide(principal, &facts, action) {
            Decision::Allow => Loaded::Permitted(Box::new(Permitted { row, facts })),
            Decision::Hidden(reason) => Loaded::Hidden(reason),
            Decision::Forbidden(reason) => Loaded::Forbidden(reason),
        })
    }

    fn facts(&self, row: &document::Model) -> Option<DocumentMarkings> {
        stored_facts(row, &self.policy)
    }

    /// The document as it is now, for the caller who just changed it (not a separate view).
    async fn current_view(&self, principal: &Principal, id: &str) -> Result<DocumentView, DocumentsError> {
        match self.load(principal, id, Action::See).await? {
            Loaded::Permitted(permitted) => self.view(principal, *permitted).await,
            _ => Err(DocumentsError::NotFound),
        }
    }

    async fn view(&self, principal: &Principal, permitted: Permitted) -> Result<DocumentView, DocumentsError> {
        let Permitted { row, facts } = permitted;
        let versions = repo::versions(&self.db, &row.id).await?.into_iter().map(version_view).collect();
        let can_change = decide(principal, &facts, Action::Change).is_allowed();
        Ok(DocumentView {
            id: row.id,
            title: row.title,
            summary: row.summary,
            language: row.language,
            tags: parse_list(&row.tags),
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

/// The access-relevant facts of a stored row. Anything unreadable fails closed: the document is
/// treated as hidden from everyone, and the operator is told.
pub fn stored_facts(row: &document::Model, policy: &PolicyConfig) -> Option<DocumentMarkings> {
    let input = MarkingsInput {
        classification: row.classification.clone(),
        tlp: row.tlp.clone(),
        handling_code: row.handling_code.clone(),
        handling_note: row.handling_note.clone(),
        releasable_to: parse_list(&row.releasable_to),
        recipients: parse_list(&row.recipients),
    };
    let markings = Markings::restore(&input, policy, &row.originator_country);
    let status = row.status.parse::<Status>();
    match (markings, status) {
        (Ok(markings), Ok(status)) => Some(DocumentMarkings {
            markings,
            originator_org: row.originator_org.clone(),
            originator_country: row.originator_country.clone(),
            status,
        }),
        (markings, status) => {
            tracing::error!(
                document = %row.id,
                markings = ?markings.err(),
                status = ?status.err(),
                "stored document does not fit the configured policy; hiding it"
            );
            None
        }
    }
}

/// Markings in their stored (string) form.
struct StoredMarkings {
    classification: String,
    tlp: String,
    handling_code: String,
    handling_note: Option<String>,
    releasable_to: Vec<String>,
    recipients: Vec<String>,
}

fn stored_markings(markings: &Markings) -> StoredMarkings {
    let input = markings.to_input();
    StoredMarkings {
        classification: input.classification,
        tlp: input.tlp,
        handling_code: input.handling_code,
        handling_note: input.handling_note,
        releasable_to: input.releasable_to,
        recipients: input.recipients,
    }
}

fn new_version_row(
    document_id: &str,
    object: &ReceivedObject,
    filename: Option<&str>,
    principal: &Principal,
    now: chrono::DateTime<chrono::Utc>,
) -> document_version::ActiveModel {
    document_version::ActiveModel {
        document_id: Set(document_id.to_owned()),
        object_key: Set(object.key.as_str().to_owned()),
        sha256: Set(object.sha256.clone()),
        size_bytes: Set(i64::try_from(object.size).unwrap_or(i64::MAX)),
        media_type: Set(detect_media_type(&object.head)),
        filename: Set(sanitise_filename(filename)),
        created_by: Set(principal.sub.clone()),
        created_at: Set(now),
        ..Default::default()
    }
}

fn version_view(row: document_version::Model) -> VersionView {
    VersionView {
        ingest: IngestView { state: row.ingest_state, error: row.ingest_error },
        detected_language: row.detected_language,
        version: row.version,
        sha256: row.sha256,
        size: row.size_bytes,
        media_type: row.media_type,
        filename: row.filename,
        created_by: row.created_by,
        created_at: row.created_at,
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

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub fn parse_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

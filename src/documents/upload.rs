//! Uploads: a new document or a new version is planned (validated and decided) before any byte
//! is read, its bytes are streamed into the object the plan reserved, and only then is it
//! committed — row, version, ingest job and audit event in one transaction. A failure anywhere
//! leaves nothing behind.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::TransactionTrait;
use serde_json::json;

use super::changes::{MAX_ATTEMPTS, Precondition};
use super::creation::{FirstVersion, NewRecord, extract_in_hand};
use super::model::{DerivedFrom, DocumentView, NewDocument, ValidNewDocument};
use super::service::Service;
use super::{DocumentsError, detect_media_type, sanitise_filename};
use crate::audit::{self, Action as AuditAction, NewEvent, Outcome, Target};
use crate::caller::Caller;
use crate::crypto::keyring::WrappedKey;
use crate::db::documents::{self as repo, NewVersionRow};
use crate::db::feed;
use crate::document_id::{DocumentId, RequestedId};
use crate::ingest::jobs;
use crate::policy::{Action, Capability, Markings, Principal, Reason, Status, organisation_key};
use crate::storage::{ObjectKey, ReceivedObject};
use crate::throttle::Limit;

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
    /// The source, when the new document is a derivative of one.
    derived_from: Option<DerivedFrom>,
    /// Whose key the bytes are encrypted under: the uploader's organisation, the originator.
    organisation: String,
}

/// A permitted upload waiting for its bytes: the only way to store any ([`Service::receive`]).
pub trait UploadPlan: sealed::Sealed {
    fn key(&self) -> &ObjectKey;
    /// The originating organisation (`country:organisation`): its key wraps the data key.
    fn organisation(&self) -> &str;
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

    fn organisation(&self) -> &str {
        &self.organisation
    }
}

/// A permitted new version waiting for its bytes. Only [`Service::plan_version`] makes one.
#[derive(Debug)]
pub struct VersionPlan {
    document_id: DocumentId,
    key: ObjectKey,
    /// The revision the request expected (`If-Match`), checked again at commit.
    precondition: Precondition,
    organisation: String,
}

impl UploadPlan for VersionPlan {
    fn key(&self) -> &ObjectKey {
        &self.key
    }

    fn organisation(&self) -> &str {
        &self.organisation
    }
}

impl Service {
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
        self.within(caller, Limit::Uploads).await?;
        self.may_create(caller).await?;
        self.plan(caller, new, None)
    }

    /// The plan of a new document from validated metadata (a derivative names its source).
    pub(super) fn plan(
        &self,
        caller: &Caller,
        new: NewDocument,
        derived_from: Option<DerivedFrom>,
    ) -> Result<CreatePlan, DocumentsError> {
        let ValidNewDocument { title, summary, language, tags, markings, publish } =
            new.validate(&self.policy, &caller.principal)?;
        let id = DocumentId::generate();
        let key = ObjectKey::version(id.uuid(), 1);
        let organisation = organisation_key(&caller.principal.country, &caller.principal.organisation);
        Ok(CreatePlan { id, key, title, summary, language, tags, markings, publish, derived_from, organisation })
    }

    /// Stream `body` into the new object `plan` reserved, hashing and counting. Any error aborts
    /// the upload: nothing is left behind.
    pub async fn receive<S, E>(&self, plan: &impl UploadPlan, mut body: S) -> Result<ReceivedObject, DocumentsError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut upload =
            self.storage.begin_upload_for(plan.key().clone(), self.max_upload_bytes, plan.organisation()).await?;
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
    /// same transaction — shared with concurrent uploads (group commit), durable before this
    /// returns. On failure the object is removed.
    pub async fn commit_create(
        &self,
        caller: &Caller,
        plan: CreatePlan,
        object: ReceivedObject,
        filename: Option<&str>,
    ) -> Result<DocumentView, DocumentsError> {
        let media_type = detect_media_type(object.head());
        // A small plain-text file is whole in the bytes kept for sniffing: its text is stored
        // now, as an import does, and the document needs no ingest job.
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        let text = if essence == "text/plain" && object.size() == object.head().len() as u64 {
            match extract_in_hand(&self.storage, &object, object.head(), plan.language.is_none(), &plan.organisation)
                .await
            {
                Ok(text) => Some(text),
                Err(error) => {
                    self.discard(object).await;
                    return Err(error.into());
                }
            }
        } else {
            None
        };
        let text_key = text.as_ref().and_then(|text| text.own_object(object.key()).cloned());
        let first = FirstVersion {
            id: plan.id,
            title: plan.title,
            summary: plan.summary,
            language: plan.language,
            tags: plan.tags,
            markings: &plan.markings,
            status: if plan.publish { Status::Published } else { Status::Draft },
            object: &object,
            media_type,
            filename: sanitise_filename(filename),
            text,
            derived_from: plan.derived_from.as_ref(),
        };
        let record = NewRecord::of(caller, first, chrono::Utc::now());
        let result = self.creations.record(record).await;
        if let (Err(_), Some(key)) = (&result, &text_key)
            && let Err(error) = self.storage.delete(key).await
        {
            tracing::error!(key = key.as_str(), %error, "could not remove the text of a failed upload");
        }
        self.keep_or_discard(result, object).await?;
        self.current_view(&caller.principal, plan.id).await
    }

    /// Permission to add a version to the document as `precondition` expects it, with an object
    /// key reserved for its bytes.
    pub async fn plan_version(
        &self,
        caller: &Caller,
        id: &RequestedId,
        precondition: Precondition,
    ) -> Result<VersionPlan, DocumentsError> {
        self.within(caller, Limit::Uploads).await?;
        let permitted = self.authorize(caller, id, Action::Change, AuditAction::DocumentVersion).await?;
        self.check(caller, &permitted, &precondition, AuditAction::DocumentVersion).await?;
        let txn = self.db.begin().await?;
        let slot = repo::reserve_slot(&txn, &permitted.row.id).await?;
        txn.commit().await?;
        let key = ObjectKey::version(permitted.id.uuid(), slot);
        let organisation = permitted.facts.organisation_key();
        Ok(VersionPlan { document_id: permitted.id, key, precondition, organisation })
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
            for _ in 0..MAX_ATTEMPTS {
                // The document may have changed during a long upload: permission and expectation
                // are decided again, on the revision the version then lands on (compare-and-set),
                // so the audited markings are exactly those it was added under.
                let permitted =
                    self.authorize(caller, &requested, Action::Change, AuditAction::DocumentVersion).await?;
                self.check(caller, &permitted, &plan.precondition, AuditAction::DocumentVersion).await?;
                let now = chrono::Utc::now();
                let version = version_row(plan.document_id, &object, filename, principal, now);
                let id = plan.document_id.to_string();
                let txn = self.db.begin().await?;
                let revision = permitted.row.revision;
                let Some(stored) = repo::append_version(&txn, version.into_active_model(), now, Some(revision)).await?
                else {
                    // Roll back before recording: SQLite holds its write lock until then.
                    drop(txn);
                    if plan.precondition != Precondition::None {
                        return Err(self.stale(caller, &permitted, AuditAction::DocumentVersion).await);
                    }
                    continue;
                };
                jobs::enqueue(&txn, &id, stored.version).await?;
                feed::stamp(&txn, &id).await?;
                let event = NewEvent::of(caller, AuditAction::DocumentVersion, Outcome::Allowed)
                    .target(Target::version(&id, stored.version))
                    .details(json!({
                        "markings": permitted.facts.markings,
                        "revision": revision,
                        "sha256": stored.sha256,
                        "size": stored.size_bytes,
                        "media_type": stored.media_type,
                    }));
                let recorded = audit::Log::append(&txn, event).await?;
                txn.commit().await?;
                return Ok::<_, DocumentsError>(recorded);
            }
            Err(DocumentsError::Busy)
        }
        .await;
        self.keep_or_discard(result, object).await?;
        self.current_view(principal, plan.document_id).await
    }
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
        sealed: object.sealed().map(WrappedKey::to_column),
    }
}

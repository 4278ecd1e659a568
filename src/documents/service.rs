//! The documents service: the only way routes reach documents. Every method that touches a
//! document loads it and asks `policy::decide` first.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::{ActiveValue::Set, DatabaseConnection, IntoActiveModel, TransactionTrait};
use uuid::Uuid;

use super::model::{self, DocumentPatch, DocumentView, NewDocument, VersionView};
use super::{DocumentsError, detect_media_type, sanitise_filename};
use crate::auth::{Capability, Principal};
use crate::db::documents as repo;
use crate::db::entities::{document, document_version};
use crate::policy::{
    Action, Decision, DocumentMarkings, Markings, MarkingsInput, PolicyConfig, Reason, Status, decide,
};
use crate::storage::{Download, ObjectKey, ReceivedObject, Storage};

pub struct Service {
    db: DatabaseConnection,
    storage: Storage,
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
    pub fn new(db: DatabaseConnection, storage: Storage, policy: Arc<PolicyConfig>, max_upload_bytes: u64) -> Self {
        Self {
            db,
            storage,
            policy,
            max_upload_bytes,
        }
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes
    }

    // ---- reading ---------------------------------------------------------------------------

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<DocumentView, DocumentsError> {
        let permitted = self.load(principal, id, Action::See).await?;
        self.view(principal, permitted).await
    }

    /// The version to download (`None` = current), if the caller may see the document.
    pub async fn content(
        &self,
        principal: &Principal,
        id: &str,
        version: Option<i32>,
    ) -> Result<Content, DocumentsError> {
        let permitted = self.load(principal, id, Action::See).await?;
        let number = version.unwrap_or(permitted.row.current_version);
        let row = repo::version(&self.db, &permitted.row.id, number)
            .await?
            .ok_or(DocumentsError::VersionNotFound(number))?;
        Ok(Content {
            key: ObjectKey::from_stored(&row.object_key),
            view: version_view(row),
        })
    }

    /// Stream the bytes of a permitted version, or a range of them.
    pub async fn open(&self, content: &Content, range: Option<Range<u64>>) -> Result<Download, DocumentsError> {
        Ok(self.storage.download(&content.key, range).await?)
    }

    // ---- uploading -------------------------------------------------------------------------

    /// Validate an upload's metadata before any byte is stored.
    pub fn plan_create(&self, principal: &Principal, new: NewDocument) -> Result<CreatePlan, DocumentsError> {
        if !principal.has(Capability::DocumentWrite) {
            return Err(DocumentsError::Forbidden(Reason::NoWriteCapability));
        }
        let title = model::validate_title(&new.title)?;
        let summary = model::validate_summary(new.summary.as_deref())?;
        let language = model::validate_language(new.language.as_deref())?;
        let tags = model::validate_tags(&new.tags)?;
        let markings = new
            .markings_input()
            .validate(&self.policy, principal, &principal.country)?;
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
                Err(error) => Err(DocumentsError::malformed(
                    "file",
                    format!("the upload was interrupted: {error}"),
                )),
            };
            if let Err(error) = written {
                upload.abort().await;
                return Err(error);
            }
        }
        Ok(upload.finish().await?)
    }

    /// Remove an object received for a request that failed after all.
    pub async fn discard(&self, object: ReceivedObject) {
        if let Err(error) = self.storage.delete(&object.key).await {
            tracing::error!(key = object.key.as_str(), %error, "could not remove an orphaned object");
        }
    }

    /// Record a new document whose bytes are stored. On failure the object is removed.
    pub async fn commit_create(
        &self,
        principal: &Principal,
        plan: CreatePlan,
        object: ReceivedObject,
        filename: Option<&str>,
    ) -> Result<DocumentView, DocumentsError> {
        let now = chrono::Utc::now();
        let status = if plan.publish { Status::Published } else { Status::Draft };
        let markings = stored_markings(&plan.markings);
        let row = document::ActiveModel {
            id: Set(plan.id.to_string()),
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
        };
        let version = new_version_row(&plan.id.to_string(), &object, filename, principal, now);
        let result = async {
            let txn = self.db.begin().await?;
            repo::insert(&txn, row).await?;
            repo::append_version(&txn, version, now).await?;
            txn.commit().await
        }
        .await;
        if let Err(error) = result {
            self.discard(object).await;
            return Err(error.into());
        }
        self.get(principal, &plan.id.to_string()).await
    }

    /// Permission to add a version, with an object key reserved for its bytes.
    pub async fn plan_version(&self, principal: &Principal, id: &str) -> Result<VersionPlan, DocumentsError> {
        let permitted = self.load(principal, id, Action::Change).await?;
        let txn = self.db.begin().await?;
        let slot = repo::reserve_slot(&txn, &permitted.row.id).await?;
        txn.commit().await?;
        let uuid = Uuid::parse_str(&permitted.row.id).map_err(|e| {
            DocumentsError::Storage(crate::storage::StorageError::Config(format!(
                "document id `{}` is not a UUID: {e}",
                permitted.row.id
            )))
        })?;
        Ok(VersionPlan {
            document_id: permitted.row.id,
            key: ObjectKey::version(uuid, slot),
        })
    }

    /// Record a new version whose bytes are stored; the permission is checked again, since the
    /// document may have changed during a long upload. On failure the object is removed.
    pub async fn commit_version(
        &self,
        principal: &Principal,
        plan: VersionPlan,
        object: ReceivedObject,
        filename: Option<&str>,
    ) -> Result<DocumentView, DocumentsError> {
        let result = async {
            self.load(principal, &plan.document_id, Action::Change).await?;
            let now = chrono::Utc::now();
            let version = new_version_row(&plan.document_id, &object, filename, principal, now);
            let txn = self.db.begin().await?;
            repo::append_version(&txn, version, now).await?;
            txn.commit().await?;
            Ok::<_, DocumentsError>(())
        }
        .await;
        if let Err(error) = result {
            self.discard(object).await;
            return Err(error);
        }
        self.get(principal, &plan.document_id).await
    }

    // ---- changing --------------------------------------------------------------------------

    /// Change title, summary, language, tags and markings.
    pub async fn update(
        &self,
        principal: &Principal,
        id: &str,
        patch: DocumentPatch,
    ) -> Result<DocumentView, DocumentsError> {
        let permitted = self.load(principal, id, Action::Change).await?;
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
        if patch.changes_markings() {
            let input = patch.merged_markings(&permitted.facts.markings);
            let markings = input.validate(&self.policy, principal, &permitted.row.originator_country)?;
            let stored = stored_markings(&markings);
            row.classification = Set(stored.classification);
            row.tlp = Set(stored.tlp);
            row.handling_code = Set(stored.handling_code);
            row.handling_note = Set(stored.handling_note);
            row.releasable_to = Set(json_list(&stored.releasable_to));
            row.recipients = Set(json_list(&stored.recipients));
        }
        row.updated_at = Set(chrono::Utc::now());
        repo::update(&self.db, row).await?;
        self.get(principal, id).await
    }

    pub async fn publish(&self, principal: &Principal, id: &str) -> Result<DocumentView, DocumentsError> {
        self.set_status(principal, id, Status::Published).await
    }

    /// Hide the document from everyone outside the originator organisation.
    pub async fn withdraw(&self, principal: &Principal, id: &str) -> Result<DocumentView, DocumentsError> {
        self.set_status(principal, id, Status::Withdrawn).await
    }

    async fn set_status(
        &self,
        principal: &Principal,
        id: &str,
        status: Status,
    ) -> Result<DocumentView, DocumentsError> {
        let permitted = self.load(principal, id, Action::Change).await?;
        if permitted.facts.status != status {
            let now = chrono::Utc::now();
            let mut row = permitted.row.clone().into_active_model();
            row.status = Set(status.as_str().to_owned());
            row.updated_at = Set(now);
            if status == Status::Published {
                row.published_at = Set(Some(now));
            }
            repo::update(&self.db, row).await?;
        }
        self.get(principal, id).await
    }

    // ---- policy ----------------------------------------------------------------------------

    /// Load a document and apply the policy. Missing and hidden documents give the same error
    /// after the same work: one lookup by id, whatever the id looks like.
    async fn load(&self, principal: &Principal, id: &str, action: Action) -> Result<Permitted, DocumentsError> {
        let row = repo::find(&self.db, id.trim()).await?.ok_or(DocumentsError::NotFound)?;
        let facts = self.facts(&row)?;
        match decide(principal, &facts, action) {
            Decision::Allow => Ok(Permitted { row, facts }),
            Decision::Hidden(_) => Err(DocumentsError::NotFound),
            Decision::Forbidden(reason) => Err(DocumentsError::Forbidden(reason)),
        }
    }

    /// The access-relevant facts of a stored row. Anything unreadable fails closed: the
    /// document is treated as hidden from everyone, and the operator is told.
    fn facts(&self, row: &document::Model) -> Result<DocumentMarkings, DocumentsError> {
        let input = MarkingsInput {
            classification: row.classification.clone(),
            tlp: row.tlp.clone(),
            handling_code: row.handling_code.clone(),
            handling_note: row.handling_note.clone(),
            releasable_to: parse_list(&row.releasable_to),
            recipients: parse_list(&row.recipients),
        };
        let markings = Markings::restore(&input, &self.policy, &row.originator_country);
        let status = row.status.parse::<Status>();
        match (markings, status) {
            (Ok(markings), Ok(status)) => Ok(DocumentMarkings {
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
                Err(DocumentsError::NotFound)
            }
        }
    }

    async fn view(&self, principal: &Principal, permitted: Permitted) -> Result<DocumentView, DocumentsError> {
        let Permitted { row, facts } = permitted;
        let versions = repo::versions(&self.db, &row.id)
            .await?
            .into_iter()
            .map(version_view)
            .collect();
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
        version: row.version,
        sha256: row.sha256,
        size: row.size_bytes,
        media_type: row.media_type,
        filename: row.filename,
        created_by: row.created_by,
        created_at: row.created_at,
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

fn parse_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

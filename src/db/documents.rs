//! Repository of documents and their versions, and the one mapping between their rows and the
//! policy's types. Callers decide access (documents::Service, search::Service); this module only
//! reads and writes rows.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::{document, document_version};
use crate::policy::{DocumentMarkings, Markings, MarkingsInput, PolicyConfig, Status};

/// A stored document row read into the policy's types.
#[derive(Clone, Debug)]
pub struct Readable {
    /// What access depends on.
    pub facts: DocumentMarkings,
    pub tags: Vec<String>,
}

/// The stored row read once, or `None` — the document is hidden from everyone, and the operator
/// is told — when it cannot be read as stored: markings that no longer fit the configured policy
/// (a level or country removed from the configuration), an unknown status, or a list column that
/// is not a JSON list. Fail closed, never guess.
pub fn read(row: &document::Model, policy: &PolicyConfig) -> Option<Readable> {
    let (Some(releasable_to), Some(recipients), Some(tags)) =
        (row.releasable_to.items(), row.recipients.items(), row.tags.items())
    else {
        tracing::error!(document = %row.id, "a stored list of the document is corrupt; hiding it");
        return None;
    };
    let input = MarkingsInput {
        classification: row.classification.clone(),
        tlp: row.tlp.clone(),
        handling_code: row.handling_code.clone(),
        handling_note: row.handling_note.clone(),
        releasable_to: releasable_to.to_vec(),
        recipients: recipients.to_vec(),
    };
    let markings = Markings::restore(&input, policy, &row.originator_country);
    let status = row.status.parse::<Status>();
    match (markings, status) {
        (Ok(markings), Ok(status)) => Some(Readable {
            facts: DocumentMarkings {
                markings,
                originator_org: row.originator_org.clone(),
                originator_country: row.originator_country.clone(),
                status,
            },
            tags: tags.to_vec(),
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

/// Set the marking columns of `row` to `markings`.
pub fn set_markings(row: &mut document::ActiveModel, markings: &Markings) {
    let input = markings.to_input();
    row.classification = Set(input.classification);
    row.tlp = Set(input.tlp);
    row.handling_code = Set(input.handling_code);
    row.handling_note = Set(input.handling_note);
    row.releasable_to = Set(input.releasable_to.into());
    row.recipients = Set(input.recipients.into());
}

/// A new document's row, before its first version is appended.
pub struct NewDocumentRow<'a> {
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub markings: &'a Markings,
    pub originator_org: String,
    pub originator_country: String,
    pub originator_sub: String,
    pub status: Status,
    /// The source of a derivative.
    pub derived_from: Option<String>,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl NewDocumentRow<'_> {
    pub fn into_active_model(self) -> document::ActiveModel {
        let mut row = document::ActiveModel {
            id: Set(self.id),
            title: Set(self.title),
            summary: Set(self.summary),
            language: Set(self.language),
            tags: Set(self.tags.into()),
            originator_org: Set(self.originator_org),
            originator_country: Set(self.originator_country),
            originator_sub: Set(self.originator_sub),
            status: Set(self.status.as_str().to_owned()),
            current_version: Set(0),
            upload_slots: Set(1),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            published_at: Set((self.status == Status::Published).then_some(self.now)),
            revision: Set(1),
            derived_from: Set(self.derived_from),
            ..Default::default()
        };
        set_markings(&mut row, self.markings);
        row
    }
}

/// A version's row (its number is assigned by [`append_version`]).
pub struct NewVersionRow {
    pub document_id: String,
    pub object_key: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub media_type: String,
    pub filename: String,
    pub created_by: String,
    pub now: chrono::DateTime<chrono::Utc>,
    /// How the object is encrypted (see `document_version::Model::sealed`).
    pub sealed: Option<String>,
}

impl NewVersionRow {
    pub fn into_active_model(self) -> document_version::ActiveModel {
        document_version::ActiveModel {
            document_id: Set(self.document_id),
            object_key: Set(self.object_key),
            sha256: Set(self.sha256),
            size_bytes: Set(self.size_bytes),
            media_type: Set(self.media_type),
            filename: Set(self.filename),
            created_by: Set(self.created_by),
            created_at: Set(self.now),
            sealed: Set(self.sealed),
            text_sealed: Set(None),
            ..Default::default()
        }
    }
}

/// The document's latest `change_seq` (see `db::feed`).
pub async fn change_seq(db: &impl ConnectionTrait, id: &str) -> Result<Option<i64>, DbErr> {
    use sea_orm::QuerySelect;
    document::Entity::find_by_id(id.to_owned())
        .select_only()
        .column(document::Column::ChangeSeq)
        .into_tuple()
        .one(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The documents of `ids` that exist (in no particular order).
pub async fn find_all(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<document::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    document::Entity::find().filter(document::Column::Id.is_in(ids.iter().cloned())).all(db).await
}

/// The documents derived from `source`, oldest first.
pub async fn derivatives_of(db: &impl ConnectionTrait, source: &str) -> Result<Vec<document::Model>, DbErr> {
    document::Entity::find()
        .filter(document::Column::DerivedFrom.eq(source))
        .order_by_asc(document::Column::CreatedAt)
        .order_by_asc(document::Column::Id)
        .all(db)
        .await
}

/// All versions of a document, oldest first.
pub async fn versions(db: &impl ConnectionTrait, id: &str) -> Result<Vec<document_version::Model>, DbErr> {
    document_version::Entity::find()
        .filter(document_version::Column::DocumentId.eq(id))
        .order_by_asc(document_version::Column::Version)
        .all(db)
        .await
}

pub async fn version(
    db: &impl ConnectionTrait,
    id: &str,
    version: i32,
) -> Result<Option<document_version::Model>, DbErr> {
    document_version::Entity::find()
        .filter(document_version::Column::DocumentId.eq(id))
        .filter(document_version::Column::Version.eq(version))
        .one(db)
        .await
}

/// Hand out the next object-key slot of a document. Call inside a transaction: the UPDATE locks
/// the row (PostgreSQL) or the database (SQLite) until commit, so concurrent callers get
/// distinct slots.
pub async fn reserve_slot(txn: &impl ConnectionTrait, id: &str) -> Result<i32, DbErr> {
    document::Entity::update_many()
        .col_expr(document::Column::UploadSlots, Expr::col(document::Column::UploadSlots).add(1))
        .filter(document::Column::Id.eq(id))
        .exec(txn)
        .await?;
    let row = find(txn, id).await?.ok_or_else(|| DbErr::RecordNotFound(id.to_owned()))?;
    Ok(row.upload_slots)
}

/// Make `version` (its number is assigned here) the current version — if the document is still
/// at revision `expected`, when given (`None` when it no longer is). Call inside a transaction.
pub async fn append_version(
    txn: &impl ConnectionTrait,
    mut version: document_version::ActiveModel,
    now: chrono::DateTime<chrono::Utc>,
    expected: Option<i32>,
) -> Result<Option<document_version::Model>, DbErr> {
    let id = match &version.document_id {
        sea_orm::ActiveValue::Set(id) | sea_orm::ActiveValue::Unchanged(id) => id.clone(),
        sea_orm::ActiveValue::NotSet => return Err(DbErr::Custom("version without a document".into())),
    };
    let mut update = document::Entity::update_many()
        .col_expr(document::Column::CurrentVersion, Expr::col(document::Column::CurrentVersion).add(1))
        .col_expr(document::Column::Revision, Expr::col(document::Column::Revision).add(1))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(id.as_str()));
    if let Some(revision) = expected {
        update = update.filter(document::Column::Revision.eq(revision));
    }
    if update.exec(txn).await?.rows_affected == 0 {
        return Ok(None);
    }
    let row = find(txn, &id).await?.ok_or_else(|| DbErr::RecordNotFound(id.clone()))?;
    version.version = sea_orm::ActiveValue::Set(row.current_version);
    Ok(Some(version.insert(txn).await?))
}

/// Write the changed fields of `row` and move the revision on — only if the document is still
/// at `revision` (compare-and-set): `None` when someone changed it meanwhile. Call inside a
/// transaction, with `feed::stamp` when the index must follow.
pub async fn update_at_revision(
    txn: &impl ConnectionTrait,
    row: document::ActiveModel,
    id: &str,
    revision: i32,
) -> Result<Option<document::Model>, DbErr> {
    let updated = document::Entity::update_many()
        .set(row)
        .col_expr(document::Column::Revision, Expr::col(document::Column::Revision).add(1))
        .filter(document::Column::Id.eq(id))
        .filter(document::Column::Revision.eq(revision))
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    find(txn, id).await
}

pub async fn insert(txn: &impl ConnectionTrait, row: document::ActiveModel) -> Result<document::Model, DbErr> {
    row.insert(txn).await
}

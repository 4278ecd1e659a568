//! Repository of documents and their versions. Callers decide access (documents::Service); this
//! module only reads and writes rows.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{document, document_version};

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id.to_owned()).one(db).await
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

/// Make `version` (its number is assigned here) the current version. Call inside a transaction.
pub async fn append_version(
    txn: &impl ConnectionTrait,
    mut version: document_version::ActiveModel,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<document_version::Model, DbErr> {
    let id = match &version.document_id {
        sea_orm::ActiveValue::Set(id) | sea_orm::ActiveValue::Unchanged(id) => id.clone(),
        sea_orm::ActiveValue::NotSet => return Err(DbErr::Custom("version without a document".into())),
    };
    document::Entity::update_many()
        .col_expr(document::Column::CurrentVersion, Expr::col(document::Column::CurrentVersion).add(1))
        .col_expr(document::Column::Revision, Expr::col(document::Column::Revision).add(1))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(id.as_str()))
        .exec(txn)
        .await?;
    let row = find(txn, &id).await?.ok_or_else(|| DbErr::RecordNotFound(id.clone()))?;
    version.version = sea_orm::ActiveValue::Set(row.current_version);
    version.insert(txn).await
}

/// Mark a document changed: the search index reconciles on this number. Inside a transaction.
pub async fn bump_revision(txn: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    document::Entity::update_many()
        .col_expr(document::Column::Revision, Expr::col(document::Column::Revision).add(1))
        .filter(document::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

pub async fn insert(txn: &impl ConnectionTrait, row: document::ActiveModel) -> Result<document::Model, DbErr> {
    row.insert(txn).await
}

pub async fn update(txn: &impl ConnectionTrait, row: document::ActiveModel) -> Result<document::Model, DbErr> {
    row.update(txn).await
}

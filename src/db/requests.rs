//! Repository of handling-code requests (`handling_requests`). Who may make, see or decide a
//! request is `policy::requests`'; this module stores what the service has allowed.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::handling_request;

/// The states of a request: it starts pending and is decided (or closed) once.
pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";
/// The document was withdrawn while the request was open.
pub const WITHDRAWN: &str = "withdrawn";

/// Whose requests: those on the caller's organisation's documents, or its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestBox {
    /// Requests on documents provided by this organisation key.
    Incoming(String),
    /// Requests made by this organisation key.
    Outgoing(String),
}

pub async fn insert(db: &impl ConnectionTrait, row: handling_request::Model) -> Result<handling_request::Model, DbErr> {
    // Every column set (`reset_all`), absent ones as NULL.
    let active = handling_request::ActiveModel::from(row.clone()).reset_all();
    handling_request::Entity::insert(active).exec_without_returning(db).await?;
    Ok(row)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<handling_request::Model>, DbErr> {
    handling_request::Entity::find_by_id(id.to_owned()).one(db).await
}

/// A box's requests, newest first, optionally of one status; at most `limit`.
pub async fn list(
    db: &impl ConnectionTrait,
    r#box: &RequestBox,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<handling_request::Model>, DbErr> {
    let mut query = handling_request::Entity::find();
    query = match r#box {
        RequestBox::Incoming(provider) => query.filter(handling_request::Column::ProviderKey.eq(provider.as_str())),
        RequestBox::Outgoing(requester) => query.filter(handling_request::Column::RequesterKey.eq(requester.as_str())),
    };
    if let Some(status) = status {
        query = query.filter(handling_request::Column::Status.eq(status));
    }
    query
        .order_by_desc(handling_request::Column::CreatedAt)
        .order_by_desc(handling_request::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The approved requests of organisation `requester` on `document`, oldest first: the
/// permissions that organisation holds.
pub async fn approved_for(
    db: &impl ConnectionTrait,
    document: &str,
    requester: &str,
) -> Result<Vec<handling_request::Model>, DbErr> {
    handling_request::Entity::find()
        .filter(handling_request::Column::DocumentId.eq(document))
        .filter(handling_request::Column::RequesterKey.eq(requester))
        .filter(handling_request::Column::Status.eq(APPROVED))
        .order_by_asc(handling_request::Column::DecidedAt)
        .order_by_asc(handling_request::Column::Id)
        .all(db)
        .await
}

/// The provider's answer to a pending request.
pub struct Decided<'a> {
    pub status: &'a str,
    pub decided_by: &'a str,
    pub note: &'a str,
    pub derivative_id: Option<&'a str>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Record `decided` on request `id` if it is still pending. `Ok(false)`: it was not — decided by
/// someone else first, or closed — and nothing changed (a request is decided once).
pub async fn decide(db: &impl ConnectionTrait, id: &str, decided: Decided<'_>) -> Result<bool, DbErr> {
    let result = handling_request::Entity::update_many()
        .col_expr(handling_request::Column::Status, Expr::value(decided.status))
        .col_expr(handling_request::Column::DecidedBy, Expr::value(Some(decided.decided_by.to_owned())))
        .col_expr(handling_request::Column::DecisionNote, Expr::value(Some(decided.note.to_owned())))
        .col_expr(handling_request::Column::DerivativeId, Expr::value(decided.derivative_id.map(str::to_owned)))
        .col_expr(handling_request::Column::DecidedAt, Expr::value(Some(decided.at)))
        .filter(handling_request::Column::Id.eq(id))
        .filter(handling_request::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Close the open requests on a withdrawn document; returns how many were closed.
pub async fn close_open_on(
    db: &impl ConnectionTrait,
    document_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    let result = handling_request::Entity::update_many()
        .col_expr(handling_request::Column::Status, Expr::value(WITHDRAWN))
        .col_expr(handling_request::Column::DecidedAt, Expr::value(Some(at)))
        .filter(handling_request::Column::DocumentId.eq(document_id))
        .filter(handling_request::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

//! Repository of saved searches and notifications. Every query names its owner — a principal
//! is subject, organisation and country together — so one principal's rows never answer for
//! another's. Who may see what a notification points to is decided by `notify`, not here.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::columns::StringList;
use super::entities::{alert_position, notification, saved_search};

/// Whose rows: a principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub sub: String,
    pub organisation: String,
    pub country: String,
}

impl Owner {
    fn saved(&self) -> Condition {
        Condition::all()
            .add(saved_search::Column::OwnerSub.eq(self.sub.as_str()))
            .add(saved_search::Column::OwnerOrganisation.eq(self.organisation.as_str()))
            .add(saved_search::Column::OwnerCountry.eq(self.country.as_str()))
    }

    fn notified(&self) -> Condition {
        Condition::all()
            .add(notification::Column::OwnerSub.eq(self.sub.as_str()))
            .add(notification::Column::OwnerOrganisation.eq(self.organisation.as_str()))
            .add(notification::Column::OwnerCountry.eq(self.country.as_str()))
    }
}

// ---- saved searches ------------------------------------------------------------------------

pub async fn insert(db: &impl ConnectionTrait, row: saved_search::Model) -> Result<saved_search::Model, DbErr> {
    saved_search::Entity::insert(saved_search::ActiveModel::from(row.clone()).reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// The owner's saved searches, oldest first.
pub async fn list(db: &impl ConnectionTrait, owner: &Owner) -> Result<Vec<saved_search::Model>, DbErr> {
    saved_search::Entity::find()
        .filter(owner.saved())
        .order_by_asc(saved_search::Column::CreatedAt)
        .order_by_asc(saved_search::Column::Id)
        .all(db)
        .await
}

/// The owner's saved search `id` (someone else's is `None`, like a missing one).
pub async fn find(db: &impl ConnectionTrait, owner: &Owner, id: &str) -> Result<Option<saved_search::Model>, DbErr> {
    saved_search::Entity::find_by_id(id.to_owned()).filter(owner.saved()).one(db).await
}

pub async fn update(db: &impl ConnectionTrait, row: saved_search::Model) -> Result<saved_search::Model, DbErr> {
    saved_search::ActiveModel::from(row).reset_all().update(db).await
}

/// Remove the owner's saved search `id` and every notification it made; `false` if there was
/// no such search of theirs.
pub async fn delete(db: &impl ConnectionTrait, owner: &Owner, id: &str) -> Result<bool, DbErr> {
    notification::Entity::delete_many()
        .filter(owner.notified())
        .filter(notification::Column::SavedSearchId.eq(id))
        .exec(db)
        .await?;
    let deleted = saved_search::Entity::delete_many()
        .filter(owner.saved())
        .filter(saved_search::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Keep the owner's clearance, capabilities and e-mail address as they are now on all their
/// saved searches.
pub async fn refresh_owner(
    db: &impl ConnectionTrait,
    owner: &Owner,
    clearance: &str,
    capabilities: Vec<String>,
    email: Option<&str>,
) -> Result<(), DbErr> {
    let capabilities = StringList::Items(capabilities);
    let email_differs = match email {
        Some(email) => Condition::any()
            .add(saved_search::Column::OwnerEmail.ne(email))
            .add(saved_search::Column::OwnerEmail.is_null()),
        None => Condition::all().add(saved_search::Column::OwnerEmail.is_not_null()),
    };
    // Only rows that differ: reading saved searches or notifications writes nothing when the
    // owner is as they were.
    let differs = Condition::any()
        .add(saved_search::Column::OwnerClearance.ne(clearance))
        .add(saved_search::Column::OwnerCapabilities.ne(capabilities.clone()))
        .add(email_differs);
    saved_search::Entity::update_many()
        .col_expr(saved_search::Column::OwnerClearance, Expr::value(clearance))
        .col_expr(saved_search::Column::OwnerEmail, Expr::value(email.map(str::to_owned)))
        .col_expr(saved_search::Column::OwnerCapabilities, Expr::value(capabilities))
        .filter(owner.saved())
        .filter(differs)
        .exec(db)
        .await?;
    Ok(())
}

/// Every saved search with its alert on.
pub async fn alerting(db: &impl ConnectionTrait) -> Result<Vec<saved_search::Model>, DbErr> {
    saved_search::Entity::find().filter(saved_search::Column::Alert.eq(true)).all(db).await
}

// ---- notifications -----------------------------------------------------------------------

/// What a notification of a handling-code request (`request`, to the document's provider) or of
/// its decision (`decision`, to the requester) says: which request, on which document.
pub fn of_request(owner: &Owner, kind: &str, document: &str, request: &str) -> notification::Model {
    notification::Model {
        id: uuid::Uuid::new_v4().hyphenated().to_string(),
        owner_sub: owner.sub.clone(),
        owner_organisation: owner.organisation.clone(),
        owner_country: owner.country.clone(),
        kind: kind.to_owned(),
        created_at: chrono::Utc::now(),
        read_at: None,
        saved_search_id: None,
        document_id: Some(document.to_owned()),
        request_id: Some(request.to_owned()),
        emailed_at: None,
    }
}

/// Record a notification.
pub async fn notify(db: &impl ConnectionTrait, row: notification::Model) -> Result<(), DbErr> {
    notification::Entity::insert(notification::ActiveModel::from(row).reset_all()).exec_without_returning(db).await?;
    Ok(())
}

/// Record `row` unless its saved search told its owner of its document before; `true` if new.
pub async fn notify_once(db: &impl ConnectionTrait, row: notification::Model) -> Result<bool, DbErr> {
    let inserted = notification::Entity::insert(notification::ActiveModel::from(row).reset_all())
        .on_conflict(
            OnConflict::columns([notification::Column::SavedSearchId, notification::Column::DocumentId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// The owner's notifications, newest first, after `before` (`(created_at, id)` of the last one
/// of the previous page), unread ones only if asked; at most `limit`.
pub async fn page(
    db: &impl ConnectionTrait,
    owner: &Owner,
    unread_only: bool,
    before: Option<(chrono::DateTime<chrono::Utc>, String)>,
    limit: u64,
) -> Result<Vec<notification::Model>, DbErr> {
    let mut query = notification::Entity::find().filter(owner.notified());
    if unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    if let Some((at, id)) = before {
        query =
            query.filter(Condition::any().add(notification::Column::CreatedAt.lt(at)).add(
                Condition::all().add(notification::Column::CreatedAt.eq(at)).add(notification::Column::Id.lt(id)),
            ));
    }
    query
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The owner's newest unread notifications, at most `limit` (the caller decides which still
/// count).
pub async fn unread(db: &impl ConnectionTrait, owner: &Owner, limit: u64) -> Result<Vec<notification::Model>, DbErr> {
    notification::Entity::find()
        .filter(owner.notified())
        .filter(notification::Column::ReadAt.is_null())
        .order_by_desc(notification::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// The owner's notification `id` (someone else's is `None`).
pub async fn find_notification(
    db: &impl ConnectionTrait,
    owner: &Owner,
    id: &str,
) -> Result<Option<notification::Model>, DbErr> {
    notification::Entity::find_by_id(id.to_owned()).filter(owner.notified()).one(db).await
}

/// Mark the owner's notification `id` read; `false` if they have no such notification.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    owner: &Owner,
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let exists = notification::Entity::find_by_id(id.to_owned()).filter(owner.notified()).count(db).await? == 1;
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Some(at)))
        .filter(owner.notified())
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(exists)
}

/// Mark every notification of the owner read; returns how many were unread.
pub async fn mark_all_read(
    db: &impl ConnectionTrait,
    owner: &Owner,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    let result = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Some(at)))
        .filter(owner.notified())
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Notifications of `kind` no e-mail digest has counted yet, oldest first; at most `limit`.
pub async fn not_emailed(db: &impl ConnectionTrait, kind: &str, limit: u64) -> Result<Vec<notification::Model>, DbErr> {
    notification::Entity::find()
        .filter(notification::Column::Kind.eq(kind))
        .filter(notification::Column::EmailedAt.is_null())
        .order_by_asc(notification::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Claim notification `id` for a digest; `false` if another digest claimed it first.
pub async fn claim_for_email(
    db: &impl ConnectionTrait,
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let result = notification::Entity::update_many()
        .col_expr(notification::Column::EmailedAt, Expr::value(Some(at)))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::EmailedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Give claimed notifications back (their digest could not be sent).
pub async fn unclaim_for_email(db: &impl ConnectionTrait, ids: &[String]) -> Result<(), DbErr> {
    notification::Entity::update_many()
        .col_expr(notification::Column::EmailedAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(notification::Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

// ---- the alert position ------------------------------------------------------------------

/// The change-feed number up to which alerts have been evaluated.
pub async fn alert_position(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(alert_position::Entity::find_by_id(1).one(db).await?.map_or(0, |row| row.seq))
}

/// Move the position from `from` to `to`; `false` if another replica moved it first.
pub async fn advance_alerts(db: &impl ConnectionTrait, from: i64, to: i64) -> Result<bool, DbErr> {
    let result = alert_position::Entity::update_many()
        .col_expr(alert_position::Column::Seq, Expr::value(to))
        .filter(alert_position::Column::Id.eq(1))
        .filter(alert_position::Column::Seq.eq(from))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

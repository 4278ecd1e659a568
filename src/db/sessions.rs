//! Repository of browser sessions and of sign-ins in progress. Rows are found by the SHA-256 of
//! the session id (the cookie's value never reaches the database) and by the `state` of the
//! sign-in; `auth` decides what they mean.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::entities::{web_login, web_session};

pub async fn insert_session(
    db: &DatabaseConnection,
    id_hash: String,
    claims: &serde_json::Value,
    csrf: String,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    web_session::Entity::insert(web_session::ActiveModel {
        id_hash: Set(id_hash),
        principal: Set(claims.to_string()),
        csrf: Set(csrf),
        expires_at: Set(expires_at),
        created_at: Set(chrono::Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The session with this id hash, unless it has expired.
pub async fn live_session(db: &DatabaseConnection, id_hash: &str) -> Result<Option<web_session::Model>, DbErr> {
    web_session::Entity::find()
        .filter(web_session::Column::IdHash.eq(id_hash))
        .filter(web_session::Column::ExpiresAt.gt(chrono::Utc::now()))
        .one(db)
        .await
}

pub async fn delete_session(db: &DatabaseConnection, id_hash: &str) -> Result<(), DbErr> {
    web_session::Entity::delete_by_id(id_hash.to_owned()).exec(db).await?;
    Ok(())
}

/// A sign-in sent to the identity provider, waiting for its callback.
pub struct PendingSignIn {
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_to: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// SHA-256 of the cookie the starting browser holds.
    pub browser_hash: String,
    pub client_ip: String,
}

pub async fn insert_sign_in(db: &DatabaseConnection, pending: PendingSignIn) -> Result<(), DbErr> {
    web_login::Entity::insert(web_login::ActiveModel {
        state: Set(pending.state),
        pkce_verifier: Set(pending.pkce_verifier),
        nonce: Set(pending.nonce),
        return_to: Set(pending.return_to),
        created_at: Set(pending.created_at),
        browser_hash: Set(pending.browser_hash),
        client_ip: Set(pending.client_ip),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The sign-in with this `state` started by the browser whose cookie hashes to `browser_hash`,
/// removed as it is read — in one statement (DELETE … RETURNING), so that two requests, on one
/// replica or two, cannot both complete it; a request from another browser removes nothing.
pub async fn take_sign_in(
    db: &DatabaseConnection,
    state: &str,
    browser_hash: &str,
) -> Result<Option<PendingSignIn>, DbErr> {
    let row = web_login::Entity::delete_many()
        .filter(web_login::Column::State.eq(state))
        .filter(web_login::Column::BrowserHash.eq(browser_hash))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next();
    Ok(row.map(|row| PendingSignIn {
        state: row.state,
        pkce_verifier: row.pkce_verifier,
        nonce: row.nonce,
        return_to: row.return_to,
        created_at: row.created_at,
        browser_hash: row.browser_hash,
        client_ip: row.client_ip,
    }))
}

/// Keep at most `keep` sign-ins in progress from `client`, removing the oldest beyond that.
pub async fn trim_sign_ins(db: &DatabaseConnection, client: &str, keep: u64) -> Result<u64, DbErr> {
    let pending = web_login::Entity::find().filter(web_login::Column::ClientIp.eq(client)).count(db).await?;
    if pending <= keep {
        return Ok(0);
    }
    let oldest: Vec<String> = web_login::Entity::find()
        .select_only()
        .column(web_login::Column::State)
        .filter(web_login::Column::ClientIp.eq(client))
        .order_by_asc(web_login::Column::CreatedAt)
        .limit(pending - keep)
        .into_tuple()
        .all(db)
        .await?;
    let removed =
        web_login::Entity::delete_many().filter(web_login::Column::State.is_in(oldest)).exec(db).await?.rows_affected;
    Ok(removed)
}

/// Delete sessions that have expired and sign-ins started before `abandoned_before`; how many.
pub async fn purge(
    db: &DatabaseConnection,
    abandoned_before: chrono::DateTime<chrono::Utc>,
) -> Result<(u64, u64), DbErr> {
    let sessions = web_session::Entity::delete_many()
        .filter(web_session::Column::ExpiresAt.lte(chrono::Utc::now()))
        .exec(db)
        .await?
        .rows_affected;
    let sign_ins = web_login::Entity::delete_many()
        .filter(web_login::Column::CreatedAt.lt(abandoned_before))
        .exec(db)
        .await?
        .rows_affected;
    Ok((sessions, sign_ins))
}

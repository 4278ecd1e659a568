//! Repository of browser sessions and of sign-ins in progress. Rows are found by the SHA-256 of
//! the session id (the cookie's value never reaches the database) and by the `state` of the
//! sign-in; `auth` decides what they mean.

use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

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
}

pub async fn insert_sign_in(db: &DatabaseConnection, pending: PendingSignIn) -> Result<(), DbErr> {
    web_login::Entity::insert(web_login::ActiveModel {
        state: Set(pending.state),
        pkce_verifier: Set(pending.pkce_verifier),
        nonce: Set(pending.nonce),
        return_to: Set(pending.return_to),
        created_at: Set(pending.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The sign-in with this `state`, removed as it is read: each can be completed once.
pub async fn take_sign_in(db: &DatabaseConnection, state: &str) -> Result<Option<PendingSignIn>, DbErr> {
    let row = web_login::Entity::find_by_id(state.to_owned()).one(db).await?;
    web_login::Entity::delete_by_id(state.to_owned()).exec(db).await?;
    Ok(row.map(|row| PendingSignIn {
        state: row.state,
        pkce_verifier: row.pkce_verifier,
        nonce: row.nonce,
        return_to: row.return_to,
        created_at: row.created_at,
    }))
}

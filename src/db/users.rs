//! Repository of the user directory.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};

use super::entities::user;
use crate::policy::Principal;

/// Record that `principal` signed in: insert on first sight, refresh name and attributes after.
pub async fn record_sign_in(db: &DatabaseConnection, principal: &Principal) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    let row = user::ActiveModel {
        sub: Set(principal.sub.clone()),
        name: Set(principal.name.clone()),
        organisation: Set(principal.organisation.clone()),
        country: Set(principal.country.clone()),
        clearance: Set(principal.clearance.name().to_owned()),
        roles: Set(principal.roles.clone().into()),
        first_seen_at: Set(now),
        last_seen_at: Set(now),
    };
    user::Entity::insert(row)
        .on_conflict(
            OnConflict::column(user::Column::Sub)
                .update_columns([
                    user::Column::Name,
                    user::Column::Organisation,
                    user::Column::Country,
                    user::Column::Clearance,
                    user::Column::Roles,
                    user::Column::LastSeenAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find(db: &DatabaseConnection, sub: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(sub.to_owned()).one(db).await
}

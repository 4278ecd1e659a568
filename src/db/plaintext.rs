//! What is still stored as plaintext while encryption at rest is being turned on: counted for
//! `/readyz` and `/metrics` (health) and by `anaspoc keys encrypt-existing`, which works through
//! the same rows. The partial indexes of migration m20261207_000014 hold only these rows, so the
//! count stays cheap however large the table.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::entities::{document_version, plaintext_leftover};

/// Objects still stored as plaintext.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlaintextLeft {
    /// Document versions stored as received.
    pub versions: u64,
    /// Extracted texts stored as received.
    pub texts: u64,
    /// Plaintext objects already replaced by their encrypted copy, not deleted yet (a run was
    /// stopped between the two).
    pub leftovers: u64,
}

impl PlaintextLeft {
    pub fn total(&self) -> u64 {
        self.versions + self.texts + self.leftovers
    }
}

/// Count the objects stored as plaintext (partial indexes make this cheap once they are few).
pub async fn left(db: &impl ConnectionTrait) -> Result<PlaintextLeft, sea_orm::DbErr> {
    use document_version::Column;
    let versions = document_version::Entity::find().filter(Column::Sealed.is_null()).count(db).await?;
    let texts = document_version::Entity::find().filter(separate_plaintext_text()).count(db).await?;
    let leftovers = plaintext_leftover::Entity::find().count(db).await?;
    Ok(PlaintextLeft { versions, texts, leftovers })
}

/// Whether any object is stored encrypted: a replica with `[crypto]` off could not read it, and
/// refuses to start rather than answer its downloads with errors.
pub async fn any_sealed(db: &impl ConnectionTrait) -> Result<bool, sea_orm::DbErr> {
    use document_version::Column;
    let sealed = Condition::any().add(Column::Sealed.is_not_null()).add(Column::TextSealed.is_not_null());
    Ok(document_version::Entity::find().filter(sealed).one(db).await?.is_some())
}

/// A text stored as plaintext in an object of its own (most plain-text files are their own
/// text: one object, sealed with the version).
pub fn separate_plaintext_text() -> Condition {
    use document_version::Column;
    Condition::all()
        .add(Column::TextKey.is_not_null())
        .add(Column::TextSealed.is_null())
        .add(ExprTrait::ne(Expr::col(Column::TextKey), Expr::col(Column::ObjectKey)))
}

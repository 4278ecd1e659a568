//! The change feed (DESIGN.md, "Scale-out"): every change to what the search index holds —
//! a document created, a new version, its text extracted, markings, publish, withdraw — takes
//! the next `change_seq` in the transaction that makes it. The number comes from one counter
//! row whose lock is held until commit, so commit order is sequence order and no number is
//! skipped (a rolled-back change takes its number with it) or seen out of order. The documents
//! table is the compacted log: each row carries the number of its latest change, and a follower
//! reads `change_seq > cursor` in order.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use super::entities::{change_feed, document, document_version};

/// The PostgreSQL channel a change is announced on when it commits.
pub const CHANNEL: &str = "anaspoc_changes";

/// The database's clock in milliseconds since 1970 (one clock for every replica).
fn now_ms(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        _ => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// Number a change of `document_id` (call inside the transaction that makes it, after the
/// change itself). On PostgreSQL the followers are notified when the transaction commits.
pub async fn stamp(txn: &impl ConnectionTrait, document_id: &str) -> Result<i64, DbErr> {
    let backend = txn.get_database_backend();
    // The document's row first, then the counter: every transaction takes its locks in this
    // order (document, feed, audit head), so two of them can never wait on each other.
    let touched = document::Entity::update_many()
        .col_expr(document::Column::ChangedAtMs, Expr::cust(now_ms(backend)))
        .filter(document::Column::Id.eq(document_id))
        .exec(txn)
        .await?;
    if touched.rows_affected == 0 {
        return Err(DbErr::RecordNotFound(document_id.to_owned()));
    }
    let seq = advance(txn, 1).await?;
    document::Entity::update_many()
        .col_expr(document::Column::ChangeSeq, Expr::value(seq))
        .filter(document::Column::Id.eq(document_id))
        .exec(txn)
        .await?;
    if backend == DatabaseBackend::Postgres {
        // Delivered at commit, and not at all on rollback.
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), seq.to_string().into()],
        ))
        .await?;
    }
    Ok(seq)
}

/// Number a change of each of `document_ids` at once, in the given order (a batch of new
/// documents, say): three statements whatever their number. Same lock order as [`stamp`].
pub async fn stamp_all(txn: &impl ConnectionTrait, document_ids: &[String]) -> Result<(), DbErr> {
    if document_ids.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let chosen = || document::Column::Id.is_in(document_ids.iter().map(String::as_str));
    // The documents' rows first, then the counter (the lock order of `stamp`).
    let touched = document::Entity::update_many()
        .col_expr(document::Column::ChangedAtMs, Expr::cust(now_ms(backend)))
        .filter(chosen())
        .exec(txn)
        .await?;
    if touched.rows_affected != document_ids.len() as u64 {
        return Err(DbErr::RecordNotFound(format!("{} of {} documents", touched.rows_affected, document_ids.len())));
    }
    let last = advance(txn, document_ids.len() as i64).await?;
    let first = last - document_ids.len() as i64 + 1;
    let mut numbered = sea_orm::sea_query::CaseStatement::new();
    for (offset, id) in document_ids.iter().enumerate() {
        numbered = numbered.case(Expr::col(document::Column::Id).eq(id.as_str()), first + offset as i64);
    }
    document::Entity::update_many()
        .col_expr(document::Column::ChangeSeq, numbered.into())
        .filter(chosen())
        .exec(txn)
        .await?;
    if backend == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), last.to_string().into()],
        ))
        .await?;
    }
    Ok(())
}

/// Move the counter on by `by` (locking it until commit) and return the last number taken.
/// One statement for every caller: PostgreSQL caches it prepared, with its parameter types, so
/// the amount is always bound as BIGINT.
async fn advance(txn: &impl ConnectionTrait, by: i64) -> Result<i64, DbErr> {
    let advance = Query::update()
        .table(change_feed::Entity)
        .value(change_feed::Column::Seq, Expr::col(change_feed::Column::Seq).add(by))
        .and_where(Expr::col(change_feed::Column::Id).eq(1))
        .returning_col(change_feed::Column::Seq)
        .to_owned();
    let row = txn.query_one(&advance).await?.ok_or_else(|| DbErr::RecordNotFound("change_feed".into()))?;
    row.try_get("", "seq")
}

/// Where the feed stands.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Head {
    /// The last number handed out (committed).
    pub seq: i64,
    /// Which feed this is (an index that followed another database must start again).
    pub feed_id: String,
    /// The database's clock now, in milliseconds.
    pub now_ms: i64,
}

pub async fn head(db: &impl ConnectionTrait) -> Result<Head, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!("SELECT seq, feed_id, {} AS now_ms FROM change_feed WHERE id = 1", now_ms(backend));
    Head::find_by_statement(Statement::from_string(backend, sql))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("change_feed".into()))
}

/// A changed document as the follower applies it: its row now and its current version.
pub struct Change {
    pub row: document::Model,
    pub current: Option<document_version::Model>,
}

/// The next `limit` changes after `cursor`, in feed order.
pub async fn changes_after(db: &impl ConnectionTrait, cursor: i64, limit: u64) -> Result<Vec<Change>, DbErr> {
    let rows = document::Entity::find()
        .filter(document::Column::ChangeSeq.gt(cursor))
        .order_by_asc(document::Column::ChangeSeq)
        .limit(limit)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Two flat IN lists, not one (document, version) pair per row: SQLite refuses an expression
    // of a thousand ORs ("Expression tree is too large"). The superset they select is cut to
    // the exact pairs below; versions are immutable, so a row changed since it was read still
    // finds the version it named.
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let numbers: std::collections::BTreeSet<i32> = rows.iter().map(|row| row.current_version).collect();
    let mut versions: std::collections::HashMap<(String, i32), document_version::Model> =
        document_version::Entity::find()
            .filter(document_version::Column::DocumentId.is_in(ids))
            .filter(document_version::Column::Version.is_in(numbers))
            .all(db)
            .await?
            .into_iter()
            .map(|version| ((version.document_id.clone(), version.version), version))
            .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let current = versions.remove(&(row.id.clone(), row.current_version));
            Change { row, current }
        })
        .collect())
}

/// The documents whose latest change is in `(after, up_to]`, in feed order, at most `limit`.
pub async fn changed_between(
    db: &impl ConnectionTrait,
    after: i64,
    up_to: i64,
    limit: u64,
) -> Result<Vec<document::Model>, DbErr> {
    document::Entity::find()
        .filter(document::Column::ChangeSeq.gt(after))
        .filter(document::Column::ChangeSeq.lte(up_to))
        .order_by_asc(document::Column::ChangeSeq)
        .limit(limit)
        .all(db)
        .await
}

/// Ids of the documents changed after `cursor`, or `None` when there are more than `cap` (the
/// follower is far behind: the caller refuses rather than guess).
pub async fn changed_after(db: &impl ConnectionTrait, cursor: i64, cap: u64) -> Result<Option<Vec<String>>, DbErr> {
    let ids: Vec<String> = document::Entity::find()
        .select_only()
        .column(document::Column::Id)
        .filter(document::Column::ChangeSeq.gt(cursor))
        .limit(cap + 1)
        .into_tuple()
        .all(db)
        .await?;
    Ok((ids.len() as u64 <= cap).then_some(ids))
}

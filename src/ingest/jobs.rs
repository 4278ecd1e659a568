//! The durable job queue in the database. Jobs are enqueued in the transaction of the change
//! that needs them, claimed with a compare-and-set on their row (so any number of workers and
//! replicas can share the queue), leased for a while, and re-claimed if their worker died.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::db::entities::ingest_job;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Extract the text of a new version, then index the document.
    Extract,
    /// Re-index the document's fields (markings, status, title …) after a change.
    Refresh,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Extract => "extract",
            JobKind::Refresh => "refresh",
        }
    }
}

pub const PENDING: &str = "pending";
pub const RUNNING: &str = "running";
pub const FAILED: &str = "failed";

/// Enqueue a job (call inside the transaction of the change that needs it).
pub async fn enqueue(txn: &impl ConnectionTrait, document_id: &str, version: i32, kind: JobKind) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    ingest_job::Entity::insert(ingest_job::ActiveModel {
        document_id: Set(document_id.to_owned()),
        version: Set(version),
        kind: Set(kind.as_str().to_owned()),
        state: Set(PENDING.to_owned()),
        attempts: Set(0),
        error: Set(None),
        claimed_until: Set(None),
        claimed_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Claim up to `limit` of the oldest claimable jobs — pending ones, and running ones whose
/// lease expired — in one statement. The claimability test is repeated in the outer WHERE, so a
/// concurrent claimer on PostgreSQL (which re-checks it after waiting for the row lock) cannot
/// take the same job twice.
pub async fn claim(db: &DatabaseConnection, limit: u64, lease: Duration) -> Result<Vec<ingest_job::Model>, DbErr> {
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
    let token = uuid::Uuid::new_v4().to_string();
    let claimable = || {
        Condition::any().add(ingest_job::Column::State.eq(PENDING)).add(
            Condition::all().add(ingest_job::Column::State.eq(RUNNING)).add(ingest_job::Column::ClaimedUntil.lt(now)),
        )
    };
    // Two index lookups rather than one OR (which would scan the table): pending jobs by id,
    // then running jobs whose lease ran out.
    let mut candidates: Vec<i32> = ingest_job::Entity::find()
        .select_only()
        .column(ingest_job::Column::Id)
        .filter(ingest_job::Column::State.eq(PENDING))
        .order_by_asc(ingest_job::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if (candidates.len() as u64) < limit {
        let expired: Vec<i32> = ingest_job::Entity::find()
            .select_only()
            .column(ingest_job::Column::Id)
            .filter(ingest_job::Column::State.eq(RUNNING))
            .filter(ingest_job::Column::ClaimedUntil.lt(now))
            .order_by_asc(ingest_job::Column::Id)
            .limit(limit - candidates.len() as u64)
            .into_tuple()
            .all(db)
            .await?;
        candidates.extend(expired);
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::State, Expr::value(RUNNING))
        .col_expr(ingest_job::Column::ClaimedBy, Expr::value(Some(token.clone())))
        .col_expr(ingest_job::Column::ClaimedUntil, Expr::value(Some(until)))
        .col_expr(ingest_job::Column::Attempts, Expr::col(ingest_job::Column::Attempts).add(1))
        .col_expr(ingest_job::Column::UpdatedAt, Expr::value(now))
        .filter(ingest_job::Column::Id.is_in(candidates))
        .filter(claimable())
        .exec(db)
        .await?;
    ingest_job::Entity::find()
        .filter(ingest_job::Column::ClaimedBy.eq(token))
        .filter(ingest_job::Column::State.eq(RUNNING))
        .order_by_asc(ingest_job::Column::Id)
        .all(db)
        .await
}

/// Extend the lease of running jobs (their worker is alive and busy).
pub async fn renew(db: &impl ConnectionTrait, ids: &[i32], lease: Duration) -> Result<(), DbErr> {
    let until =
        chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
    ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::ClaimedUntil, Expr::value(Some(until)))
        .filter(ingest_job::Column::Id.is_in(ids.to_vec()))
        .filter(ingest_job::Column::State.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(())
}

/// Mark a job finished: a done job is deleted (the version row keeps the ingest state), a
/// failed one stays with its reason.
pub async fn finish(db: &impl ConnectionTrait, id: i32, error: Option<&str>) -> Result<(), DbErr> {
    if error.is_none() {
        ingest_job::Entity::delete_by_id(id).exec(db).await?;
        return Ok(());
    }
    ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::State, Expr::value(FAILED))
        .col_expr(ingest_job::Column::Error, Expr::value(error.map(str::to_owned)))
        .col_expr(ingest_job::Column::ClaimedUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .col_expr(ingest_job::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(ingest_job::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Put a job back for another attempt after a transient failure.
pub async fn retry_later(db: &impl ConnectionTrait, id: i32, error: &str, after: Duration) -> Result<(), DbErr> {
    let until = chrono::Utc::now() + chrono::Duration::from_std(after).unwrap_or_else(|_| chrono::Duration::seconds(5));
    // Stays `running` with a short lease: it becomes claimable again when the lease ends.
    ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::Error, Expr::value(Some(error.to_owned())))
        .col_expr(ingest_job::Column::ClaimedUntil, Expr::value(Some(until)))
        .col_expr(ingest_job::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(ingest_job::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Jobs not yet finished (readiness, tests, the benchmark's time-to-searchable).
pub async fn outstanding(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    ingest_job::Entity::find().filter(ingest_job::Column::State.is_in([PENDING, RUNNING])).count(db).await
}

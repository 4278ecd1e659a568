//! The durable job queue in the database: extracting a new version's text, once per cluster.
//! A job is enqueued in the transaction of the upload that needs it and claimed for a lease;
//! a job whose lease ran out (its worker died or stalled) is claimed again by anyone.
//!
//! Claims: on PostgreSQL one statement takes up to the free slots with `FOR UPDATE SKIP LOCKED`
//! (replicas never wait on nor fight over the same rows) and leases by the database's clock; on
//! SQLite a compare-and-set on the row (one machine, one clock). Every claim gets a fresh token,
//! and every later update of the job — renew, finish, retry, fail — is fenced by it: a worker
//! whose lease lapsed, and whose job was claimed again, can no longer touch it.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use crate::db::entities::ingest_job;

/// The kind of every job: extract the text of a version (the index follows the change feed).
pub const EXTRACT: &str = "extract";

pub const PENDING: &str = "pending";
pub const RUNNING: &str = "running";
pub const FAILED: &str = "failed";

/// A claimed job: what later updates are fenced by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub job: i32,
    pub token: String,
}

impl Lease {
    pub fn of(job: &ingest_job::Model) -> Self {
        Self { job: job.id, token: job.claimed_by.clone().unwrap_or_default() }
    }

    fn owned(&self) -> Condition {
        Condition::all()
            .add(ingest_job::Column::Id.eq(self.job))
            .add(ingest_job::Column::ClaimedBy.eq(self.token.as_str()))
            .add(ingest_job::Column::State.eq(RUNNING))
    }
}

/// Enqueue the extraction of `version` (call inside the transaction of the upload).
pub async fn enqueue(txn: &impl ConnectionTrait, document_id: &str, version: i32) -> Result<(), DbErr> {
    ingest_job::Entity::insert(pending(document_id, version, chrono::Utc::now())).exec_without_returning(txn).await?;
    Ok(())
}

/// Enqueue the extraction of the first version of each of `document_ids`, in one statement
/// (call inside the transaction that records them).
pub async fn enqueue_first_versions(txn: &impl ConnectionTrait, document_ids: &[String]) -> Result<(), DbErr> {
    if document_ids.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    ingest_job::Entity::insert_many(document_ids.iter().map(|id| pending(id, 1, now)))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// A job waiting for its first attempt.
fn pending(document_id: &str, version: i32, now: chrono::DateTime<chrono::Utc>) -> ingest_job::ActiveModel {
    ingest_job::ActiveModel {
        document_id: Set(document_id.to_owned()),
        version: Set(version),
        kind: Set(EXTRACT.to_owned()),
        state: Set(PENDING.to_owned()),
        attempts: Set(0),
        error: Set(None),
        claimed_until: Set(None),
        claimed_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// The end of a lease `lease` from now, by the database's clock (PostgreSQL) or this machine's
/// (SQLite, which only this machine uses).
fn lease_end(backend: DatabaseBackend, lease: Duration) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust(format!("now() + interval '{} milliseconds'", lease.as_millis())),
        _ => Expr::value(Some(
            chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60)),
        )),
    }
}

fn now_expr(backend: DatabaseBackend) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust("now()"),
        _ => Expr::value(chrono::Utc::now()),
    }
}

/// Claim up to `limit` of the oldest claimable jobs — pending ones, and running ones whose
/// lease ran out — leased for `lease` under one fresh token.
pub async fn claim(db: &DatabaseConnection, limit: u64, lease: Duration) -> Result<Vec<ingest_job::Model>, DbErr> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let token = uuid::Uuid::new_v4().to_string();
    match db.get_database_backend() {
        DatabaseBackend::Postgres => claim_skip_locked(db, limit, lease, &token).await,
        _ => claim_compare_and_set(db, limit, lease, &token).await,
    }
}

async fn claim_skip_locked(
    db: &DatabaseConnection,
    limit: u64,
    lease: Duration,
    token: &str,
) -> Result<Vec<ingest_job::Model>, DbErr> {
    // Two index lookups rather than one OR (which would scan the table); rows another claimer
    // holds are skipped, not waited for.
    let sql = format!(
        "WITH pending AS (SELECT id FROM ingest_jobs WHERE state = 'pending' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED), \
         lapsed AS (SELECT id FROM ingest_jobs WHERE state = 'running' AND claimed_until < now() \
                    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         UPDATE ingest_jobs SET state = 'running', claimed_by = $2, claimed_until = now() + interval '{} milliseconds', \
                attempts = attempts + 1, updated_at = now() \
         WHERE id IN (SELECT id FROM (SELECT id FROM pending UNION ALL SELECT id FROM lapsed) AS claimable ORDER BY id LIMIT $1) \
         RETURNING *",
        lease.as_millis()
    );
    let mut claimed = ingest_job::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            [(limit as i64).into(), token.into()],
        ))
        .all(db)
        .await?;
    claimed.sort_by_key(|job| job.id);
    Ok(claimed)
}

async fn claim_compare_and_set(
    db: &DatabaseConnection,
    limit: u64,
    lease: Duration,
    token: &str,
) -> Result<Vec<ingest_job::Model>, DbErr> {
    let backend = db.get_database_backend();
    let now = chrono::Utc::now();
    let claimable = || {
        Condition::any().add(ingest_job::Column::State.eq(PENDING)).add(
            Condition::all().add(ingest_job::Column::State.eq(RUNNING)).add(ingest_job::Column::ClaimedUntil.lt(now)),
        )
    };
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
    // The claimability test is repeated here: whoever updates a row first owns it.
    ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::State, Expr::value(RUNNING))
        .col_expr(ingest_job::Column::ClaimedBy, Expr::value(Some(token.to_owned())))
        .col_expr(ingest_job::Column::ClaimedUntil, lease_end(backend, lease))
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

/// Extend the leases of running jobs still owned (their worker is alive and busy).
pub async fn renew(db: &impl ConnectionTrait, leases: &[Lease], lease: Duration) -> Result<(), DbErr> {
    let owned = leases.iter().fold(Condition::any(), |any, held| any.add(held.owned()));
    ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::ClaimedUntil, lease_end(db.get_database_backend(), lease))
        .filter(owned)
        .exec(db)
        .await?;
    Ok(())
}

/// Inside the transaction that records a job's result: lock the job and check it is still
/// this lease's. `false`: the lease lapsed and the job is someone else's — roll back.
pub async fn hold(txn: &impl ConnectionTrait, lease: &Lease) -> Result<bool, DbErr> {
    let touched = ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::UpdatedAt, now_expr(txn.get_database_backend()))
        .filter(lease.owned())
        .exec(txn)
        .await?;
    Ok(touched.rows_affected == 1)
}

/// The job is done: delete it (the version row keeps the ingest state). `false`: not ours.
pub async fn finish(txn: &impl ConnectionTrait, lease: &Lease) -> Result<bool, DbErr> {
    let deleted = ingest_job::Entity::delete_many().filter(lease.owned()).exec(txn).await?;
    Ok(deleted.rows_affected == 1)
}

/// The job failed for good: it stays, with its reason. `false`: not ours.
pub async fn fail(txn: &impl ConnectionTrait, lease: &Lease, error: &str) -> Result<bool, DbErr> {
    let backend = txn.get_database_backend();
    let failed = ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::State, Expr::value(FAILED))
        .col_expr(ingest_job::Column::Error, Expr::value(Some(error.to_owned())))
        .col_expr(ingest_job::Column::ClaimedUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .col_expr(ingest_job::Column::UpdatedAt, now_expr(backend))
        .filter(lease.owned())
        .exec(txn)
        .await?;
    Ok(failed.rows_affected == 1)
}

/// Put a job back for another attempt after a transient failure: it stays running under this
/// lease, which ends after `backoff`, so it becomes claimable again then. `false`: not ours.
pub async fn retry_later(
    db: &impl ConnectionTrait,
    lease: &Lease,
    error: &str,
    backoff: Duration,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let retried = ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::Error, Expr::value(Some(error.to_owned())))
        .col_expr(ingest_job::Column::ClaimedUntil, lease_end(backend, backoff))
        .col_expr(ingest_job::Column::UpdatedAt, now_expr(backend))
        .filter(lease.owned())
        .exec(db)
        .await?;
    Ok(retried.rows_affected == 1)
}

/// Put a job back untried: a dependency it needs (object store, database) is unavailable, which
/// says nothing about the job — it does not count as an attempt. Claimable again after
/// `pause`. `false`: not ours.
pub async fn release(db: &impl ConnectionTrait, lease: &Lease, reason: &str, pause: Duration) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let released = ingest_job::Entity::update_many()
        .col_expr(ingest_job::Column::Attempts, Expr::col(ingest_job::Column::Attempts).sub(1))
        .col_expr(ingest_job::Column::Error, Expr::value(Some(reason.to_owned())))
        .col_expr(ingest_job::Column::ClaimedUntil, lease_end(backend, pause))
        .col_expr(ingest_job::Column::UpdatedAt, now_expr(backend))
        .filter(lease.owned())
        .exec(db)
        .await?;
    Ok(released.rows_affected == 1)
}

/// Jobs not yet finished (tests, the benchmark's time-to-searchable).
pub async fn outstanding(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    ingest_job::Entity::find().filter(ingest_job::Column::State.is_in([PENDING, RUNNING])).count(db).await
}

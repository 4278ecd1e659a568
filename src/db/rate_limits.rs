//! Rate-limit buckets in PostgreSQL, shared by every replica (DESIGN.md, "Scale-out": limits
//! that must hold cluster-wide live in the database). Each key has a theoretical arrival time
//! (the generic cell rate algorithm, as `governor` keeps in memory for one process): a request
//! is allowed when moving it on by one interval leaves it at most `burst` ahead of now — one
//! statement, atomic on the key's row, by the database's clock.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

/// The database's clock in microseconds since 1970.
const NOW_US: &str = "CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)";

/// Take one request from `key`'s bucket (one request per `interval_us`, bursts up to
/// `burst_us`): `None` when allowed, else how long to wait, in microseconds.
pub async fn take(db: &impl ConnectionTrait, key: &str, interval_us: i64, burst_us: i64) -> Result<Option<i64>, DbErr> {
    let take = format!(
        "INSERT INTO rate_limits AS bucket (key, tat) VALUES ($1, {NOW_US} + $2) \
         ON CONFLICT (key) DO UPDATE SET tat = GREATEST(bucket.tat, {NOW_US}) + $2 \
         WHERE GREATEST(bucket.tat, {NOW_US}) + $2 - {NOW_US} <= $3 \
         RETURNING tat"
    );
    let taken = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            take,
            [key.into(), interval_us.into(), burst_us.into()],
        ))
        .await?;
    if taken.is_some() {
        return Ok(None);
    }
    let ahead = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!("SELECT tat - {NOW_US} AS ahead FROM rate_limits WHERE key = $1"),
            [key.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "ahead"))
        .transpose()?
        .unwrap_or(0);
    Ok(Some((ahead + interval_us - burst_us).max(1)))
}

/// Forget buckets that are full again (their arrival time has passed).
pub async fn purge(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let purged = db.execute_unprepared(&format!("DELETE FROM rate_limits WHERE tat < {NOW_US}")).await?;
    Ok(purged.rows_affected())
}

//! Rate limits against floods (`[limits]`): failed authentications per client address, and
//! searches, downloads, uploads and handling-code requests per signed-in user. A limited request answers 429 with
//! `Retry-After` and does no work; every refusal is counted in `/metrics` by kind. One process
//! (SQLite) keeps its buckets in memory; replicas sharing PostgreSQL keep them in the database
//! (`db::rate_limits`), so that an allowance holds for the cluster, not for each replica.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use sea_orm::DatabaseConnection;

use crate::config::LimitsSettings;

/// What is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Failed authentications, per client address.
    AuthFailures,
    /// Searches, per user.
    Searches,
    /// Downloads, per user.
    Downloads,
    /// Uploads (new documents and versions), per user.
    Uploads,
    /// Handling-code requests and decisions, per user: a flood would bury a provider's inbox.
    Requests,
}

impl Limit {
    fn as_str(self) -> &'static str {
        match self {
            Limit::AuthFailures => "auth_failures",
            Limit::Searches => "searches",
            Limit::Downloads => "downloads",
            Limit::Uploads => "uploads",
            Limit::Requests => "requests",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    limit: &'static str,
}

/// A refusal: try again after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header (at least one).
    pub fn seconds(self) -> u64 {
        self.0.as_secs().max(1) + u64::from(self.0.subsec_nanos() > 0)
    }
}

#[derive(Clone)]
pub struct Throttle {
    buckets: Buckets,
    per_minute: [u32; 5],
    refused: Family<LimitLabels, Counter>,
}

#[derive(Clone)]
enum Buckets {
    /// One process: in memory, one limiter per kind.
    Local([Arc<DefaultKeyedRateLimiter<String>>; 5]),
    /// Replicas: in the database they share.
    Shared(DatabaseConnection),
}

fn slot(limit: Limit) -> usize {
    match limit {
        Limit::AuthFailures => 0,
        Limit::Searches => 1,
        Limit::Downloads => 2,
        Limit::Uploads => 3,
        Limit::Requests => 4,
    }
}

impl Throttle {
    /// Buckets in this process's memory.
    pub fn new(settings: &LimitsSettings) -> Self {
        let per_minute = Self::rates(settings);
        let keyed = |per_minute: u32| {
            let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
            Arc::new(RateLimiter::keyed(Quota::per_minute(rate)))
        };
        Self { buckets: Buckets::Local(per_minute.map(keyed)), per_minute, refused: Family::default() }
    }

    /// Buckets in the database `db` (PostgreSQL), shared by every replica using it.
    pub fn shared(settings: &LimitsSettings, db: DatabaseConnection) -> Self {
        Self { buckets: Buckets::Shared(db), per_minute: Self::rates(settings), refused: Family::default() }
    }

    fn rates(settings: &LimitsSettings) -> [u32; 5] {
        [
            settings.auth_failures_per_minute,
            settings.searches_per_minute,
            settings.downloads_per_minute,
            settings.uploads_per_minute,
            settings.requests_per_minute,
        ]
    }

    /// Count a request of `limit` for `key` (a client address or a user): `Err` when over.
    pub async fn check(&self, limit: Limit, key: &str) -> Result<(), RetryAfter> {
        let refused = match &self.buckets {
            Buckets::Local(limiters) => limiters[slot(limit)]
                .check_key(&key.to_owned())
                .err()
                .map(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
            Buckets::Shared(db) => {
                let per_minute = i64::from(self.per_minute[slot(limit)].max(1));
                let interval_us = (60_000_000 / per_minute).max(1);
                let bucket = format!("{}:{key}", limit.as_str());
                match crate::db::rate_limits::take(db, &bucket, interval_us, interval_us * per_minute).await {
                    Ok(wait) => wait.map(|us| Duration::from_micros(us.unsigned_abs())),
                    Err(error) => {
                        // The request itself needs the database: it fails there if it is down.
                        // A limiter that cannot count lets it through rather than refuse it.
                        tracing::warn!(%error, limit = limit.as_str(), "rate limit not checked");
                        None
                    }
                }
            }
        };
        match refused {
            None => Ok(()),
            Some(wait) => {
                self.refused.get_or_create(&LimitLabels { limit: limit.as_str() }).inc();
                Err(RetryAfter(wait))
            }
        }
    }

    /// Refusals by limit, for `/metrics`.
    pub fn refused(&self) -> Family<LimitLabels, Counter> {
        self.refused.clone()
    }

    /// Forget buckets that are back to full, now and then, so they stay few.
    pub fn spawn_housekeeping(&self) {
        let buckets = self.buckets.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                match &buckets {
                    Buckets::Local(limiters) => {
                        for limiter in limiters {
                            limiter.retain_recent();
                            limiter.shrink_to_fit();
                        }
                    }
                    Buckets::Shared(db) => {
                        if let Err(error) = crate::db::rate_limits::purge(db).await {
                            tracing::warn!(%error, "purging full rate-limit buckets failed");
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_key_has_its_own_allowance() {
        let throttle = Throttle::new(&LimitsSettings {
            max_upload_bytes: 1,
            auth_failures_per_minute: 3,
            searches_per_minute: 1,
            downloads_per_minute: 1,
            uploads_per_minute: 1,
            requests_per_minute: 1,
            denied_audit_window_secs: 60,
            denied_audit_individually: 10,
        });
        for _ in 0..3 {
            throttle.check(Limit::AuthFailures, "198.51.100.7").await.expect("within");
        }
        let refused = throttle.check(Limit::AuthFailures, "198.51.100.7").await.expect_err("over");
        assert!((1..=20).contains(&refused.seconds()), "{refused:?}");
        throttle.check(Limit::AuthFailures, "198.51.100.8").await.expect("another client");
        throttle.check(Limit::Searches, "198.51.100.7").await.expect("another limit");
    }
}

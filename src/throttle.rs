//! Rate limits against floods (`[limits]`): failed authentications per client address, and
//! searches, downloads and uploads per signed-in user. A limited request answers 429 with
//! `Retry-After` and does no work. Limits are kept per process (each replica limits what reaches
//! it); every refusal is counted in `/metrics` by kind.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

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
}

impl Limit {
    fn as_str(self) -> &'static str {
        match self {
            Limit::AuthFailures => "auth_failures",
            Limit::Searches => "searches",
            Limit::Downloads => "downloads",
            Limit::Uploads => "uploads",
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
    auth_failures: Arc<DefaultKeyedRateLimiter<String>>,
    searches: Arc<DefaultKeyedRateLimiter<String>>,
    downloads: Arc<DefaultKeyedRateLimiter<String>>,
    uploads: Arc<DefaultKeyedRateLimiter<String>>,
    refused: Family<LimitLabels, Counter>,
}

impl Throttle {
    pub fn new(settings: &LimitsSettings) -> Self {
        let keyed = |per_minute: u32| {
            let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
            Arc::new(RateLimiter::keyed(Quota::per_minute(rate)))
        };
        Self {
            auth_failures: keyed(settings.auth_failures_per_minute),
            searches: keyed(settings.searches_per_minute),
            downloads: keyed(settings.downloads_per_minute),
            uploads: keyed(settings.uploads_per_minute),
            refused: Family::default(),
        }
    }

    /// Count a request of `limit` for `key` (a client address or a user): `Err` when over.
    pub fn check(&self, limit: Limit, key: &str) -> Result<(), RetryAfter> {
        let limiter = match limit {
            Limit::AuthFailures => &self.auth_failures,
            Limit::Searches => &self.searches,
            Limit::Downloads => &self.downloads,
            Limit::Uploads => &self.uploads,
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            self.refused.get_or_create(&LimitLabels { limit: limit.as_str() }).inc();
            RetryAfter(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Refusals by limit, for `/metrics`.
    pub fn refused(&self) -> Family<LimitLabels, Counter> {
        self.refused.clone()
    }

    /// Forget keys whose limits are back to full, now and then, so the maps stay small.
    pub fn spawn_housekeeping(&self) {
        let limiters =
            [self.auth_failures.clone(), self.searches.clone(), self.downloads.clone(), self.uploads.clone()];
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                for limiter in &limiters {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_allowance() {
        let throttle = Throttle::new(&LimitsSettings {
            max_upload_bytes: 1,
            auth_failures_per_minute: 3,
            searches_per_minute: 1,
            downloads_per_minute: 1,
            uploads_per_minute: 1,
            denied_audit_window_secs: 60,
            denied_audit_individually: 10,
        });
        for _ in 0..3 {
            throttle.check(Limit::AuthFailures, "198.51.100.7").expect("within");
        }
        let refused = throttle.check(Limit::AuthFailures, "198.51.100.7").expect_err("over");
        assert!((1..=20).contains(&refused.seconds()), "{refused:?}");
        throttle.check(Limit::AuthFailures, "198.51.100.8").expect("another client");
        throttle.check(Limit::Searches, "198.51.100.7").expect("another limit");
    }
}

//! Readiness: whether this instance can serve — database reachable with migrations applied,
//! object store reachable, this replica's search index caught up with the change feed (within
//! `search.max_lag_changes` and `search.max_lag_secs`), issuer keys loaded.
//!
//! The probe never waits on a dependency: the checks that go over the network run in the
//! background every `health.check_interval_ms`, each bounded by `health.check_timeout_ms` (a
//! frozen object store is *failing* after that long, not a hung probe), and `/readyz` reports
//! their last results — with how long ago each component was last good. Only until the first
//! round has finished does the probe wait for it, and never longer than the check time-out.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::sync::watch;

use crate::auth::TokenValidator;
use crate::db::plaintext::PlaintextLeft;
use crate::ingest::ocr_languages::OcrLanguages;
use crate::search::FeedState;
use crate::storage::Storage;

/// `anaspoc_plaintext_objects{kind}`: the objects still stored as plaintext, by kind
/// (`version`, `text`, `leftover`); recounted with each round of readiness checks.
#[derive(Clone)]
pub struct PlaintextGauge(Family<KindLabel, Gauge>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

impl PlaintextGauge {
    pub fn registered(metrics: &crate::metrics::Metrics) -> Self {
        let gauge = Family::<KindLabel, Gauge>::default();
        metrics.register(
            "plaintext_objects",
            "Objects stored before encryption at rest was enabled and not encrypted yet (anaspoc keys encrypt-existing)",
            gauge.clone(),
        );
        Self(gauge)
    }

    pub fn set(&self, left: &PlaintextLeft) {
        for (kind, count) in [("version", left.versions), ("text", left.texts), ("leftover", left.leftovers)] {
            self.0.get_or_create(&KindLabel { kind }).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
}

/// The components checked in the background.
const DATABASE: &str = "database";
const STORAGE: &str = "storage";
const IDENTITY_PROVIDER: &str = "identity_provider";
/// Checked when asked (it reads memory only).
const SEARCH_INDEX: &str = "search_index";

pub struct Readiness {
    db: DatabaseConnection,
    storage: Storage,
    validator: Arc<TokenValidator>,
    feed: Arc<FeedState>,
    max_lag: Duration,
    max_lag_changes: u64,
    interval: Duration,
    timeout: Duration,
    ocr: Option<OcrReport>,
    /// With encryption at rest: the gauge of objects still stored as plaintext, and whether
    /// none is left (counted in the background round).
    plaintext: Option<PlaintextGauge>,
    encryption: Mutex<Option<&'static str>>,
    /// The last result of each background check.
    states: Mutex<BTreeMap<&'static str, Checked>>,
    /// Whether the first round has finished.
    first_round: watch::Sender<bool>,
}

#[derive(Clone, Debug, Default)]
struct Checked {
    ok: bool,
    last_ok: Option<Instant>,
    /// Why it last failed: for the log (once per change), never for the probe's answer.
    reason: String,
}

/// Each component's state, `ok` or `failing` — what is wrong goes to the log, not to whoever
/// asks (the probe answers anyone, and error texts name internal hosts) — and how many seconds
/// ago each was last found good (`null`: not since start).
#[derive(Debug, Serialize)]
pub struct Report {
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, &'static str>,
    pub last_ok_secs_ago: BTreeMap<&'static str, Option<f64>>,
    /// On a replica that extracts text: the OCR language packs installed and the network's
    /// missing ones. A missing pack does not make the replica unready — its documents are read
    /// with the closest installed pack, and say so — but an operator should install it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocr_languages: Option<OcrReport>,
    /// With encryption at rest: `complete`, or `incomplete` while objects stored before it was
    /// enabled remain (readable as before: the replica is ready). How many, by kind, is in
    /// `/metrics` (`anaspoc_plaintext_objects`) and the log, not here — the probe answers anyone,
    /// and the count is one of documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OcrReport {
    pub available: Vec<String>,
    pub missing: Vec<&'static str>,
}

impl Report {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// `check`, or a failure when it has not answered within `timeout`.
async fn bounded(
    name: &'static str,
    timeout: Duration,
    check: impl Future<Output = Result<(), String>>,
) -> (&'static str, Result<(), String>) {
    match tokio::time::timeout(timeout, check).await {
        Ok(result) => (name, result),
        Err(_) => (name, Err(format!("no answer within {} ms", timeout.as_millis()))),
    }
}

/// What readiness is told to watch, and how often.
pub struct Probes {
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub validator: Arc<TokenValidator>,
    pub feed: Arc<FeedState>,
    pub max_lag: Duration,
    pub max_lag_changes: u64,
    pub interval: Duration,
    pub timeout: Duration,
    /// Where text is extracted: the OCR language packs found at start-up.
    pub ocr: Option<OcrLanguages>,
    /// With encryption at rest: where to report the objects still stored as plaintext.
    pub plaintext: Option<PlaintextGauge>,
}

impl Readiness {
    pub fn new(probes: Probes) -> Self {
        let Probes { db, storage, validator, feed, max_lag, max_lag_changes, interval, timeout, ocr, plaintext } =
            probes;
        let ocr = ocr.map(|ocr| OcrReport { available: ocr.available(), missing: ocr.missing() });
        let (first_round, _) = watch::channel(false);
        Self {
            db,
            storage,
            validator,
            feed,
            max_lag,
            max_lag_changes,
            interval,
            timeout,
            ocr,
            plaintext,
            encryption: Mutex::new(None),
            states: Mutex::new(BTreeMap::new()),
            first_round,
        }
    }

    /// Check in the background until the process ends (call once the server serves: in demo
    /// mode the identity provider is this server).
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(self.interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                self.round().await;
                self.first_round.send_replace(true);
            }
        });
    }

    /// One round: every background check at once, each within the time-out.
    async fn round(&self) {
        let (database, storage, identity_provider) = tokio::join!(
            bounded(DATABASE, self.timeout, crate::db::check_ready(&self.db)),
            bounded(STORAGE, self.timeout, self.storage.check_ready()),
            bounded(IDENTITY_PROVIDER, self.timeout, async {
                self.validator.keys().ensure_loaded().await.map_err(|e| e.to_string())
            }),
        );
        self.count_plaintext().await;
        let results = [database, storage, identity_provider];
        let now = Instant::now();
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (name, result) in results {
            let state = states.entry(name).or_default();
            match result {
                Ok(()) => {
                    if !state.ok && state.last_ok.is_some() {
                        tracing::info!(component = name, "ready again");
                    }
                    *state = Checked { ok: true, last_ok: Some(now), reason: String::new() };
                }
                Err(reason) => {
                    if state.reason != reason {
                        tracing::warn!(component = name, %reason, "not ready");
                    }
                    state.ok = false;
                    state.reason = reason;
                }
            }
        }
    }

    /// With encryption at rest: count the objects still stored as plaintext (the database's own
    /// failures are its check's business).
    async fn count_plaintext(&self) {
        let Some(gauge) = &self.plaintext else { return };
        let Ok(Ok(left)) = tokio::time::timeout(self.timeout, crate::db::plaintext::left(&self.db)).await else {
            return;
        };
        gauge.set(&left);
        let state = if left.total() == 0 { "complete" } else { "incomplete" };
        let mut encryption = self.encryption.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *encryption != Some(state) {
            tracing::info!(
                versions = left.versions,
                texts = left.texts,
                leftovers = left.leftovers,
                "encryption at rest {state}{}",
                if left.total() > 0 { ": run `anaspoc keys encrypt-existing`" } else { "" }
            );
            *encryption = Some(state);
        }
    }

    /// The index is within the allowed lag. The figures go to the log and `/metrics`, not to
    /// whoever asks: the feed's position counts changes to documents they may not see.
    fn index_caught_up(&self) -> Result<(), String> {
        match self.feed.lag(self.max_lag) {
            None => Err("the search index is being built, or has not read the change feed recently".into()),
            Some(lag) if lag.changes as u64 > self.max_lag_changes || lag.millis as u128 > self.max_lag.as_millis() => {
                Err(format!("the search index is {} changes, {} ms behind the database", lag.changes, lag.millis))
            }
            Some(_) => Ok(()),
        }
    }

    /// The last results — at once, except before the first round has finished (then at most
    /// the check time-out).
    pub async fn report(&self) -> Report {
        let mut finished = self.first_round.subscribe();
        let _ = tokio::time::timeout(self.timeout, finished.wait_for(|done| *done)).await;
        let states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let mut checks = BTreeMap::new();
        let mut last_ok_secs_ago = BTreeMap::new();
        for name in [DATABASE, STORAGE, IDENTITY_PROVIDER] {
            let state = states.get(name).cloned().unwrap_or_default();
            checks.insert(name, if state.ok { "ok" } else { "failing" });
            last_ok_secs_ago.insert(name, state.last_ok.map(|at| (at.elapsed().as_secs_f64() * 10.0).round() / 10.0));
        }
        let index = self.index_caught_up();
        if let Err(reason) = &index {
            tracing::debug!(component = SEARCH_INDEX, %reason, "not ready");
        }
        checks.insert(SEARCH_INDEX, if index.is_ok() { "ok" } else { "failing" });
        let ready = checks.values().all(|state| *state == "ok");
        Report {
            status: if ready { "ready" } else { "not ready" },
            checks,
            last_ok_secs_ago,
            ocr_languages: self.ocr.clone(),
            encryption: *self.encryption.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }
}

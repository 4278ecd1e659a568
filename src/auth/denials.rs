//! Refused authentications in the audit trail, flood-proof. The first few refusals of a client
//! address within a window are events of their own, with reason and path; the rest of that
//! window are counted and written as one summary event (count, first and last seen, reasons)
//! when it closes. So a loop of bad tokens grows the trail by at most `individual + 1` events
//! per client per window — linearly in time, not in requests — and real events stay findable.
//! Every field is bounded.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::audit::{self, Action, Actor, NewEvent, Outcome};
use crate::caller::RequestInfo;

/// Longest reason or path recorded (they may carry what a caller sent).
const MAX_TEXT_CHARS: usize = 200;
/// Distinct reasons counted per window.
const MAX_REASONS: usize = 10;

pub struct Denials {
    log: audit::Log,
    window: Duration,
    /// Refusals per client and window recorded one by one before the rest are counted.
    individual: u64,
    windows: Mutex<HashMap<String, Window>>,
}

/// The refusals of one client within one window; `count` and the rest are of those beyond the
/// individually recorded ones.
struct Window {
    opened: Instant,
    recorded: u64,
    first_seen: chrono::DateTime<chrono::Utc>,
    last_seen: chrono::DateTime<chrono::Utc>,
    count: u64,
    reasons: BTreeMap<String, u64>,
    last_request: RequestInfo,
}

impl Denials {
    pub fn new(log: audit::Log, window: Duration, individual: u64) -> Self {
        Self { log, window, individual, windows: Mutex::new(HashMap::new()) }
    }

    /// Record that `request` was refused for `reason` (trying `path`, with `via` how).
    pub async fn record(&self, request: &RequestInfo, reason: &str, path: &str, via: &str) {
        let (reason, path) = (bounded(reason), bounded(path));
        let (individual, closed) = {
            let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
            let expired = windows.get(&request.ip).is_some_and(|w| w.opened.elapsed() >= self.window);
            let closed = if expired { windows.remove(&request.ip) } else { None };
            let now = chrono::Utc::now();
            let window = windows.entry(request.ip.clone()).or_insert_with(|| Window {
                opened: Instant::now(),
                recorded: 0,
                first_seen: now,
                last_seen: now,
                count: 0,
                reasons: BTreeMap::new(),
                last_request: request.clone(),
            });
            let individual = window.recorded < self.individual;
            if individual {
                window.recorded += 1;
            } else {
                if window.count == 0 {
                    window.first_seen = now;
                }
                window.count += 1;
                window.last_seen = now;
                window.last_request = request.clone();
                if window.reasons.len() < MAX_REASONS || window.reasons.contains_key(&reason) {
                    *window.reasons.entry(reason.clone()).or_default() += 1;
                }
            }
            (individual, closed)
        };
        if let Some(window) = closed {
            self.write_summary(window).await;
        }
        if individual {
            let event = NewEvent::new(Actor::anonymous(), request, Action::AuthDenied, Outcome::Denied)
                .details(json!({"reason": reason, "path": path, "via": via}));
            if let Err(error) = self.log.record(event).await {
                tracing::error!(%error, "could not audit a refused sign-in");
            }
        }
    }

    /// Write the summaries of the windows that have closed.
    pub async fn flush(&self) {
        let closed: Vec<Window> = {
            let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
            let expired: Vec<String> =
                windows.iter().filter(|(_, w)| w.opened.elapsed() >= self.window).map(|(ip, _)| ip.clone()).collect();
            expired.iter().filter_map(|ip| windows.remove(ip)).collect()
        };
        for window in closed {
            self.write_summary(window).await;
        }
    }

    /// Flush closed windows every half window.
    pub fn spawn_flush(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval((self.window / 2).max(Duration::from_millis(100)));
            loop {
                every.tick().await;
                self.flush().await;
            }
        });
    }

    async fn write_summary(&self, window: Window) {
        if window.count == 0 {
            return;
        }
        let event = NewEvent::new(Actor::anonymous(), &window.last_request, Action::AuthDenied, Outcome::Denied)
            .details(json!({
                "aggregated": true,
                "count": window.count,
                "first_seen": audit::format_time(window.first_seen),
                "last_seen": audit::format_time(window.last_seen),
                "window_secs": self.window.as_secs(),
                "reasons": window.reasons,
            }));
        if let Err(error) = self.log.record(event).await {
            tracing::error!(%error, "could not audit a summary of refused sign-ins");
        }
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

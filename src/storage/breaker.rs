//! A circuit breaker in front of the object store, so that a dead or frozen store does not cost
//! every request the full time-out: after `storage.breaker_failures` consecutive failures of the
//! store itself (a missing object is an answer, not a failure) it opens, and for
//! `storage.breaker_cooldown_ms` requests fail at once ([`StorageError::Unavailable`], a 503).
//! Then one request is let through to try; its success closes the breaker, its failure opens it
//! again. Readiness checks the store directly, past the breaker.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::StorageError;

pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// The trial request let through after the cooldown, when it started.
    trial_since: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold: threshold.max(1), cooldown, state: Mutex::new(State::default()) }
    }

    /// May a request go to the store now?
    pub fn admit(&self) -> Result<(), StorageError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(open_until) = state.open_until else { return Ok(()) };
        let now = Instant::now();
        if now < open_until {
            return Err(StorageError::Unavailable);
        }
        // Half open: one trial at a time (a trial that never reported is replaced after a while).
        if state.trial_since.is_some_and(|since| now.duration_since(since) < self.cooldown) {
            return Err(StorageError::Unavailable);
        }
        state.trial_since = Some(now);
        Ok(())
    }

    /// Record how a request the breaker admitted ended.
    pub fn record<T>(&self, result: &Result<T, StorageError>) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match result {
            Err(StorageError::Store(_)) => {
                state.failures = state.failures.saturating_add(1);
                state.trial_since = None;
                if state.failures >= self.threshold {
                    if state.open_until.is_none() {
                        tracing::warn!(failures = state.failures, cooldown = ?self.cooldown, "object store failing; breaker open");
                    }
                    state.open_until = Some(Instant::now() + self.cooldown);
                }
            }
            _ => {
                if state.open_until.is_some() {
                    tracing::info!("object store answers again; breaker closed");
                }
                *state = State::default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Result<(), StorageError> {
        Err(StorageError::Store(object_store::Error::Generic { store: "test", source: "frozen".into() }))
    }

    #[test]
    fn opens_after_failures_fails_fast_and_closes_after_a_good_trial() {
        let breaker = Breaker::new(2, Duration::from_millis(50));
        breaker.admit().expect("closed");
        breaker.record(&failure());
        breaker.admit().expect("one failure is not enough");
        breaker.record(&failure());
        assert!(matches!(breaker.admit(), Err(StorageError::Unavailable)), "open: fails at once");
        std::thread::sleep(Duration::from_millis(60));
        breaker.admit().expect("a trial after the cooldown");
        assert!(matches!(breaker.admit(), Err(StorageError::Unavailable)), "one trial at a time");
        breaker.record(&Ok::<(), StorageError>(()));
        breaker.admit().expect("closed again");
        breaker.record(&Err::<(), _>(StorageError::NotFound("x".into())));
        breaker.admit().expect("a missing object is an answer");
    }
}

//! The hash chain, pure: `hash = hex(sha256(prev_hash + "\n" + JCS(event without "hash")))`,
//! JCS = RFC 8785; the first event's `prev_hash` is 64 zeros; `seq` runs 1, 2, 3 … without gaps.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::event::Event;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// RFC 8785 canonical JSON of the event without its `hash` member.
pub fn canonical_without_hash(event: &Value) -> Result<String, serde_json::Error> {
    let mut body = event.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("hash");
    }
    serde_json_canonicalizer::to_string(&body)
}

pub fn link_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// The hash an event must carry.
pub fn expected_hash(event: &impl Serialize) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(event)?;
    let prev = value.get("prev_hash").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(link_hash(&prev, &canonical_without_hash(&value)?))
}

/// The first place where a sequence of exported events stops being a valid chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
    pub expected: String,
    pub found: String,
}

/// Walks events in order, checking numbering, links and hashes.
#[derive(Debug)]
pub struct ChainChecker {
    next_seq: i64,
    prev_hash: String,
}

impl Default for ChainChecker {
    fn default() -> Self {
        Self { next_seq: 1, prev_hash: GENESIS_HASH.to_owned() }
    }
}

impl ChainChecker {
    /// Check the next event given as its full JSON (with `hash`).
    pub fn check(&mut self, event: &Value) -> Result<(), BrokenLink> {
        let seq = event.get("seq").and_then(Value::as_i64).unwrap_or(-1);
        let found_prev = event.get("prev_hash").and_then(Value::as_str).unwrap_or_default();
        let found_hash = event.get("hash").and_then(Value::as_str).unwrap_or_default();
        // The first position at which the chain is broken is always the next expected one.
        let at = self.next_seq;
        let broken = |reason: &str, expected: String, found: String| BrokenLink {
            seq: at,
            reason: reason.to_owned(),
            expected,
            found,
        };
        if seq != self.next_seq {
            return Err(broken(
                "sequence number out of order (an event is missing, moved or inserted)",
                self.next_seq.to_string(),
                seq.to_string(),
            ));
        }
        if found_prev != self.prev_hash {
            return Err(broken(
                "prev_hash does not link to the previous event",
                self.prev_hash.clone(),
                found_prev.to_owned(),
            ));
        }
        let canonical = canonical_without_hash(event)
            .map_err(|e| broken("event is not valid JSON", String::new(), e.to_string()))?;
        let expected = link_hash(&self.prev_hash, &canonical);
        if expected != found_hash {
            return Err(broken("hash does not match the event's content", expected, found_hash.to_owned()));
        }
        self.prev_hash = expected;
        self.next_seq += 1;
        Ok(())
    }

    /// Events checked so far.
    pub fn count(&self) -> i64 {
        self.next_seq - 1
    }

    pub fn head_hash(&self) -> &str {
        &self.prev_hash
    }
}

/// Convenience for a whole exported chain.
pub fn verify_events(events: &[Event]) -> Result<i64, BrokenLink> {
    let mut checker = ChainChecker::default();
    for event in events {
        let value = serde_json::to_value(event).map_err(|e| BrokenLink {
            seq: event.seq,
            reason: "unserialisable".into(),
            expected: String::new(),
            found: e.to_string(),
        })?;
        checker.check(&value)?;
    }
    Ok(checker.count())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::audit::event::{Action, Actor, Outcome, Target};
    use crate::caller::RequestInfo;

    fn chain(n: i64) -> Vec<Event> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut event = Event {
                    seq,
                    id: format!("00000000-0000-0000-0000-{seq:012}"),
                    at: "2026-11-28T12:00:00.000Z".into(),
                    actor: Actor {
                        sub: Some("analyst-rs".into()), name: Some("Ђорђе".into()), ..Actor::default()
                    },
                    action: Action::DocumentView,
                    outcome: Outcome::Allowed,
                    target: Target::document("d1"),
                    request: RequestInfo::default(),
                    details: json!({"n": seq, "query": "Београд"}),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                event.hash = expected_hash(&event).expect("hash");
                prev = event.hash.clone();
                event
            })
            .collect()
    }

    #[test]
    fn jcs_sorts_keys_and_keeps_unicode() {
        let canonical =
            canonical_without_hash(&json!({"b": 1, "a": "Ђ", "hash": "x", "c": {"z": true, "y": null}})).expect("jcs");
        assert_eq!(canonical, r#"{"a":"Ђ","b":1,"c":{"y":null,"z":true}}"#);
    }

    #[test]
    fn a_valid_chain_verifies() {
        assert_eq!(verify_events(&chain(5)), Ok(5));
        assert_eq!(chain(1)[0].prev_hash, GENESIS_HASH);
    }

    #[test]
    fn every_kind_of_tampering_is_found_at_the_right_seq() {
        let mut modified = chain(5);
        modified[2].details = json!({"n": 3, "query": "Beograd"});
        assert_eq!(verify_events(&modified).expect_err("modified").seq, 3);

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(verify_events(&deleted).expect_err("deleted").seq, 2);

        let mut reordered = chain(5);
        reordered.swap(2, 3);
        assert_eq!(verify_events(&reordered).expect_err("reordered").seq, 3);

        let mut renumbered = chain(5);
        renumbered.swap(2, 3);
        renumbered[2].seq = 3;
        renumbered[3].seq = 4;
        assert_eq!(verify_events(&renumbered).expect_err("reordered and renumbered").seq, 3);

        let mut forged = chain(5);
        let mut fake = forged[4].clone();
        fake.seq = 6;
        fake.prev_hash = forged[4].hash.clone();
        fake.hash = "f".repeat(64);
        forged.push(fake);
        assert_eq!(verify_events(&forged).expect_err("forged").seq, 6);
    }
}

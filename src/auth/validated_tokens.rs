//! Bearer tokens already validated, remembered until they expire, so a client that sends the
//! same token on every request pays for the signature check and claim mapping once.
//!
//! Entries are keyed by the SHA-256 of the token (the token itself is never kept). An entry
//! answers only while (a) the token's `exp`, with the validator's leeway, has not passed — the
//! same bound the full validation applies — and (b) the key that verified it is still the one
//! the JWKS cache holds, fresh, for its `kid`: a key withdrawn at the issuer, a refreshed key set
//! or keys past `jwks_max_age_secs` end every entry they verified at once, and the token takes
//! the full path again. Refusals are never remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::jwks::VerificationKey;
use crate::policy::Principal;

/// Bounds memory whatever clients send; when full, expired entries go first, then all.
const CAPACITY: usize = 10_000;

type TokenDigest = [u8; 32];

#[derive(Clone)]
pub struct Validated {
    pub principal: Principal,
    pub kid: String,
    /// The very key (by identity) that verified the token.
    pub key: Arc<VerificationKey>,
    /// Unix seconds after which the token is refused (`exp` + leeway).
    pub usable_until: i64,
}

#[derive(Default)]
pub struct ValidatedTokens {
    entries: Mutex<HashMap<TokenDigest, Validated>>,
}

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

impl ValidatedTokens {
    /// The entry for `token` if it is still within its time at `now` (unix seconds). The caller
    /// still checks the key ([`Validated::key`]) against the JWKS cache.
    pub fn get(&self, token: &TokenDigest, now: i64) -> Option<Validated> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(token).filter(|entry| now <= entry.usable_until).cloned()
    }

    pub fn remember(&self, token: TokenDigest, validated: Validated, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&token) {
            entries.retain(|_, entry| now <= entry.usable_until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token, validated);
    }

    pub fn forget(&self, token: &TokenDigest) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(token);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwks::KeyFamily;
    use crate::policy::Ladder;

    fn key() -> Arc<VerificationKey> {
        Arc::new(VerificationKey {
            key: jsonwebtoken::DecodingKey::from_ed_der(&[0; 32]),
            family: KeyFamily::Okp,
            algorithm: None,
        })
    }

    fn validated(usable_until: i64) -> Validated {
        let ladder = Ladder::new(&["UNCLASSIFIED".into()], "UNCLASSIFIED").expect("ladder");
        let principal = Principal {
            sub: "analyst".into(),
            name: "Analyst".into(),
            organisation: "MUP-RS".into(),
            country: "RS".into(),
            clearance: ladder.lowest(),
            roles: vec![],
            capabilities: Default::default(),
            email: None,
        };
        Validated { principal, kid: "k1".into(), key: key(), usable_until }
    }

    #[test]
    fn an_entry_answers_until_its_time_and_not_after() {
        let tokens = ValidatedTokens::default();
        let token = digest("header.claims.signature");
        tokens.remember(token, validated(100), 50);
        assert!(tokens.get(&token, 100).is_some(), "at exp + leeway it is still valid");
        assert!(tokens.get(&token, 101).is_none(), "one second later it is not");
        assert!(tokens.get(&digest("another.token.x"), 50).is_none());
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_stays_bounded() {
        let tokens = ValidatedTokens::default();
        for n in 0..CAPACITY {
            // Half expire at 10, half live until 1000.
            let until = if n % 2 == 0 { 10 } else { 1_000 };
            tokens.remember(digest(&n.to_string()), validated(until), 0);
        }
        tokens.remember(digest("new"), validated(1_000), 20);
        assert_eq!(tokens.len(), CAPACITY / 2 + 1, "expired entries were dropped, live ones kept");
        assert!(tokens.get(&digest("1"), 20).is_some());

        for n in 0..CAPACITY {
            tokens.remember(digest(&format!("live {n}")), validated(1_000), 20);
        }
        assert!(tokens.len() <= CAPACITY, "never more than the capacity: {}", tokens.len());
    }
}

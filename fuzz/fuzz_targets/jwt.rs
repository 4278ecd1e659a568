//! The bearer-token path without the network: the first line is the issuer's JWKS (parsed and
//! filtered as the key cache does), the rest the token — its header checked, the key it names
//! taken, signature, claims and mapping verified. Any input is refused with a reason or accepted
//! as a principal whose claims carry the configured issuer and audience; nothing panics.
#![no_main]

mod common;

use std::sync::OnceLock;

use anaspoc::auth::claims::ClaimMapper;
use anaspoc::auth::jwks::usable_keys;
use anaspoc::auth::{TokenValidator, discovery};
use libfuzzer_sys::fuzz_target;

/// The demo identity provider's issuer, as the seed tokens carry it.
const ISSUER: &str = "http://127.0.0.1:8080/demo-idp";

fn validator() -> &'static TokenValidator {
    static VALIDATOR: OnceLock<TokenValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let settings = common::settings();
        let policy = settings.policy.compile().expect("policy");
        let mapper = ClaimMapper::new(settings.oidc.claims.clone(), &policy, settings.policy.roles.clone());
        let http = discovery::identity_provider_client(&settings.oidc).expect("client (never used)");
        TokenValidator::new(&settings.oidc, ISSUER.into(), http, mapper)
    })
}

fuzz_target!(|data: &[u8]| {
    let (jwks, token) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let Ok(token) = std::str::from_utf8(token) else { return };
    let keys = serde_json::from_slice(jwks).map(|set| usable_keys(&set)).unwrap_or_default();
    let validator = validator();
    let Ok(header) = validator.header(token) else { return };
    let Some(key) = header.kid.as_deref().and_then(|kid| keys.get(kid)) else { return };
    if let Ok((principal, claims)) = validator.verify(token, &header, key) {
        assert_eq!(claims["iss"], ISSUER);
        assert!(!principal.sub.is_empty());
    }
});

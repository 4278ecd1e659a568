//! The `metadata` part of an upload: any bytes are parsed as JSON and every field validated as
//! an uploader of each country sends it — accepted or refused with a field and a reason, never
//! a panic; what is accepted is within the bounds the platform promises.
#![no_main]

mod common;

use std::sync::OnceLock;

use anaspoc::documents::NewDocument;
use anaspoc::policy::{PolicyConfig, Principal, Releasability};
use libfuzzer_sys::fuzz_target;

fn world() -> &'static (PolicyConfig, Vec<Principal>) {
    static WORLD: OnceLock<(PolicyConfig, Vec<Principal>)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let policy = common::policy();
        let uploaders = vec![
            common::analyst(&policy, "RS", "MUP", "CONFIDENTIAL"),
            common::analyst(&policy, "AL", "ASP", "SENSITIVE"),
            common::analyst(&policy, "EU", "EUROPOL", "RESTRICTED"),
        ];
        (policy, uploaders)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(new) = serde_json::from_slice::<NewDocument>(data) else { return };
    let (policy, uploaders) = world();
    for uploader in uploaders {
        let Ok(valid) = new.validate(policy, uploader) else { continue };
        assert!(!valid.title.is_empty() && valid.title.chars().count() <= 300);
        assert!(valid.tags.len() <= 50);
        // Nobody marks a document above their own clearance or the platform's ceiling.
        assert!(valid.markings.classification().rank() <= uploader.clearance.rank());
        if let Releasability::Countries(countries) = valid.markings.releasable_to() {
            assert!(!countries.is_empty() && countries.iter().all(|c| policy.countries.contains(c)), "{countries:?}");
        }
    }
});

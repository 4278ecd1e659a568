//! What the targets share: the demo configuration's policy and a signed-in analyst.
#![allow(dead_code)]

use std::collections::BTreeSet;

use anaspoc::config::{Profile, Settings};
use anaspoc::policy::{Capability, PolicyConfig, Principal};

pub fn settings() -> Settings {
    Settings::load(&Profile::Named("demo".into())).expect("the demo profile is compiled in")
}

pub fn policy() -> PolicyConfig {
    settings().policy.compile().expect("the demo policy compiles")
}

/// An analyst of `organisation` in `country`, cleared to `clearance`, who reads and writes.
pub fn analyst(policy: &PolicyConfig, country: &str, organisation: &str, clearance: &str) -> Principal {
    Principal {
        sub: format!("{organisation}-analyst"),
        name: "Analyst".into(),
        organisation: organisation.into(),
        country: country.into(),
        clearance: policy.ladder.parse(clearance).expect("a level of the demo ladder"),
        roles: vec!["analyst".into()],
        capabilities: BTreeSet::from([Capability::DocumentRead, Capability::DocumentWrite]),
        email: None,
    }
}

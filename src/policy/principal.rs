//! Who is asking — the principal an access token establishes — and what their roles let them do.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Level;

/// What a role grants (configured in `[policy.roles]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Capability {
    #[serde(rename = "document:read")]
    DocumentRead,
    #[serde(rename = "document:write")]
    DocumentWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Capability {
    pub const ALL: [Capability; 4] =
        [Capability::DocumentRead, Capability::DocumentWrite, Capability::AuditRead, Capability::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::DocumentRead => "document:read",
            Capability::DocumentWrite => "document:write",
            Capability::AuditRead => "audit:read",
            Capability::Admin => "admin",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown capability `{0}`")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

/// An organisation, identified by its country and its name (the country code, validated, holds
/// no `:`, so the key is unambiguous).
pub fn organisation_key(country: &str, organisation: &str) -> String {
    format!("{country}:{organisation}")
}

/// The caller, as established from a validated access token. `GET /api/v1/me` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub sub: String,
    pub name: String,
    pub organisation: String,
    pub country: String,
    /// The highest classification level the caller may read.
    #[schema(value_type = String)]
    pub clearance: Level,
    pub roles: Vec<String>,
    pub capabilities: BTreeSet<Capability>,
    /// Where e-mail digests go, if the identity provider says (never shown to others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Principal {
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// The principal's organisation: a name within a country, so that "MUP" of Serbia and "MUP"
    /// of Montenegro are two organisations.
    pub fn organisation_key(&self) -> String {
        organisation_key(&self.country, &self.organisation)
    }
}

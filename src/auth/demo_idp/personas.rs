//! The demo identity provider's people: one analyst per ANASPOC country, a EUROPOL advisor, an
//! auditor and an administrator, with different organisations and clearances.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Persona {
    /// Login name, also the `sub` of issued tokens.
    pub username: &'static str,
    pub name: &'static str,
    pub organisation: &'static str,
    pub country: &'static str,
    pub clearance: &'static str,
    pub roles: &'static [&'static str],
    /// What the persona is for, shown on the login page and printed at start.
    pub description: &'static str,
}

pub const PERSONAS: &[Persona] = &[
    Persona {
        username: "analyst-al",
        name: "Arta Hoxha",
        organisation: "AL-ASP",
        country: "AL",
        clearance: "RESTRICTED",
        roles: &["analyst"],
        description: "Analyst, Albanian State Police",
    },
    Persona {
        username: "analyst-ba",
        name: "Amra Hodžić",
        organisation: "BA-SIPA",
        country: "BA",
        clearance: "SENSITIVE",
        roles: &["analyst"],
        description: "Analyst, State Investigation and Protection Agency (BiH)",
    },
    Persona {
        username: "analyst-xk",
        name: "Driton Krasniqi",
        organisation: "XK-KP",
        country: "XK",
        clearance: "RESTRICTED",
        roles: &["analyst"],
        description: "Analyst, Kosovo Police",
    },
    Persona {
        username: "analyst-me",
        name: "Milica Vuković",
        organisation: "ME-UP",
        country: "ME",
        clearance: "SENSITIVE",
        roles: &["analyst"],
        description: "Analyst, Police Directorate of Montenegro",
    },
    Persona {
        username: "analyst-mk",
        name: "Елена Стојановска",
        organisation: "MK-MVR",
        country: "MK",
        clearance: "RESTRICTED",
        roles: &["analyst"],
        description: "Analyst, Ministry of Interior of North Macedonia",
    },
    Persona {
        username: "analyst-rs",
        name: "Ђорђе Петровић",
        organisation: "RS-MUP",
        country: "RS",
        clearance: "CONFIDENTIAL",
        roles: &["analyst"],
        description: "Analyst, Ministry of Interior of Serbia",
    },
    Persona {
        username: "advisor-europol",
        name: "Sophie Laurent",
        organisation: "EUROPOL",
        country: "EU",
        clearance: "RESTRICTED",
        roles: &["advisor"],
        description: "Strategic advisor, EUROPOL",
    },
    Persona {
        username: "auditor",
        name: "Ilir Berisha",
        organisation: "ANASPOC-AUDIT",
        country: "EU",
        clearance: "RESTRICTED",
        roles: &["auditor"],
        description: "Auditor (audit trail only, no document content)",
    },
    Persona {
        username: "admin",
        name: "Jelena Marković",
        organisation: "ANASPOC-OPS",
        country: "EU",
        clearance: "UNCLASSIFIED",
        roles: &["admin"],
        description: "Platform administrator (no document content)",
    },
];

impl Persona {
    /// Who the persona is, as an access token's claims say it (Keycloak-shaped: roles in
    /// `realm_access`); the provider adds issuer, audience and times.
    pub fn identity_claims(&self) -> serde_json::Value {
        serde_json::json!({
            "sub": self.username,
            "name": self.name,
            "preferred_username": self.username,
            "organisation": self.organisation,
            "country": self.country,
            "clearance": self.clearance,
            "realm_access": {"roles": self.roles},
            // Fictional addresses (`.example` is reserved): where e-mail digests of alerts go.
            "email": format!("{}@{}.example", self.username, self.organisation.to_ascii_lowercase()),
        })
    }
}

pub fn find(username: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.username == username)
}

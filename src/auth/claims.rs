//! Claim mapping: from a validated token's claims to a [`Principal`], by the JSON pointers of
//! `[oidc.claims]` (defaults fit Keycloak) and the role → capability table of `[policy.roles]`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::config::ClaimPaths;
use crate::policy::{Capability, Ladder, PolicyConfig, Principal};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimError {
    #[error("required claim `{claim}` (at {pointer}) is missing or empty")]
    Missing { claim: &'static str, pointer: String },
    #[error("claim `{claim}` (at {pointer}) is not valid: {problem}")]
    Invalid { claim: &'static str, pointer: String, problem: String },
}

/// Maps claims to principals; built once from configuration.
#[derive(Clone, Debug)]
pub struct ClaimMapper {
    paths: ClaimPaths,
    ladder: Ladder,
    roles: BTreeMap<String, BTreeSet<Capability>>,
    /// The network's countries (`policy.countries`): a token from anywhere else is refused.
    countries: BTreeSet<String>,
}

impl ClaimMapper {
    pub fn new(paths: ClaimPaths, policy: &PolicyConfig, roles: BTreeMap<String, BTreeSet<Capability>>) -> Self {
        Self { paths, ladder: policy.ladder.clone(), roles, countries: policy.countries.clone() }
    }

    pub fn map(&self, claims: &Value) -> Result<Principal, ClaimError> {
        let sub = self.required("sub", &self.paths.sub, claims)?;
        let organisation = self.required("organisation", &self.paths.organisation, claims)?;
        let country = self.required("country", &self.paths.country, claims)?.to_ascii_uppercase();
        if !(2..=3).contains(&country.len()) || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(self.invalid("country", &self.paths.country, format!("`{country}` is not a country code")));
        }
        // `ALL` on a document means every configured country — never one the network does not
        // have, and no principal is "of" ALL (configuration refuses ALL as a country).
        if !self.countries.contains(&country) {
            return Err(self.invalid(
                "country",
                &self.paths.country,
                format!("`{country}` is not one of the network's countries (policy.countries)"),
            ));
        }
        let name = self.optional("name", &self.paths.name, claims)?.unwrap_or_else(|| sub.clone());
        let clearance = match self.optional("clearance", &self.paths.clearance, claims)? {
            // A missing clearance is the lowest level (docs/architecture.md).
            None => self.ladder.lowest(),
            Some(level) => self.ladder.parse(&level).ok_or_else(|| {
                self.invalid("clearance", &self.paths.clearance, format!("`{level}` is not a configured level"))
            })?,
        };
        let roles = self.roles(claims)?;
        let capabilities = roles.iter().filter_map(|r| self.roles.get(r)).flatten().copied().collect();
        // An address only if it looks like one: it is used for e-mail digests and nothing else.
        let email = self
            .optional("email", &self.paths.email, claims)?
            .filter(|a| a.contains('@') && !a.contains(char::is_whitespace));
        Ok(Principal { sub, name, organisation, country, clearance, roles, capabilities, email })
    }

    /// Roles as an array of strings or one space-separated string; absent means none.
    fn roles(&self, claims: &Value) -> Result<Vec<String>, ClaimError> {
        let pointer = &self.paths.roles;
        let mut roles: Vec<String> = match claims.pointer(pointer) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.invalid("roles", pointer, "must be an array of strings".into()))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(self.invalid("roles", pointer, "must be an array of strings".into()));
            }
        };
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    fn required(&self, claim: &'static str, pointer: &str, claims: &Value) -> Result<String, ClaimError> {
        self.optional(claim, pointer, claims)?.ok_or_else(|| ClaimError::Missing { claim, pointer: pointer.to_owned() })
    }

    /// A string claim; a one-element array is accepted too (Keycloak's multi-valued user
    /// attributes). Empty strings count as absent.
    fn optional(&self, claim: &'static str, pointer: &str, claims: &Value) -> Result<Option<String>, ClaimError> {
        let value = match claims.pointer(pointer) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) if items.len() == 1 => &items[0],
            Some(value) => value,
        };
        match value {
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.trim().to_owned())),
            _ => Err(self.invalid(claim, pointer, "must be a string".into())),
        }
    }

    fn invalid(&self, claim: &'static str, pointer: &str, problem: String) -> ClaimError {
        ClaimError::Invalid { claim, pointer: pointer.to_owned(), problem }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Settings;

    fn settings() -> Settings {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(crate::config::DEFAULT_TOML)).extract().expect("defaults")
    }

    fn mapper_with(paths: impl FnOnce(&mut ClaimPaths)) -> ClaimMapper {
        let settings = settings();
        let mut claim_paths = settings.oidc.claims.clone();
        paths(&mut claim_paths);
        let policy = settings.policy.compile().expect("policy");
        ClaimMapper::new(claim_paths, &policy, settings.policy.roles.clone())
    }

    fn mapper() -> ClaimMapper {
        mapper_with(|_| {})
    }

    fn keycloak_claims() -> Value {
        json!({
            "sub": "5f0c9d1e-analyst",
            "name": "Đorđe Petrović",
            "organisation": "RS-MUP",
            "country": "rs",
            "clearance": "CONFIDENTIAL",
            "realm_access": {"roles": ["analyst", "offline_access", "uma_authorization"]},
        })
    }

    #[test]
    fn keycloak_shaped_claims_map_to_a_principal_with_capabilities() {
        let principal = mapper().map(&keycloak_claims()).expect("maps");
        assert_eq!(principal.sub, "5f0c9d1e-analyst");
        assert_eq!(principal.name, "Đorđe Petrović");
        assert_eq!(principal.organisation, "RS-MUP");
        assert_eq!(principal.country, "RS", "country is normalised to upper case");
        assert_eq!(principal.clearance.name(), "CONFIDENTIAL");
        assert_eq!(principal.roles, ["analyst", "offline_access", "uma_authorization"]);
        assert_eq!(principal.capabilities, BTreeSet::from([Capability::DocumentRead, Capability::DocumentWrite]));
    }

    #[test]
    fn capabilities_are_the_union_of_the_roles() {
        let mut claims = keycloak_claims();
        claims["realm_access"]["roles"] = json!(["auditor", "admin"]);
        let principal = mapper().map(&claims).expect("maps");
        assert_eq!(principal.capabilities, BTreeSet::from([Capability::AuditRead, Capability::Admin]));
        assert!(!principal.has(Capability::DocumentRead), "auditors and admins do not read documents");
    }

    #[test]
    fn missing_clearance_is_the_lowest_level_and_missing_roles_grant_nothing() {
        let claims = json!({"sub": "u1", "organisation": "AL-ASP", "country": "AL"});
        let principal = mapper().map(&claims).expect("maps");
        assert_eq!(principal.clearance.name(), "UNCLASSIFIED");
        assert!(principal.roles.is_empty());
        assert!(principal.capabilities.is_empty());
        assert_eq!(principal.name, "u1", "name falls back to sub");
    }

    #[test]
    fn each_required_claim_is_required() {
        for claim in ["sub", "organisation", "country"] {
            let mut claims = keycloak_claims();
            claims.as_object_mut().expect("object").remove(claim);
            let err = mapper().map(&claims).expect_err("refused");
            assert!(matches!(err, ClaimError::Missing { claim: c, .. } if c == claim), "{claim}: {err}");
            let mut claims = keycloak_claims();
            claims[claim] = json!("  ");
            assert!(mapper().map(&claims).is_err(), "blank {claim} is refused");
        }
    }

    #[test]
    fn unknown_clearance_and_malformed_values_are_refused_not_guessed() {
        let cases = [
            ("clearance", json!("TOP SECRET")),
            ("clearance", json!(3)),
            ("country", json!("Serbia")),
            // Outside the network, and the reserved "every country" value: never a principal's.
            ("country", json!("DE")),
            ("country", json!("ALL")),
            ("country", json!("all")),
            ("organisation", json!({"id": 1})),
        ];
        for (claim, value) in cases {
            let mut claims = keycloak_claims();
            claims[claim] = value.clone();
            let err = mapper().map(&claims).expect_err("refused");
            assert!(matches!(err, ClaimError::Invalid { .. }), "{claim}={value}: {err}");
        }
        let mut claims = keycloak_claims();
        claims["realm_access"]["roles"] = json!([1, 2]);
        assert!(mapper().map(&claims).is_err());
    }

    #[test]
    fn pointers_are_configurable_and_multi_valued_attributes_accepted() {
        let mapper = mapper_with(|paths| {
            paths.roles = "/resource_access/anaspoc/roles".into();
            paths.organisation = "/attributes/org".into();
            paths.name = "/preferred_username".into();
        });
        let claims = json!({
            "sub": "u2",
            "preferred_username": "a.hoxha",
            "country": ["AL"],
            "attributes": {"org": ["AL-ASP"]},
            "resource_access": {"anaspoc": {"roles": "advisor auditor"}},
        });
        let principal = mapper.map(&claims).expect("maps");
        assert_eq!(principal.name, "a.hoxha");
        assert_eq!(principal.organisation, "AL-ASP");
        assert_eq!(principal.country, "AL");
        assert_eq!(principal.roles, ["advisor", "auditor"]);
        assert!(principal.has(Capability::AuditRead) && principal.has(Capability::DocumentWrite));
    }
}

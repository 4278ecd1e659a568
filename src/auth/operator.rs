//! Identities of operator commands that act on documents (`anaspoc import --as NAME`): one of
//! `[import.identities]`, given as the claims an access token of that principal would carry and
//! mapped exactly as a token's are — or, in demo mode, a demo persona. Whoever may run the
//! command with this configuration acts as that principal; its capabilities and clearance bound
//! the command as they bound a request, and the audit trail records the principal.

use super::ClaimMapper;
use super::demo_idp::personas;
use crate::caller::{Caller, RequestInfo};
use crate::config::Settings;
use crate::policy::PolicyConfig;

#[derive(Debug, thiserror::Error)]
#[error("--as {name}: {problem}")]
pub struct UnknownIdentity {
    pub name: String,
    pub problem: String,
}

/// The caller `command` (e.g. `anaspoc import manifest.csv`) acts as, named `name`.
pub fn operator(
    settings: &Settings,
    policy: &PolicyConfig,
    name: &str,
    command: &str,
) -> Result<Caller, UnknownIdentity> {
    let unknown = |problem: String| UnknownIdentity { name: name.into(), problem };
    let claims = match settings.import.identities.get(name) {
        Some(claims) => claims.clone(),
        None => match personas::find(name).filter(|_| settings.demo.enabled) {
            Some(persona) => persona.identity_claims(),
            None => {
                let known: Vec<&str> = settings.import.identities.keys().map(String::as_str).collect();
                let known = if known.is_empty() { "none".into() } else { known.join(", ") };
                return Err(unknown(format!("no such identity in [import.identities] (configured: {known})")));
            }
        },
    };
    let principal = ClaimMapper::new(settings.oidc.claims.clone(), policy, settings.policy.roles.clone())
        .map(&claims)
        .map_err(|e| unknown(format!("import.identities.{name}: {e}")))?;
    let request = RequestInfo {
        id: uuid::Uuid::new_v4().to_string(),
        ip: String::new(),
        user_agent: command.chars().take(256).collect(),
    };
    Ok(Caller { principal, request })
}

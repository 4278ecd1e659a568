//! The directory of users: every principal that signs in — through the API's `/me` or the
//! browser — is recorded (first and last seen, attributes as the token stated them), and the
//! sign-in is audited (`auth.login`).

use sea_orm::DatabaseConnection;
use serde_json::json;

use super::AuthError;
use crate::audit::{self, Action, NewEvent, Outcome};
use crate::caller::Caller;

/// How a user signed in, as the audit trail records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A client called `GET /api/v1/me` with a bearer token.
    Api,
    /// A browser completed the sign-in at `/auth/callback`.
    Browser,
}

pub struct Directory {
    db: DatabaseConnection,
    log: audit::Log,
}

impl Directory {
    pub fn new(db: DatabaseConnection, log: audit::Log) -> Self {
        Self { db, log }
    }

    /// Record that `caller` signed in.
    pub async fn signed_in(&self, caller: &Caller, via: Via) -> Result<(), AuthError> {
        let principal = &caller.principal;
        crate::db::users::record_sign_in(&self.db, principal)
            .await
            .map_err(|e| AuthError::Unavailable(format!("recording the sign-in: {e}")))?;
        let mut details = json!({"clearance": principal.clearance, "capabilities": principal.capabilities});
        if via == Via::Browser {
            details["via"] = json!("browser");
        }
        self.log
            .record(NewEvent::of(caller, Action::AuthLogin, Outcome::Allowed).details(details))
            .await
            .map_err(|e| AuthError::Unavailable(format!("auditing the sign-in: {e}")))?;
        Ok(())
    }
}

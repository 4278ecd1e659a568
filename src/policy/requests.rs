//! Handling-code requests (issue 16): what a reader may ask a document's provider for, and who
//! answers. H1 — not to be used in judicial proceedings without the provider's permission — calls
//! for a `judicial-use` request; H2 — not to be disseminated without it — for `dissemination`;
//! under any code a reader may ask for a `sanitised-version` they could share more widely.
//! Requests and decisions concern two organisations only: the requester's and the provider's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::decision::{Action, Decision, DocumentMarkings, Reason, decide};
use super::markings::HandlingCode;
use super::principal::{Capability, Principal, organisation_key};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    /// Permission to use an H1 document in judicial proceedings.
    JudicialUse,
    /// Permission to pass an H2 document to a named recipient.
    Dissemination,
    /// A version with lower markings, released by the provider as a derivative.
    SanitisedVersion,
}

impl RequestKind {
    pub const ALL: [RequestKind; 3] = [Self::JudicialUse, Self::Dissemination, Self::SanitisedVersion];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::JudicialUse => "judicial-use",
            Self::Dissemination => "dissemination",
            Self::SanitisedVersion => "sanitised-version",
        }
    }

    /// Whether a document under `code` calls for this kind of request.
    pub fn fits(self, code: HandlingCode) -> bool {
        match self {
            Self::JudicialUse => code == HandlingCode::H1,
            Self::Dissemination => code == HandlingCode::H2,
            Self::SanitisedVersion => true,
        }
    }

    /// A dissemination names to whom; the other kinds do not.
    pub fn needs_recipient(self) -> bool {
        self == Self::Dissemination
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| format!("unknown request kind `{s}`"))
    }
}

/// Why a request may not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestRefusal {
    /// The requester may not see the document: answer as if it did not exist.
    Hidden(Reason),
    /// The document's handling code does not call for this kind (422, naming `kind`).
    KindDoesNotFit { kind: RequestKind, code: HandlingCode },
    /// The requester belongs to the provider: there is no one to ask (422).
    OwnDocument,
}

/// May `principal` ask the provider of `document` for `kind`? Whoever may see a document may
/// ask — except its own organisation, which needs no permission from itself.
pub fn may_request(
    principal: &Principal,
    document: &DocumentMarkings,
    kind: RequestKind,
) -> Result<(), RequestRefusal> {
    if let Decision::Hidden(reason) = decide(principal, document, Action::See) {
        return Err(RequestRefusal::Hidden(reason));
    }
    if document.is_originator(principal) {
        return Err(RequestRefusal::OwnDocument);
    }
    let code = document.markings.handling_code();
    if !kind.fits(code) {
        return Err(RequestRefusal::KindDoesNotFit { kind, code });
    }
    Ok(())
}

/// The two organisations a request concerns (organisation keys, see [`organisation_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestParties {
    pub requester_sub: String,
    pub requester_organisation: String,
    pub provider_organisation: String,
}

impl RequestParties {
    /// Whether `principal` belongs to either organisation: only they see the request at all;
    /// to anyone else it does not exist (auditors see it as audit events).
    pub fn involves(&self, principal: &Principal) -> bool {
        let own = organisation_key(&principal.country, &principal.organisation);
        own == self.requester_organisation || own == self.provider_organisation
    }
}

/// May `principal` approve or deny a request on `document`? Only the provider organisation,
/// with `document:write`, and never the requester. Someone outside both organisations, or who
/// may no longer see the document, is answered as if the request did not exist.
pub fn may_decide(principal: &Principal, document: &DocumentMarkings, parties: &RequestParties) -> Decision {
    if !parties.involves(principal) {
        return Decision::Hidden(Reason::NotOriginatorOrganisation);
    }
    if let Decision::Hidden(reason) = decide(principal, document, Action::See) {
        return Decision::Hidden(reason);
    }
    if principal.sub == parties.requester_sub {
        return Decision::Forbidden(Reason::OwnRequest);
    }
    decide(principal, document, Action::Change)
}

/// Whether a derivative answering a request of `requester_sub` (of `organisation` in `country`)
/// reaches them: they could see it — published, released to their country, addressed to them
/// under TLP:RED — clearance aside (theirs is known at their sign-in, not here).
pub fn reaches_requester(
    requester_sub: &str,
    organisation: &str,
    country: &str,
    derivative: &DocumentMarkings,
) -> bool {
    let requester = Principal {
        sub: requester_sub.to_owned(),
        name: String::new(),
        organisation: organisation.to_owned(),
        country: country.to_owned(),
        clearance: derivative.markings.classification().clone(),
        roles: Vec::new(),
        capabilities: [Capability::DocumentRead].into_iter().collect(),
        email: None,
    };
    decide(&requester, derivative, Action::See).is_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::decision::Status;
    use crate::policy::{Ladder, Level, Markings, MarkingsInput, PolicyConfig};

    fn config() -> PolicyConfig {
        let levels: Vec<String> =
            ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"].map(String::from).to_vec();
        PolicyConfig {
            ladder: Ladder::new(&levels, "CONFIDENTIAL").expect("ladder"),
            countries: ["AL", "BA", "XK", "ME", "MK", "RS", "EU"].into_iter().map(str::to_owned).collect(),
        }
    }

    fn level(name: &str) -> Level {
        config().ladder.parse(name).expect("level")
    }

    /// A published RESTRICTED AMBER document of RS-MUP released to all, under `code`.
    fn document(code: &str) -> DocumentMarkings {
        let input = MarkingsInput {
            classification: "RESTRICTED".into(),
            tlp: "AMBER".into(),
            handling_code: code.into(),
            handling_note: (code == "H3").then(|| "ask first".into()),
            releasable_to: vec!["ALL".into()],
            recipients: vec![],
        };
        DocumentMarkings {
            markings: Markings::restore(&input, &config(), "RS").expect("markings"),
            originator_org: "RS-MUP".into(),
            originator_country: "RS".into(),
            status: Status::Published,
        }
    }

    fn person(sub: &str, organisation: &str, country: &str, write: bool) -> Principal {
        let mut capabilities = vec![Capability::DocumentRead];
        if write {
            capabilities.push(Capability::DocumentWrite);
        }
        Principal {
            sub: sub.into(),
            name: sub.into(),
            organisation: organisation.into(),
            country: country.into(),
            clearance: level("RESTRICTED"),
            roles: vec![],
            capabilities: capabilities.into_iter().collect(),
            email: None,
        }
    }

    #[test]
    fn each_kind_fits_its_handling_code() {
        use HandlingCode::*;
        use RequestKind::*;
        for (kind, code, fits) in [
            (JudicialUse, H0, false),
            (JudicialUse, H1, true),
            (JudicialUse, H2, false),
            (JudicialUse, H3, false),
            (Dissemination, H1, false),
            (Dissemination, H2, true),
            (Dissemination, H3, false),
            (SanitisedVersion, H0, true),
            (SanitisedVersion, H1, true),
            (SanitisedVersion, H2, true),
            (SanitisedVersion, H3, true),
        ] {
            assert_eq!(kind.fits(code), fits, "{kind} on {code:?}");
        }
        for kind in RequestKind::ALL {
            assert_eq!(kind.as_str().parse::<RequestKind>(), Ok(kind));
        }
        assert!("permission".parse::<RequestKind>().is_err());
        assert!(Dissemination.needs_recipient() && !JudicialUse.needs_recipient());
    }

    #[test]
    fn readers_of_other_organisations_may_ask_and_nobody_else() {
        let analyst_al = person("analyst-al", "AL-ASP", "AL", false);
        let provider = person("provider-rs", "RS-MUP", "RS", true);
        let h1 = document("H1");
        assert_eq!(may_request(&analyst_al, &h1, RequestKind::JudicialUse), Ok(()));
        assert_eq!(
            may_request(&analyst_al, &h1, RequestKind::Dissemination),
            Err(RequestRefusal::KindDoesNotFit { kind: RequestKind::Dissemination, code: HandlingCode::H1 })
        );
        assert_eq!(may_request(&provider, &h1, RequestKind::JudicialUse), Err(RequestRefusal::OwnDocument));
        // Hidden stays hidden: another organisation's draft, a clearance below the document.
        let mut draft = document("H1");
        draft.status = Status::Draft;
        assert_eq!(
            may_request(&analyst_al, &draft, RequestKind::JudicialUse),
            Err(RequestRefusal::Hidden(Reason::NotPublished))
        );
        let mut low = person("analyst-me", "ME-UP", "ME", false);
        low.clearance = level("SENSITIVE");
        assert_eq!(
            may_request(&low, &h1, RequestKind::SanitisedVersion),
            Err(RequestRefusal::Hidden(Reason::ClearanceTooLow))
        );
    }

    #[test]
    fn only_the_provider_with_write_decides_never_the_requester_and_outsiders_see_nothing() {
        let h2 = document("H2");
        let parties = RequestParties {
            requester_sub: "analyst-al".into(),
            requester_organisation: organisation_key("AL", "AL-ASP"),
            provider_organisation: organisation_key("RS", "RS-MUP"),
        };
        assert_eq!(may_decide(&person("provider-rs", "RS-MUP", "RS", true), &h2, &parties), Decision::Allow);
        assert_eq!(
            may_decide(&person("reader-rs", "RS-MUP", "RS", false), &h2, &parties),
            Decision::Forbidden(Reason::NoWriteCapability)
        );
        assert_eq!(
            may_decide(&person("analyst-al", "AL-ASP", "AL", true), &h2, &parties),
            Decision::Forbidden(Reason::OwnRequest)
        );
        assert_eq!(
            may_decide(&person("chief-al", "AL-ASP", "AL", true), &h2, &parties),
            Decision::Forbidden(Reason::NotOriginatorOrganisation)
        );
        let outsider = person("analyst-mk", "MK-MVR", "MK", true);
        assert!(!parties.involves(&outsider));
        assert!(matches!(may_decide(&outsider, &h2, &parties), Decision::Hidden(_)));
        // The same organisation name in another country is another organisation.
        assert!(!parties.involves(&person("x", "RS-MUP", "ME", true)));
    }

    #[test]
    fn a_derivative_reaches_the_requester_only_where_they_could_read_it() {
        let mut derivative = document("H0");
        assert!(reaches_requester("analyst-al", "AL-ASP", "AL", &derivative), "released to ALL, published");
        derivative.status = Status::Draft;
        assert!(!reaches_requester("analyst-al", "AL-ASP", "AL", &derivative), "a draft reaches nobody outside");
        let input = MarkingsInput {
            classification: "RESTRICTED".into(),
            tlp: "RED".into(),
            handling_code: "H0".into(),
            handling_note: None,
            releasable_to: vec!["AL".into()],
            recipients: vec!["analyst-al".into()],
        };
        let red = DocumentMarkings {
            markings: Markings::restore(&input, &config(), "RS").expect("markings"),
            status: Status::Published,
            ..document("H0")
        };
        assert!(reaches_requester("analyst-al", "AL-ASP", "AL", &red));
        assert!(!reaches_requester("chief-al", "AL-ASP", "AL", &red), "not a recipient");
        assert!(!reaches_requester("analyst-ba", "BA-SIPA", "BA", &red), "not released to BA");
    }
}

//! Document markings (docs/architecture.md, "Where access is decided"): classification, TLP 2.0, handling code,
//! releasability and TLP:RED recipients. [`Markings`] can only be built valid — from a user's
//! input by [`MarkingsInput::validate`], or from storage by [`Markings::restore`].

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

use super::{Ladder, Level, PolicyConfig, Principal};

/// Longest accepted handling note and recipient subject.
const MAX_NOTE_CHARS: usize = 1000;
const MAX_SUBJECT_CHARS: usize = 255;
const MAX_RECIPIENTS: usize = 500;

/// A marking that cannot be accepted, naming the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct MarkingsError {
    pub field: &'static str,
    pub problem: String,
}

fn refuse<T>(field: &'static str, problem: impl Into<String>) -> Result<T, MarkingsError> {
    Err(MarkingsError { field, problem: problem.into() })
}

/// FIRST Traffic Light Protocol 2.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "CLEAR",
            Tlp::Green => "GREEN",
            Tlp::Amber => "AMBER",
            Tlp::AmberStrict => "AMBER+STRICT",
            Tlp::Red => "RED",
        }
    }
}

impl FromStr for Tlp {
    type Err = MarkingsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let upper = upper.strip_prefix("TLP:").unwrap_or(&upper);
        match Tlp::ALL.into_iter().find(|t| t.as_str() == upper) {
            Some(tlp) => Ok(tlp),
            None if upper == "WHITE" => refuse("tlp", "TLP 2.0 replaced WHITE with CLEAR"),
            None => refuse("tlp", format!("`{s}` is not a TLP 2.0 label (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)")),
        }
    }
}

/// Europol handling codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandlingCode {
    H0,
    H1,
    H2,
    H3,
}

impl HandlingCode {
    pub const ALL: [HandlingCode; 4] = [HandlingCode::H0, HandlingCode::H1, HandlingCode::H2, HandlingCode::H3];

    pub fn as_str(self) -> &'static str {
        match self {
            HandlingCode::H0 => "H0",
            HandlingCode::H1 => "H1",
            HandlingCode::H2 => "H2",
            HandlingCode::H3 => "H3",
        }
    }

    /// What the code means, for people.
    pub fn meaning(self) -> &'static str {
        match self {
            HandlingCode::H0 => "For law-enforcement purposes only.",
            HandlingCode::H1 => "Not to be used in judicial proceedings without the permission of the provider.",
            HandlingCode::H2 => "Not to be disseminated without the permission of the provider.",
            HandlingCode::H3 => "Other restrictions apply (see the handling note).",
        }
    }
}

impl FromStr for HandlingCode {
    type Err = MarkingsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        HandlingCode::ALL
            .into_iter()
            .find(|h| h.as_str() == upper)
            .map_or_else(|| refuse("handling_code", format!("`{s}` is not one of H0, H1, H2, H3")), Ok)
    }
}

/// The reserved releasability value meaning every country.
pub const ALL_COUNTRIES: &str = "ALL";

/// To whom a published document is released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Releasability {
    /// Every configured country, including ones added later.
    All,
    /// A non-empty set of configured country codes.
    Countries(BTreeSet<String>),
}

impl Releasability {
    pub fn includes(&self, country: &str) -> bool {
        match self {
            Releasability::All => true,
            Releasability::Countries(countries) => countries.contains(country),
        }
    }

    /// The codes as stored and shown: `["ALL"]` or the sorted countries.
    pub fn codes(&self) -> Vec<String> {
        match self {
            Releasability::All => vec![ALL_COUNTRIES.to_owned()],
            Releasability::Countries(countries) => countries.iter().cloned().collect(),
        }
    }
}

impl Serialize for Releasability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.codes().serialize(serializer)
    }
}

/// A document's markings, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Markings {
    /// A level of `[policy] levels`, e.g. `RESTRICTED`.
    #[schema(value_type = String)]
    classification: Level,
    /// `CLEAR`, `GREEN`, `AMBER`, `AMBER+STRICT` or `RED`.
    #[schema(value_type = String)]
    tlp: TlpLabel,
    /// `H0`–`H3`.
    #[schema(value_type = String)]
    handling_code: CodeLabel,
    #[serde(skip_serializing_if = "Option::is_none")]
    handling_note: Option<String>,
    /// Country codes, or `ALL`.
    #[schema(value_type = Vec<String>)]
    releasable_to: Releasability,
    /// Under TLP:RED, the organisations it is shared with.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    recipients: BTreeSet<String>,
}

/// Serialises a [`Tlp`] as its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TlpLabel(Tlp);

impl Serialize for TlpLabel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

/// Serialises a [`HandlingCode`] as its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CodeLabel(HandlingCode);

impl Serialize for CodeLabel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl Markings {
    pub fn classification(&self) -> &Level {
        &self.classification
    }

    pub fn tlp(&self) -> Tlp {
        self.tlp.0
    }

    pub fn handling_code(&self) -> HandlingCode {
        self.handling_code.0
    }

    pub fn handling_note(&self) -> Option<&str> {
        self.handling_note.as_deref()
    }

    pub fn releasable_to(&self) -> &Releasability {
        &self.releasable_to
    }

    /// OIDC subjects a TLP:RED document is addressed to (empty otherwise).
    pub fn recipients(&self) -> &BTreeSet<String> {
        &self.recipients
    }

    /// Rebuild markings read back from the database, checking them against the current
    /// configuration. The platform maximum is not re-applied (lowering it later must not make
    /// existing documents unreadable); anything else invalid fails closed.
    pub fn restore(
        stored: &MarkingsInput,
        config: &PolicyConfig,
        originator_country: &str,
    ) -> Result<Self, MarkingsError> {
        let classification = parse_level(&config.ladder, &stored.classification)?;
        stored.build(classification, config, originator_country)
    }

    /// What an input with these markings looks like (for PATCH: start from the current ones).
    pub fn to_input(&self) -> MarkingsInput {
        MarkingsInput {
            classification: self.classification.name().to_owned(),
            tlp: self.tlp().as_str().to_owned(),
            handling_code: self.handling_code().as_str().to_owned(),
            handling_note: self.handling_note.clone(),
            releasable_to: self.releasable_to.codes(),
            recipients: self.recipients.iter().cloned().collect(),
        }
    }
}

/// Markings as a user (or the database) states them: strings, to be validated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct MarkingsInput {
    pub classification: String,
    pub tlp: String,
    pub handling_code: String,
    pub handling_note: Option<String>,
    pub releasable_to: Vec<String>,
    pub recipients: Vec<String>,
}

impl MarkingsInput {
    /// Validate markings chosen by `uploader` (an upload or a markings change).
    pub fn validate(
        &self,
        config: &PolicyConfig,
        uploader: &Principal,
        originator_country: &str,
    ) -> Result<Markings, MarkingsError> {
        let classification = parse_level(&config.ladder, &self.classification)?;
        if classification > *config.ladder.max_classification() {
            return refuse(
                "classification",
                format!(
                    "{} is above the platform maximum {}",
                    classification.name(),
                    config.ladder.max_classification().name()
                ),
            );
        }
        if classification > uploader.clearance {
            return refuse(
                "classification",
                format!("{} is above your clearance {}", classification.name(), uploader.clearance.name()),
            );
        }
        self.build(classification, config, originator_country)
    }

    fn build(
        &self,
        classification: Level,
        config: &PolicyConfig,
        originator_country: &str,
    ) -> Result<Markings, MarkingsError> {
        let tlp: Tlp = self.tlp.parse()?;
        let handling_code: HandlingCode = self.handling_code.parse()?;
        let handling_note = self.handling_note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let handling_note = match (handling_code, handling_note) {
            (HandlingCode::H3, None) => return refuse("handling_note", "is required with handling code H3"),
            (HandlingCode::H3, Some(note)) if note.chars().count() > MAX_NOTE_CHARS => {
                return refuse("handling_note", format!("is longer than {MAX_NOTE_CHARS} characters"));
            }
            (HandlingCode::H3, Some(note)) => Some(note.to_owned()),
            (_, Some(_)) => return refuse("handling_note", "only applies to handling code H3"),
            (_, None) => None,
        };
        let releasable_to = releasability(&self.releasable_to, config, originator_country)?;
        let recipients = recipients(&self.recipients, tlp)?;
        Ok(Markings {
            classification,
            tlp: TlpLabel(tlp),
            handling_code: CodeLabel(handling_code),
            handling_note,
            releasable_to,
            recipients,
        })
    }
}

fn parse_level(ladder: &Ladder, name: &str) -> Result<Level, MarkingsError> {
    ladder.parse(name.trim()).map_or_else(
        || {
            let known: Vec<&str> = ladder.levels().iter().map(Level::name).collect();
            refuse("classification", format!("`{name}` is not one of {}", known.join(", ")))
        },
        Ok,
    )
}

fn releasability(
    codes: &[String],
    config: &PolicyConfig,
    originator_country: &str,
) -> Result<Releasability, MarkingsError> {
    if codes.is_empty() {
        return refuse("releasable_to", "must name at least one country, or ALL");
    }
    let codes: BTreeSet<String> = codes.iter().map(|c| c.trim().to_ascii_uppercase()).collect();
    if codes.contains(ALL_COUNTRIES) {
        if codes.len() > 1 {
            return refuse("releasable_to", "ALL cannot be combined with individual countries");
        }
        return Ok(Releasability::All);
    }
    if let Some(unknown) = codes.iter().find(|c| !config.countries.contains(*c)) {
        let known: Vec<&str> = config.countries.iter().map(String::as_str).collect();
        return refuse("releasable_to", format!("unknown country `{unknown}`; one of {}, or ALL", known.join(", ")));
    }
    let mut codes = codes;
    // The originator's country is always included.
    codes.insert(originator_country.to_owned());
    Ok(Releasability::Countries(codes))
}

fn recipients(subjects: &[String], tlp: Tlp) -> Result<BTreeSet<String>, MarkingsError> {
    let subjects: BTreeSet<String> = subjects.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    if tlp == Tlp::Red && subjects.is_empty() {
        return refuse("recipients", "TLP:RED documents need at least one named recipient");
    }
    if tlp != Tlp::Red && !subjects.is_empty() {
        return refuse("recipients", "recipients only apply to TLP:RED documents");
    }
    if subjects.len() > MAX_RECIPIENTS {
        return refuse("recipients", format!("at most {MAX_RECIPIENTS} recipients"));
    }
    if subjects.iter().any(|s| s.chars().count() > MAX_SUBJECT_CHARS) {
        return refuse("recipients", format!("a recipient is longer than {MAX_SUBJECT_CHARS} characters"));
    }
    Ok(subjects)
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for HandlingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

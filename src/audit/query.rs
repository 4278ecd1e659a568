//! What an auditor asks of the trail, parsed once from a query string — the same for the API's
//! list and export and for the web page: `actor`, `document`, `action`, `outcome`, `from`, `to`
//! (a date means the whole day), `cursor`, `limit`, `format`. Empty values are absent (forms
//! send every field).

use std::borrow::Cow;

use serde_json::{Value, json};

use super::AuditError;
use super::event::{Action, Outcome};
use super::log::format_time;
use crate::dates::{self, End};

/// The largest page an auditor may ask for (`limit`).
pub const MAX_LIMIT: u64 = 1000;

/// The form of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One full event per line: verifiable by anyone.
    JsonLines,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jsonl" => Some(Format::JsonLines),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines => "application/jsonl; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// Which events: every given condition holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: Option<String>,
    pub document: Option<String>,
    pub action: Option<Action>,
    pub outcome: Option<Outcome>,
    /// Inclusive bounds in the stored time form ([`format_time`]), so text order is time order.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A request to list or export the trail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub filter: Filter,
    /// Events older than this `seq` (from `next_cursor`).
    pub before: Option<i64>,
    pub limit: Option<u64>,
    /// Of an export (JSON Lines when absent).
    pub format: Option<Format>,
}

impl Query {
    pub fn parse(query_string: &str) -> Result<Self, AuditError> {
        Self::from_pairs(url::form_urlencoded::parse(query_string.as_bytes()))
    }

    pub fn from_pairs<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Result<Self, AuditError> {
        let mut query = Query::default();
        for (key, raw) in pairs {
            // Names are trimmed (forms); a typed value (action, outcome, date, number, format)
            // is taken as sent, so that it is valid exactly when the API contract says it is.
            let value = raw.as_ref();
            let filter = &mut query.filter;
            match key.as_ref() {
                "actor" | "document" if value.trim().is_empty() => {}
                "action" | "outcome" | "from" | "to" | "cursor" | "limit" | "format" if value.is_empty() => {}
                "actor" => filter.actor = Some(value.trim().to_owned()),
                "document" => filter.document = Some(value.trim().to_owned()),
                "action" => {
                    filter.action = Some(
                        Action::parse(value)
                            .ok_or_else(|| invalid("action", format!("`{value}` is not an audit action")))?,
                    )
                }
                "outcome" => {
                    filter.outcome = Some(
                        Outcome::parse(value).ok_or_else(|| invalid("outcome", "must be allowed, denied or error"))?,
                    )
                }
                "from" => filter.from = Some(bound("from", value, End::Start)?),
                "to" => filter.to = Some(bound("to", value, End::Finish)?),
                "cursor" => {
                    query.before =
                        Some(value.parse().map_err(|_| invalid("cursor", "is not a cursor from a previous page"))?)
                }
                "limit" => {
                    query.limit = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|n| (1..=MAX_LIMIT).contains(n))
                            .ok_or_else(|| invalid("limit", format!("must be between 1 and {MAX_LIMIT}")))?,
                    )
                }
                "format" => {
                    query.format = Some(Format::parse(value).ok_or_else(|| invalid("format", "must be jsonl or csv"))?)
                }
                other => return Err(AuditError::UnknownParameter(other.chars().take(64).collect())),
            }
        }
        Ok(query)
    }

    /// The query as recorded in the `details` of the event that served it.
    pub fn describe(&self) -> Value {
        let filter = &self.filter;
        json!({
            "actor": filter.actor, "document": filter.document,
            "action": filter.action.map(Action::as_str), "outcome": filter.outcome.map(Outcome::as_str),
            "from": filter.from, "to": filter.to, "cursor": self.before.map(|seq| seq.to_string()),
            "format": self.format.map(Format::extension),
        })
    }
}

fn bound(field: &'static str, value: &str, end: End) -> Result<String, AuditError> {
    dates::parse_bound(value, end)
        .map(format_time)
        .ok_or_else(|| invalid(field, format!("`{value}` {}", dates::EXPECTED)))
}

fn invalid(field: &'static str, problem: impl Into<String>) -> AuditError {
    AuditError::Invalid { field, problem: problem.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_parses_and_empty_ones_are_absent() {
        let query = Query::parse(
            "actor=analyst-rs&document=&action=document.view&outcome=denied&from=2026-03-01&to=2026-03-01\
             &cursor=42&limit=5&format=csv",
        )
        .expect("valid");
        assert_eq!(query.filter.actor.as_deref(), Some("analyst-rs"));
        assert_eq!(query.filter.document, None, "empty is absent");
        assert_eq!(query.filter.action, Some(Action::DocumentView));
        assert_eq!(query.filter.outcome, Some(Outcome::Denied));
        assert_eq!(query.filter.from.as_deref(), Some("2026-03-01T00:00:00.000Z"), "a date starts the day");
        assert_eq!(query.filter.to.as_deref(), Some("2026-03-01T23:59:59.999Z"), "and ends it");
        assert_eq!((query.before, query.limit, query.format), (Some(42), Some(5), Some(Format::Csv)));
    }

    #[test]
    fn bad_values_name_their_field() {
        for (text, field) in [
            ("action=document.steal", "action"),
            ("outcome=maybe", "outcome"),
            ("from=01/01/2026", "from"),
            ("to=yesterday", "to"),
            ("cursor=abc", "cursor"),
            ("limit=-1", "limit"),
            ("format=xml", "format"),
        ] {
            match Query::parse(text) {
                Err(AuditError::Invalid { field: named, .. }) => assert_eq!(named, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(Query::parse("colour=red"), Err(AuditError::UnknownParameter(_))));
        assert!(matches!(Query::parse("colour="), Err(AuditError::UnknownParameter(_))), "empty or not");
    }
}

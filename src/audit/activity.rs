//! What auditors look at rather than read: the trail counted per day by action and outcome, the
//! refusals by organisation and country, the actors who downloaded most — for everyone or for
//! one actor (their timeline) — over a window of days, and the anomaly flags of that window. The
//! web page draws them as charts; the same numbers are served as JSON and CSV.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use super::AuditError;
use super::anomalies::Flag;
use super::log::format_time;
use super::statistics::{DayCount, Span};
use super::trail::Trail;
use crate::dates::{self, End};

/// Days shown when the query names none.
pub const DEFAULT_DAYS: i64 = 14;
/// The longest window one request may count.
pub const MAX_DAYS: i64 = 366;
/// Refusals read to count them by organisation (their bodies hold it).
const MAX_DENIALS_READ: u64 = 100_000;
/// Actors in the "top downloads" chart.
const TOP_ACTORS: u64 = 10;

/// `actor`, `from`, `to` (dates or RFC 3339 times), `format` (`json` or `csv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityQuery {
    pub actor: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub csv: bool,
}

impl ActivityQuery {
    pub fn parse(query_string: &str) -> Result<Self, AuditError> {
        Self::from_pairs(url::form_urlencoded::parse(query_string.as_bytes()), Utc::now())
    }

    pub fn from_pairs<'a>(
        pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
        now: DateTime<Utc>,
    ) -> Result<Self, AuditError> {
        let (mut actor, mut from, mut to, mut csv) = (None, None, None, false);
        for (key, value) in pairs {
            let value = value.as_ref();
            // A typed value is taken as sent (empty is not a date); the web page leaves out the
            // empty fields its form sends.
            match key.as_ref() {
                "actor" if value.trim().is_empty() => {}
                "actor" => actor = Some(value.trim().to_owned()),
                "from" => from = Some(bound("from", value, End::Start)?),
                "to" => to = Some(bound("to", value, End::Finish)?),
                "format" => {
                    csv = match value {
                        "csv" => true,
                        "json" => false,
                        _ => return Err(invalid("format", "must be json or csv")),
                    }
                }
                // The audit page sends its list filters along; they do not change the charts.
                "action" | "outcome" | "document" | "cursor" | "limit" => {}
                other => return Err(AuditError::UnknownParameter(other.chars().take(64).collect())),
            }
        }
        let to = to.unwrap_or(now);
        // The whole day `DEFAULT_DAYS - 1` days before `to`'s.
        let first_day = (to - Duration::days(DEFAULT_DAYS - 1)).date_naive();
        let from = from.unwrap_or_else(|| first_day.and_time(chrono::NaiveTime::MIN).and_utc());
        if from > to {
            return Err(invalid("from", "is after `to`"));
        }
        if to - from > Duration::days(MAX_DAYS) {
            return Err(invalid("from", format!("the window is longer than {MAX_DAYS} days")));
        }
        Ok(Self { actor, from, to, csv })
    }
}

fn bound(field: &'static str, value: &str, end: End) -> Result<DateTime<Utc>, AuditError> {
    dates::parse_bound(value, end).ok_or_else(|| invalid(field, format!("`{value}` {}", dates::EXPECTED)))
}

fn invalid(field: &'static str, problem: impl Into<String>) -> AuditError {
    AuditError::Invalid { field, problem: problem.into() }
}

/// The counts of one window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub actor: Option<String>,
    pub from: String,
    pub to: String,
    /// Every day of the window (`YYYY-MM-DD`, UTC), also those without events.
    pub days: Vec<String>,
    /// Events per day, action and outcome (days without events left out).
    pub per_day: Vec<DayActionCount>,
    /// Refused attempts per organisation and country of who made them, most first.
    pub denials: Vec<PartyCount>,
    /// The actors who downloaded most, most first.
    pub top_downloads: Vec<ActorTotal>,
    /// Anomaly flags of the window, newest first.
    pub flags: Vec<Flag>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayActionCount {
    pub day: String,
    pub action: String,
    pub outcome: String,
    pub count: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartyCount {
    pub organisation: Option<String>,
    pub country: Option<String>,
    pub count: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActorTotal {
    pub actor: String,
    pub count: i64,
}

impl Activity {
    /// Count the trail over `query`'s window.
    pub async fn count(trail: &Trail, query: &ActivityQuery, flags: Vec<Flag>) -> Result<Self, AuditError> {
        let (from, to) = (format_time(query.from), format_time(query.to));
        let span = Span { from: &from, to: &to, actor: query.actor.as_deref() };
        let per_day = trail.per_day(&span).await?;
        let mut parties: BTreeMap<(Option<String>, Option<String>), i64> = BTreeMap::new();
        for body in trail.bodies(&span, "denied", MAX_DENIALS_READ).await? {
            let event: Value = serde_json::from_str(&body)?;
            let field = |name: &str| event["actor"][name].as_str().map(str::to_owned);
            *parties.entry((field("organisation"), field("country"))).or_default() += 1;
        }
        let mut denials: Vec<PartyCount> = parties
            .into_iter()
            .map(|((organisation, country), count)| PartyCount { organisation, country, count })
            .collect();
        denials.sort_by_key(|row| std::cmp::Reverse(row.count));
        let top_downloads = trail
            .top_actors(&span, "document.download", "allowed", TOP_ACTORS)
            .await?
            .into_iter()
            .map(|row| ActorTotal { actor: row.actor, count: row.count })
            .collect();
        let flags = flags.into_iter().filter(|flag| query.actor.as_deref().is_none_or(|a| a == flag.actor)).collect();
        Ok(Self {
            actor: query.actor.clone(),
            days: days(query.from, query.to),
            from,
            to,
            per_day: per_day
                .into_iter()
                .map(|DayCount { day, action, outcome, count }| DayActionCount { day, action, outcome, count })
                .collect(),
            denials,
            top_downloads,
            flags,
        })
    }

    /// The numbers behind every chart as one CSV table: `chart,day,action,outcome,organisation,
    /// country,actor,count` (the columns a chart does not use are empty).
    pub fn csv(&self) -> Result<Vec<u8>, AuditError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let failed = |e: csv::Error| AuditError::Export(e.to_string());
        writer
            .write_record(["chart", "day", "action", "outcome", "organisation", "country", "actor", "count"])
            .map_err(failed)?;
        for row in &self.per_day {
            writer
                .write_record([
                    "events-per-day",
                    &row.day,
                    &row.action,
                    &row.outcome,
                    "",
                    "",
                    "",
                    &row.count.to_string(),
                ])
                .map_err(failed)?;
        }
        for row in &self.denials {
            let organisation = row.organisation.as_deref().unwrap_or("");
            let country = row.country.as_deref().unwrap_or("");
            writer
                .write_record(["denials", "", "", "denied", organisation, country, "", &row.count.to_string()])
                .map_err(failed)?;
        }
        for row in &self.top_downloads {
            writer
                .write_record([
                    "top-downloads",
                    "",
                    "document.download",
                    "allowed",
                    "",
                    "",
                    &row.actor,
                    &row.count.to_string(),
                ])
                .map_err(failed)?;
        }
        for flag in &self.flags {
            writer
                .write_record([
                    &format!("flag:{}", flag.rule.as_str()),
                    &flag.from,
                    "",
                    "",
                    "",
                    "",
                    &flag.actor,
                    &flag.count.to_string(),
                ])
                .map_err(failed)?;
        }
        writer.into_inner().map_err(|e| AuditError::Export(e.to_string()))
    }
}

/// Every UTC day from `from` to `to`.
fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let last = to.date_naive();
    from.date_naive().iter_days().take_while(|day| *day <= last).map(|day| day.format("%Y-%m-%d").to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ActivityQuery, AuditError> {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z").expect("now").with_timezone(&Utc);
        ActivityQuery::from_pairs(url::form_urlencoded::parse(text.as_bytes()), now)
    }

    #[test]
    fn the_window_defaults_to_the_last_two_weeks() {
        let query = parse("").expect("valid");
        assert_eq!(format_time(query.from), "2026-11-24T00:00:00.000Z");
        assert_eq!(format_time(query.to), "2026-12-07T12:00:00.000Z");
        assert_eq!(days(query.from, query.to).len(), 14);
        let query =
            parse("actor=analyst-al&from=2026-12-01&to=2026-12-03&format=csv&action=document.view").expect("valid");
        assert_eq!((query.actor.as_deref(), query.csv), (Some("analyst-al"), true));
        assert_eq!(days(query.from, query.to), ["2026-12-01", "2026-12-02", "2026-12-03"]);
    }

    #[test]
    fn bad_windows_name_their_field() {
        for (text, field) in [
            ("from=2026-12-05&to=2026-12-01", "from"),
            ("from=2020-01-01", "from"),
            ("to=soon", "to"),
            ("format=xml", "format"),
        ] {
            match parse(text) {
                Err(AuditError::Invalid { field: named, .. }) => assert_eq!(named, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(parse("colour=red"), Err(AuditError::UnknownParameter(_))));
    }
}

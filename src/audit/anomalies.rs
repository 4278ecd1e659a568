//! Anomaly flags for auditors ("is anything unusual happening?"), computed from the trail each
//! time they are asked for — no second record to keep in step. Rules (`[audit.alerts]`): bulk
//! downloads by one actor in an hour, denied attempts by one actor in an hour, one actor
//! downloading documents of many organisations in an hour, and access outside working hours.
//! Each flag links to the audit page filtered to the events behind it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, Utc, Weekday};
use serde::Serialize;

pub use crate::config::AlertSettings;

use super::AuditError;
use super::log::format_time;
use super::statistics::{ACCESS_ACTIONS, HourCount, Span};
use super::trail::Trail;

/// The rules, parsed once from [`AlertSettings`].
#[derive(Debug, Clone)]
pub struct Rules {
    downloads_per_hour: u32,
    denials_per_hour: u32,
    originators_per_hour: u32,
    working: Option<(NaiveTime, NaiveTime)>,
    days: Vec<Weekday>,
    offset: FixedOffset,
    pub lookback: Duration,
}

impl AlertSettings {
    /// The rules, or the key that is wrong and why.
    pub fn rules(&self) -> Result<Rules, (&'static str, String)> {
        let positive = |key: &'static str, value: u32| {
            if value == 0 { Err((key, "must be at least 1".to_owned())) } else { Ok(value) }
        };
        let working = match self.working_hours.trim() {
            "" => None,
            text => {
                let parsed = text.split_once('-').and_then(|(start, end)| {
                    Some((
                        NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?,
                        NaiveTime::parse_from_str(end.trim(), "%H:%M").ok()?,
                    ))
                });
                match parsed {
                    Some((start, end)) if start < end => Some((start, end)),
                    _ => {
                        return Err((
                            "audit.alerts.working_hours",
                            format!("`{text}` is not HH:MM-HH:MM (start before end)"),
                        ));
                    }
                }
            }
        };
        let days = self
            .working_days
            .iter()
            .map(|day| {
                day.parse::<Weekday>()
                    .map_err(|_| ("audit.alerts.working_days", format!("`{day}` is not a day (Mon … Sun)")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let offset = DateTime::parse_from_rfc3339(&format!("2026-01-01T00:00:00{}", self.utc_offset.trim()))
            .map(|t| *t.offset())
            .map_err(|_| {
                ("audit.alerts.utc_offset", format!("`{}` is not an offset such as +01:00", self.utc_offset))
            })?;
        Ok(Rules {
            downloads_per_hour: positive("audit.alerts.downloads_per_hour", self.downloads_per_hour)?,
            denials_per_hour: positive("audit.alerts.denials_per_hour", self.denials_per_hour)?,
            originators_per_hour: positive("audit.alerts.originators_per_hour", self.originators_per_hour)?,
            working,
            days,
            offset,
            lookback: Duration::hours(i64::from(positive("audit.alerts.lookback_hours", self.lookback_hours)?)),
        })
    }
}

/// Which rule raised a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    BulkDownloads,
    Denials,
    ManyOriginators,
    OffHours,
}

impl Rule {
    pub const ALL: [Rule; 4] = [Rule::BulkDownloads, Rule::Denials, Rule::ManyOriginators, Rule::OffHours];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::BulkDownloads => "bulk-downloads",
            Rule::Denials => "denials",
            Rule::ManyOriginators => "many-originators",
            Rule::OffHours => "off-hours",
        }
    }
}

/// Something unusual one actor did in one hour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Flag {
    pub rule: Rule,
    pub actor: String,
    /// The hour (UTC) the events fall in: `[from, to]`.
    pub from: String,
    pub to: String,
    /// Downloads, refusals, organisations or accesses in that hour.
    pub count: i64,
    /// The configured threshold it went over (for off-hours: 1).
    pub threshold: i64,
    /// The audit page filtered to the events behind the flag.
    pub link: String,
}

impl Rules {
    /// Every flag over the events in `[since, until]`, newest first.
    pub async fn flags(
        &self,
        trail: &Trail,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Flag>, AuditError> {
        let (from, to) = (format_time(since), format_time(until));
        let span = Span { from: &from, to: &to, actor: None };
        let mut flags = Vec::new();
        let downloads = trail.per_actor_hour(&span, &["document.download"], "allowed").await?;
        flags.extend(over(
            Rule::BulkDownloads,
            downloads,
            self.downloads_per_hour,
            "action=document.download&outcome=allowed",
        ));
        let denials = trail.per_actor_hour(&span, &[], "denied").await?;
        flags.extend(over(Rule::Denials, denials, self.denials_per_hour, "outcome=denied"));
        let originators = trail.originators_per_actor_hour(&span).await?;
        flags.extend(
            over(
                Rule::ManyOriginators,
                originators,
                self.originators_per_hour - 1,
                "action=document.download&outcome=allowed",
            )
            .map(|flag| Flag { threshold: flag.threshold + 1, ..flag }),
        );
        if self.working.is_some() {
            let access = trail.per_actor_hour(&span, &ACCESS_ACTIONS, "allowed").await?;
            flags.extend(
                access
                    .into_iter()
                    .filter(|row| hour_start(&row.hour).is_some_and(|start| !self.within_working_hours(start)))
                    .filter_map(|row| flag(Rule::OffHours, &row, 1, "outcome=allowed")),
            );
        }
        flags.sort_by(|a, b| b.from.cmp(&a.from).then_with(|| a.rule.cmp(&b.rule)).then_with(|| a.actor.cmp(&b.actor)));
        Ok(flags)
    }

    /// Flags per rule over the lookback window ending now (for `/metrics`).
    pub async fn counts(&self, trail: &Trail) -> Result<BTreeMap<Rule, usize>, AuditError> {
        let now = Utc::now();
        let mut counts: BTreeMap<Rule, usize> = Rule::ALL.iter().map(|rule| (*rule, 0)).collect();
        for flag in self.flags(trail, now - self.lookback, now).await? {
            *counts.entry(flag.rule).or_default() += 1;
        }
        Ok(counts)
    }

    /// Whether an hour starting at `start` (UTC) lies within working hours, local time.
    fn within_working_hours(&self, start: DateTime<Utc>) -> bool {
        let local = start.with_timezone(&self.offset);
        let Some((open, close)) = self.working else { return true };
        self.days.contains(&local.weekday()) && local.time() >= open && local.time() < close
    }
}

/// The `rule` label of `anaspoc_audit_flags`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct RuleLabel {
    rule: &'static str,
}

/// Keep `anaspoc_audit_flags{rule}` — the flags of the lookback window — current, recounting
/// every `interval_secs` (each replica counts the shared trail: they agree).
pub fn spawn_metrics(trail: Trail, rules: Rules, metrics: &crate::metrics::Metrics, interval_secs: u64) {
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    let flags = Family::<RuleLabel, Gauge>::default();
    metrics.register(
        "audit_flags",
        "Anomaly flags in the audit trail over [audit.alerts] lookback_hours, by rule",
        flags.clone(),
    );
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(interval_secs.max(1)));
        loop {
            ticks.tick().await;
            match rules.counts(&trail).await {
                Ok(counts) => {
                    for (rule, count) in counts {
                        flags.get_or_create(&RuleLabel { rule: rule.as_str() }).set(count as i64);
                    }
                }
                Err(error) => tracing::warn!(%error, "counting anomaly flags failed"),
            }
        }
    });
}

fn over(rule: Rule, rows: Vec<HourCount>, threshold: u32, filter: &'static str) -> impl Iterator<Item = Flag> {
    rows.into_iter()
        .filter(move |row| row.count > i64::from(threshold))
        .filter_map(move |row| flag(rule, &row, threshold, filter))
}

fn flag(rule: Rule, row: &HourCount, threshold: u32, filter: &str) -> Option<Flag> {
    let start = hour_start(&row.hour)?;
    let from = format_time(start);
    let to = format_time(start + Duration::hours(1) - Duration::milliseconds(1));
    let link =
        format!("/audit?actor={}&{filter}&from={}&to={}", urlencode(&row.actor), urlencode(&from), urlencode(&to));
    Some(Flag { rule, actor: row.actor.clone(), from, to, count: row.count, threshold: i64::from(threshold), link })
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `YYYY-MM-DDTHH` (UTC) as the time the hour starts.
fn hour_start(hour: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&format!("{hour}:00:00Z")).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(working_hours: &str, offset: &str) -> Rules {
        AlertSettings { working_hours: working_hours.into(), utc_offset: offset.into(), ..Default::default() }
            .rules()
            .expect("valid")
    }

    #[test]
    fn working_hours_are_local_and_on_working_days() {
        let rules = rules("08:00-18:00", "+01:00");
        let at = |text: &str| DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc);
        assert!(rules.within_working_hours(at("2026-12-07T07:00:00Z")), "Monday 08:00 local");
        assert!(!rules.within_working_hours(at("2026-12-07T06:00:00Z")), "Monday 07:00 local");
        assert!(!rules.within_working_hours(at("2026-12-07T17:00:00Z")), "Monday 18:00 local");
        assert!(!rules.within_working_hours(at("2026-12-06T10:00:00Z")), "Sunday");
    }

    #[test]
    fn bad_settings_name_their_key() {
        let bad = |settings: AlertSettings| settings.rules().expect_err("invalid").0;
        assert_eq!(
            bad(AlertSettings { working_hours: "9-5".into(), ..Default::default() }),
            "audit.alerts.working_hours"
        );
        assert_eq!(
            bad(AlertSettings { working_hours: "18:00-08:00".into(), ..Default::default() }),
            "audit.alerts.working_hours"
        );
        assert_eq!(
            bad(AlertSettings { working_days: vec!["Someday".into()], ..Default::default() }),
            "audit.alerts.working_days"
        );
        assert_eq!(bad(AlertSettings { utc_offset: "CET".into(), ..Default::default() }), "audit.alerts.utc_offset");
        assert_eq!(
            bad(AlertSettings { downloads_per_hour: 0, ..Default::default() }),
            "audit.alerts.downloads_per_hour"
        );
    }

    #[test]
    fn a_flag_links_to_its_hour_of_events() {
        let row = HourCount { actor: "advisor-europol".into(), hour: "2026-12-07T10".into(), count: 60 };
        let flag = flag(Rule::BulkDownloads, &row, 50, "action=document.download&outcome=allowed").expect("flag");
        assert_eq!((flag.from.as_str(), flag.to.as_str()), ("2026-12-07T10:00:00.000Z", "2026-12-07T10:59:59.999Z"));
        assert_eq!(
            flag.link,
            "/audit?actor=advisor-europol&action=document.download&outcome=allowed\
             &from=2026-12-07T10%3A00%3A00.000Z&to=2026-12-07T10%3A59%3A59.999Z"
        );
        assert_eq!(over(Rule::Denials, vec![row.clone()], 60, "").count(), 0, "at the threshold: no flag");
        assert_eq!(over(Rule::Denials, vec![row], 59, "").count(), 1, "over it: a flag");
    }
}

//! The audit page's charts, drawn on the server as SVG (charts-rs): no JavaScript, nothing the
//! page's Content-Security-Policy would have to allow. Every chart comes with a one-sentence
//! summary for screen readers and the table of its numbers (the text alternative; the same
//! numbers are served as CSV). The page embeds the SVG as markup: charts-rs escapes the text it
//! draws (actor names come from tokens), which a test holds it to.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::Activity;

/// One chart as the template shows it.
#[derive(Debug, Serialize)]
pub struct Chart {
    pub id: &'static str,
    pub title: String,
    /// Empty when there is nothing to draw.
    pub svg: String,
    /// What the chart shows, in one sentence (its accessible name).
    pub summary: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Actions drawn as their own series in "events per day by action"; the rest are "other".
const ACTION_SERIES: usize = 5;
/// Bars in the horizontal charts.
const MAX_BARS: usize = 10;

/// The charts of one window of the trail; `t` gives a message in the page's language.
pub fn activity(activity: &Activity, t: impl Fn(&str) -> String) -> Vec<Chart> {
    let days = &activity.days;
    let index: BTreeMap<&str, usize> = days.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    let mut by_outcome: BTreeMap<&str, Vec<f32>> =
        ["allowed", "denied", "error"].into_iter().map(|o| (o, vec![0.0; days.len()])).collect();
    let mut by_action: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    for row in &activity.per_day {
        let Some(&day) = index.get(row.day.as_str()) else { continue };
        if let Some(series) = by_outcome.get_mut(row.outcome.as_str()) {
            series[day] += row.count as f32;
        }
        by_action.entry(row.action.as_str()).or_insert_with(|| vec![0.0; days.len()])[day] += row.count as f32;
    }
    let outcome_series: Vec<(String, Vec<f32>)> = ["allowed", "denied", "error"]
        .into_iter()
        .map(|o| (t(&format!("outcome_{o}")), by_outcome.remove(o).unwrap_or_default()))
        .collect();
    let total = |series: &[f32]| series.iter().sum::<f32>();
    let outcome_totals: Vec<f32> = outcome_series.iter().map(|(_, s)| total(s)).collect();
    let summary = t("chart_summary_outcome")
        .replace("{total}", &outcome_totals.iter().sum::<f32>().to_string())
        .replace("{days}", &days.len().to_string())
        .replace("{allowed}", &outcome_totals[0].to_string())
        .replace("{denied}", &outcome_totals[1].to_string())
        .replace("{error}", &outcome_totals[2].to_string());
    let per_outcome =
        columns_chart("per-day-outcome", t("chart_per_day_outcome"), summary.clone(), days, outcome_series, &t);

    let mut actions: Vec<(&str, Vec<f32>)> = by_action.into_iter().collect();
    actions.sort_by(|a, b| total(&b.1).total_cmp(&total(&a.1)).then_with(|| a.0.cmp(b.0)));
    let mut action_series: Vec<(String, Vec<f32>)> =
        actions.iter().take(ACTION_SERIES).map(|(name, series)| ((*name).to_owned(), series.clone())).collect();
    if actions.len() > ACTION_SERIES {
        let mut other = vec![0.0; days.len()];
        for (_, series) in &actions[ACTION_SERIES..] {
            other.iter_mut().zip(series).for_each(|(sum, n)| *sum += n);
        }
        action_series.push((t("chart_other"), other));
    }
    let per_action = columns_chart("per-day-action", t("chart_per_day_action"), summary, days, action_series, &t);

    let denials: Vec<(String, f32)> = activity
        .denials
        .iter()
        .take(MAX_BARS)
        .map(|row| {
            let label = match (&row.organisation, &row.country) {
                (Some(org), Some(country)) => format!("{org} ({country})"),
                (Some(org), None) => org.clone(),
                (None, Some(country)) => country.clone(),
                (None, None) => "—".to_owned(),
            };
            (label, row.count as f32)
        })
        .collect();
    let top: Vec<(String, f32)> =
        activity.top_downloads.iter().take(MAX_BARS).map(|row| (row.actor.clone(), row.count as f32)).collect();
    vec![
        per_outcome,
        per_action,
        bars_chart("denials", t("chart_denials"), t("report_organisation"), denials, &t),
        bars_chart("top-downloads", t("chart_top_downloads"), t("audit_actor"), top, &t),
    ]
}

/// Vertical bars per day, one colour per series, with the numbers as a day × series table.
fn columns_chart(
    id: &'static str,
    title: String,
    summary: String,
    days: &[String],
    series: Vec<(String, Vec<f32>)>,
    t: &impl Fn(&str) -> String,
) -> Chart {
    let mut columns = vec![t("chart_day")];
    columns.extend(series.iter().map(|(name, _)| name.clone()));
    let rows: Vec<Vec<String>> = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let mut row = vec![day.clone()];
            row.extend(series.iter().map(|(_, values)| values.get(i).copied().unwrap_or_default().to_string()));
            row
        })
        .collect();
    let empty = series.iter().all(|(_, values)| values.iter().all(|v| *v == 0.0));
    let svg = if empty {
        String::new()
    } else {
        // Day labels without the year: they are the window's days, in order.
        let labels: Vec<String> = days.iter().map(|d| d.get(5..).unwrap_or(d).to_owned()).collect();
        let series = series.into_iter().map(|(name, values)| charts_rs::Series::new(name, values)).collect();
        let mut chart = charts_rs::BarChart::new_with_theme(series, labels, charts_rs::THEME_ANT);
        chart.width = 640.0;
        chart.height = 320.0;
        chart.svg().unwrap_or_default()
    };
    Chart { id, title, svg, summary, columns, rows }
}

/// Horizontal bars, largest first, with the numbers as a label × count table.
fn bars_chart(
    id: &'static str,
    title: String,
    label_column: String,
    bars: Vec<(String, f32)>,
    t: &impl Fn(&str) -> String,
) -> Chart {
    let summary = match bars.first() {
        Some((top, count)) => t("chart_summary_bars")
            .replace("{items}", &bars.len().to_string())
            .replace("{top}", top)
            .replace("{count}", &count.to_string()),
        None => t("chart_empty"),
    };
    let rows = bars.iter().map(|(label, count)| vec![label.clone(), count.to_string()]).collect();
    let svg = if bars.is_empty() {
        String::new()
    } else {
        // Drawn bottom-up: the largest on top.
        let labels: Vec<String> = bars.iter().rev().map(|(label, _)| label.clone()).collect();
        let values: Vec<f32> = bars.iter().rev().map(|(_, count)| *count).collect();
        let series = vec![charts_rs::Series::new(title.clone(), values)];
        let mut chart = charts_rs::HorizontalBarChart::new_with_theme(series, labels, charts_rs::THEME_ANT);
        chart.width = 640.0;
        chart.height = 80.0 + 28.0 * bars.len() as f32;
        chart.svg().unwrap_or_default()
    };
    Chart { id, title, svg, summary, columns: vec![label_column, t("report_count")], rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::activity::{ActorTotal, DayActionCount};

    fn activity() -> Activity {
        Activity {
            actor: None,
            from: "2026-12-06T00:00:00.000Z".into(),
            to: "2026-12-07T23:59:59.999Z".into(),
            days: vec!["2026-12-06".into(), "2026-12-07".into()],
            per_day: vec![
                DayActionCount {
                    day: "2026-12-07".into(),
                    action: "document.download".into(),
                    outcome: "allowed".into(),
                    count: 22,
                },
                DayActionCount {
                    day: "2026-12-07".into(),
                    action: "document.view".into(),
                    outcome: "denied".into(),
                    count: 15,
                },
            ],
            denials: vec![],
            top_downloads: vec![ActorTotal { actor: "<script>alert(1)</script>".into(), count: 22 }],
            flags: vec![],
        }
    }

    #[test]
    fn every_chart_has_its_numbers_and_a_summary() {
        let charts = super::activity(&activity(), |key| key.to_owned());
        let ids: Vec<&str> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["per-day-outcome", "per-day-action", "denials", "top-downloads"]);
        let outcome = &charts[0];
        assert!(outcome.svg.starts_with("<svg"), "drawn");
        assert_eq!(outcome.columns, ["chart_day", "outcome_allowed", "outcome_denied", "outcome_error"]);
        assert_eq!(outcome.rows, [["2026-12-06", "0", "0", "0"], ["2026-12-07", "22", "15", "0"]]);
        assert_eq!(charts[2].svg, "", "no refusals by organisation: nothing drawn");
        assert_eq!(charts[2].summary, "chart_empty");
    }

    #[test]
    fn labels_are_escaped() {
        let charts = super::activity(&activity(), |key| key.to_owned());
        let top = &charts[3];
        assert!(!top.svg.contains("<script>"), "an actor's name is text, not markup");
        assert!(top.svg.contains("&lt;script&gt;"), "{}", top.svg);
        std::fs::write(std::env::temp_dir().join("anaspoc-chart-test.svg"), &top.svg).ok();
        assert!(!top.svg.contains("style="), "presentation attributes only: the CSP allows no inline style");
    }
}

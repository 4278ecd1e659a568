//! Streamed exports of the trail: JSON Lines (every field, verifiable by an independent script)
//! and CSV. Rows are read in pages by `seq`, so memory stays flat for millions of events.

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream;

use super::query::{Filter, Format};
use super::trail::{Trail, to_event};
use super::{AuditError, Event};

const PAGE: u64 = 1000;

const CSV_HEADER: [&str; 18] = [
    "seq",
    "id",
    "at",
    "actor_sub",
    "actor_name",
    "actor_organisation",
    "actor_country",
    "actor_roles",
    "action",
    "outcome",
    "document_id",
    "version",
    "request_id",
    "ip",
    "user_agent",
    "details",
    "prev_hash",
    "hash",
];

/// The export as a stream of byte chunks, one page of events per chunk.
pub fn export(trail: Trail, filter: Filter, format: Format) -> impl Stream<Item = Result<Bytes, AuditError>> {
    let state = (trail, filter, 0_i64, format == Format::Csv, false);
    stream::try_unfold(state, move |(trail, filter, after, header, done)| async move {
        if done {
            return Ok(None);
        }
        let rows = trail.rows_after(&filter, after, PAGE).await?;
        let last = rows.last().map(|r| r.seq);
        let mut chunk = Vec::new();
        if header {
            chunk.extend_from_slice(&csv_line(&CSV_HEADER.map(String::from))?);
        }
        for row in rows {
            let event = to_event(row)?;
            match format {
                Format::JsonLines => {
                    serde_json::to_writer(&mut chunk, &event)?;
                    chunk.push(b'\n');
                }
                Format::Csv => chunk.extend_from_slice(&csv_line(&csv_fields(&event))?),
            }
        }
        match last {
            Some(seq) => Ok(Some((Bytes::from(chunk), (trail, filter, seq, false, false)))),
            // An empty page ends the export (after the CSV header, if nothing matched at all).
            None if !chunk.is_empty() => Ok(Some((Bytes::from(chunk), (trail, filter, after, false, true)))),
            None => Ok(None),
        }
    })
}

/// The CSV row of an event. Text a caller controls (user agent, ids asked for, names, details)
/// is neutralised so that a spreadsheet shows it instead of running it as a formula.
fn csv_fields(event: &Event) -> [String; 18] {
    [
        event.seq.to_string(),
        event.id.clone(),
        event.at.clone(),
        event.actor.sub.clone().unwrap_or_default(),
        event.actor.name.clone().unwrap_or_default(),
        event.actor.organisation.clone().unwrap_or_default(),
        event.actor.country.clone().unwrap_or_default(),
        event.actor.roles.join(" "),
        event.action.as_str().to_owned(),
        event.outcome.as_str().to_owned(),
        event.target.document_id.clone().unwrap_or_default(),
        event.target.version.map(|v| v.to_string()).unwrap_or_default(),
        event.request.id.clone(),
        event.request.ip.clone(),
        event.request.user_agent.clone(),
        event.details.to_string(),
        event.prev_hash.clone(),
        event.hash.clone(),
    ]
    .map(neutralised)
}

/// OWASP's rule against CSV injection: a cell that a spreadsheet would read as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`. Only the CSV
/// export does this; JSON Lines stays byte-exact, as the chain needs.
fn neutralised(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell }
}

fn csv_line(fields: &[String]) -> Result<Vec<u8>, AuditError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields).map_err(|e| AuditError::Export(e.to_string()))?;
    writer.into_inner().map_err(|e| AuditError::Export(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::neutralised;

    #[test]
    fn formulas_are_shown_not_run() {
        for formula in ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(neutralised(formula.to_owned()), format!("'{formula}"));
        }
        for plain in ["analyst-rs", "Mozilla/5.0", "{\"reason\":\"x\"}", "2026-11-30T00:00:00.000Z", ""] {
            assert_eq!(neutralised(plain.to_owned()), plain);
        }
    }
}

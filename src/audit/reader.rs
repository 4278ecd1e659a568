//! The auditors' way into the trail. [`Reader::auditor`] checks the caller's `audit:read` and
//! records a refusal; only then does the caller hold an [`Auditor`], whose every method records
//! what it served. The API and the web interface both read the trail through here — there is
//! no other way for a request to reach it.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::json;

use super::activity::{Activity, ActivityQuery};
use super::anomalies::Rules;
use super::checkpoint::SigningKey;
use super::event::{Action, Event, NewEvent, Outcome, Target};
use super::export;
use super::query::{Format, MAX_LIMIT, Query};
use super::report::{Report, ReportBuilder};
use super::trail::Trail;
use super::verify::{self, Verification};
use super::{AuditError, Log};
use crate::caller::Caller;
use crate::document_id::DocumentId;
use crate::policy::Capability;

/// Events read at a time to build a report.
const REPORT_PAGE: u64 = 1000;
/// Longest query string kept in the record of a refusal.
const MAX_ASKED_CHARS: usize = 1000;

pub struct Reader {
    trail: Trail,
    log: Log,
    key: Arc<SigningKey>,
    rules: Rules,
}

/// A caller who holds `audit:read`. Only [`Reader::auditor`] makes one.
pub struct Auditor<'a> {
    reader: &'a Reader,
    caller: &'a Caller,
}

/// One page of events, newest first; `next_cursor` asks for the next.
pub struct Listed {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

/// A streamed export, in its format.
pub struct Export<S> {
    pub format: Format,
    pub body: S,
}

impl Reader {
    pub fn new(trail: Trail, log: Log, key: Arc<SigningKey>, rules: Rules) -> Self {
        Self { trail, log, key, rules }
    }

    /// `caller` as an auditor, or the refusal — recorded as `action` with what was `asked` (the
    /// query string) — before anything the caller sent is even parsed.
    pub async fn auditor<'a>(
        &'a self,
        caller: &'a Caller,
        action: Action,
        asked: &str,
    ) -> Result<Auditor<'a>, AuditError> {
        if caller.principal.has(Capability::AuditRead) {
            return Ok(Auditor { reader: self, caller });
        }
        let asked: String = asked.chars().take(MAX_ASKED_CHARS).collect();
        self.log
            .record(
                NewEvent::of(caller, action, Outcome::Denied)
                    .details(json!({"reason": "missing capability audit:read", "query": asked})),
            )
            .await?;
        Err(AuditError::Forbidden)
    }
}

impl Auditor<'_> {
    /// A page of events matching `query` (at most `limit` when the query names none).
    pub async fn list(&self, query: &Query, limit: u64) -> Result<Listed, AuditError> {
        let limit = query.limit.unwrap_or(limit).clamp(1, MAX_LIMIT);
        let events = self.reader.trail.page(&query.filter, query.before, limit).await?;
        let next_cursor = (events.len() as u64 == limit).then(|| events.last().map(|e| e.seq.to_string())).flatten();
        self.record(Action::AuditRead, json!({"query": query.describe(), "returned": events.len()})).await?;
        Ok(Listed { events, next_cursor })
    }

    /// Every event matching `query`, streamed page by page in the query's format.
    pub async fn export(
        &self,
        query: &Query,
    ) -> Result<Export<impl Stream<Item = Result<Bytes, AuditError>> + use<>>, AuditError> {
        self.record(Action::AuditExport, json!({"query": query.describe()})).await?;
        let format = query.format.unwrap_or(Format::JsonLines);
        Ok(Export { format, body: export::export(self.reader.trail.clone(), query.filter.clone(), format) })
    }

    /// Recompute the chain and check the signed checkpoints against this server's key.
    pub async fn verify(&self) -> Result<Verification, AuditError> {
        let result = verify::verify_database(&self.reader.trail, Vec::new(), Some(self.reader.key.key_id())).await?;
        self.record(Action::AuditVerify, serde_json::to_value(&result)?).await?;
        Ok(result)
    }

    /// Who viewed, downloaded, got as a hit, changed or was refused the document `id`
    /// (any id: the trail may name documents that no longer exist). Audited with the document
    /// as target.
    pub async fn report(&self, id: &str) -> Result<Report, AuditError> {
        let Some(document) = DocumentId::parse(id) else {
            return Err(AuditError::Invalid { field: "id", problem: "is not a document id (a UUID)".into() });
        };
        let document = document.to_string();
        let mut builder = ReportBuilder::new(&document);
        let mut after = 0;
        loop {
            let events = self.reader.trail.document_events(&document, after, REPORT_PAGE).await?;
            events.iter().for_each(|event| builder.add(event));
            match events.last() {
                Some(last) if events.len() as u64 == REPORT_PAGE => after = last.seq,
                _ => break,
            }
        }
        let report = builder.finish();
        let event = NewEvent::of(self.caller, Action::AuditReport, Outcome::Allowed)
            .target(Target::document(&document))
            .details(json!({"totals": report.totals}));
        self.reader.log.record(event).await?;
        Ok(report)
    }

    /// The counts and anomaly flags of `query`'s window.
    pub async fn activity(&self, query: &ActivityQuery) -> Result<Activity, AuditError> {
        let flags = self.reader.rules.flags(&self.reader.trail, query.from, query.to).await?;
        let activity = Activity::count(&self.reader.trail, query, flags).await?;
        let details = json!({
            "actor": query.actor, "from": activity.from, "to": activity.to,
            "format": if query.csv { "csv" } else { "json" }, "flags": activity.flags.len(),
        });
        self.record(Action::AuditActivity, details).await?;
        Ok(activity)
    }

    async fn record(&self, action: Action, details: serde_json::Value) -> Result<(), AuditError> {
        self.reader.log.record(NewEvent::of(self.caller, action, Outcome::Allowed).details(details)).await?;
        Ok(())
    }
}

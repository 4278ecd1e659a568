//! The per-document access report auditors ask for ("who accessed this document?"): every event
//! that concerns one document — as its target, or mentioning it (a search hit, a notification,
//! a derivative's source) — grouped by what happened to it and by the organisation and country
//! of who did it, with counts, first and last times, the people and the markings the document
//! carried at the time. Built from the trail alone; names documents by id and markings only.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::event::{Action, Event, Outcome};

/// What happened to the document, as the report groups it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Created, given a version, changed (markings, title…), published or withdrawn.
    Changed,
    Viewed,
    Downloaded,
    /// Returned as a search hit.
    SearchHit,
    /// Shown in a notification list (a saved search's alert, a request).
    Notified,
    /// A handling-code request about it made or decided, or a derivative made from it.
    Requested,
    /// Any attempt refused: hidden, forbidden, over a limit.
    Denied,
}

impl Access {
    pub const ALL: [Access; 7] = [
        Access::Changed,
        Access::Viewed,
        Access::Downloaded,
        Access::SearchHit,
        Access::Notified,
        Access::Requested,
        Access::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Changed => "changed",
            Access::Viewed => "viewed",
            Access::Downloaded => "downloaded",
            Access::SearchHit => "search-hit",
            Access::Notified => "notified",
            Access::Requested => "requested",
            Access::Denied => "denied",
        }
    }

    /// How `event` concerned `document`, if it did in a way the report shows (errors do not).
    pub fn of(event: &Event, document: &str) -> Option<Access> {
        let target = event.target.document_id.as_deref() == Some(document);
        let mentioned = !target && event.mentioned_documents().iter().any(|id| id == document);
        match (event.outcome, event.action) {
            (Outcome::Denied, _) if target => Some(Access::Denied),
            (Outcome::Allowed, Action::DocumentView) if target => Some(Access::Viewed),
            (Outcome::Allowed, Action::DocumentDownload) if target => Some(Access::Downloaded),
            (
                Outcome::Allowed,
                Action::DocumentCreate
                | Action::DocumentVersion
                | Action::DocumentUpdate
                | Action::DocumentPublish
                | Action::DocumentWithdraw,
            ) if target => Some(Access::Changed),
            (Outcome::Allowed, Action::RequestCreate | Action::RequestDecide) if target => Some(Access::Requested),
            // A derivative names its source in its creation event.
            (Outcome::Allowed, Action::DocumentCreate) if mentioned => Some(Access::Requested),
            (Outcome::Allowed, Action::SearchQuery) if mentioned => Some(Access::SearchHit),
            (Outcome::Allowed, Action::NotificationList) if mentioned => Some(Access::Notified),
            _ => None,
        }
    }
}

/// The report on one document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub document_id: String,
    /// The organisation and country that created it, when the trail holds its creation.
    pub originator: Option<Party>,
    /// Its markings as created and after each change, oldest first.
    pub markings_history: Vec<MarkingsChange>,
    /// Events counted, per kind of access (every kind present, zero included).
    pub totals: BTreeMap<&'static str, u64>,
    /// One group per kind of access and organisation, most events first.
    pub groups: Vec<Group>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct Party {
    pub organisation: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MarkingsChange {
    pub seq: i64,
    pub at: String,
    pub action: Action,
    pub actor: Option<String>,
    #[schema(value_type = Object)]
    pub markings: Value,
}

/// The events of one kind of access by one organisation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub access: Access,
    pub organisation: Option<String>,
    pub country: Option<String>,
    pub count: u64,
    pub first_at: String,
    pub last_at: String,
    /// Who, most events first.
    pub actors: Vec<ActorSummary>,
    /// The distinct markings the document carried at these accesses.
    #[schema(value_type = Vec<Object>)]
    pub markings: Vec<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActorSummary {
    pub sub: Option<String>,
    pub name: Option<String>,
    pub count: u64,
    pub first_at: String,
    pub last_at: String,
}

/// Builds a [`Report`] from the document's events, fed oldest first.
pub struct ReportBuilder {
    document: String,
    originator: Option<Party>,
    history: Vec<MarkingsChange>,
    /// The markings as of the last event seen (from its creation and changes).
    current: Option<Value>,
    groups: BTreeMap<(Access, Party), GroupState>,
}

struct GroupState {
    count: u64,
    first_at: String,
    last_at: String,
    actors: BTreeMap<Option<String>, ActorSummary>,
    markings: Vec<Value>,
}

impl ReportBuilder {
    pub fn new(document: &str) -> Self {
        Self {
            document: document.to_owned(),
            originator: None,
            history: Vec::new(),
            current: None,
            groups: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, event: &Event) {
        let Some(access) = Access::of(event, &self.document) else { return };
        let party = Party { organisation: event.actor.organisation.clone(), country: event.actor.country.clone() };
        if access == Access::Changed {
            let after = match event.action {
                Action::DocumentCreate => event.details.get("markings"),
                _ => event.details.get("after").and_then(|after| after.get("markings")),
            };
            if event.action == Action::DocumentCreate {
                self.originator.get_or_insert_with(|| party.clone());
            }
            if let Some(markings) = after.filter(|m| !m.is_null()) {
                self.current = Some(markings.clone());
                self.history.push(MarkingsChange {
                    seq: event.seq,
                    at: event.at.clone(),
                    action: event.action,
                    actor: event.actor.sub.clone(),
                    markings: markings.clone(),
                });
            }
        }
        // What the event itself recorded, else what the document carried then.
        let markings = match access {
            Access::Viewed | Access::Downloaded => event.details.get("markings").filter(|m| !m.is_null()).cloned(),
            _ => None,
        }
        .or_else(|| self.current.clone());
        let group = self.groups.entry((access, party)).or_insert_with(|| GroupState {
            count: 0,
            first_at: event.at.clone(),
            last_at: event.at.clone(),
            actors: BTreeMap::new(),
            markings: Vec::new(),
        });
        group.count += 1;
        group.last_at = event.at.clone();
        let actor = group.actors.entry(event.actor.sub.clone()).or_insert_with(|| ActorSummary {
            sub: event.actor.sub.clone(),
            name: event.actor.name.clone(),
            count: 0,
            first_at: event.at.clone(),
            last_at: event.at.clone(),
        });
        actor.count += 1;
        actor.last_at = event.at.clone();
        if let Some(markings) = markings
            && !group.markings.contains(&markings)
        {
            group.markings.push(markings);
        }
    }

    pub fn finish(self) -> Report {
        let mut totals: BTreeMap<&'static str, u64> = Access::ALL.iter().map(|a| (a.as_str(), 0)).collect();
        let mut groups: Vec<Group> = self
            .groups
            .into_iter()
            .map(|((access, party), state)| {
                *totals.entry(access.as_str()).or_default() += state.count;
                let mut actors: Vec<ActorSummary> = state.actors.into_values().collect();
                actors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.sub.cmp(&b.sub)));
                Group {
                    access,
                    organisation: party.organisation,
                    country: party.country,
                    count: state.count,
                    first_at: state.first_at,
                    last_at: state.last_at,
                    actors,
                    markings: state.markings,
                }
            })
            .collect();
        groups.sort_by(|a, b| a.access.cmp(&b.access).then_with(|| b.count.cmp(&a.count)));
        Report {
            document_id: self.document,
            originator: self.originator,
            markings_history: self.history,
            totals,
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::audit::event::{Actor, Target};
    use crate::caller::RequestInfo;

    const DOC: &str = "0a0b0c0d-0000-4000-8000-000000000001";

    fn event(
        seq: i64,
        who: (&str, &str, &str),
        action: Action,
        outcome: Outcome,
        target: Option<&str>,
        details: Value,
    ) -> Event {
        Event {
            seq,
            id: format!("e{seq}"),
            at: format!("2026-12-07T10:00:{seq:02}.000Z"),
            actor: Actor {
                sub: Some(who.0.into()),
                name: Some(who.0.to_uppercase()),
                organisation: Some(who.1.into()),
                country: Some(who.2.into()),
                roles: vec![],
            },
            action,
            outcome,
            target: target.map(Target::document).unwrap_or_default(),
            request: RequestInfo { id: String::new(), ip: String::new(), user_agent: String::new() },
            details,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    const RS: (&str, &str, &str) = ("analyst-rs", "RS-MUP", "RS");
    const RS2: (&str, &str, &str) = ("analyst-rs-2", "RS-MUP", "RS");
    const AL: (&str, &str, &str) = ("analyst-al", "AL-ASP", "AL");

    #[test]
    fn accesses_are_grouped_by_kind_and_organisation_with_markings_at_the_time() {
        let amber = json!({"classification": "RESTRICTED", "tlp": "AMBER"});
        let green = json!({"classification": "RESTRICTED", "tlp": "GREEN"});
        let events = [
            event(1, RS, Action::DocumentCreate, Outcome::Allowed, Some(DOC), json!({"markings": amber})),
            event(2, RS2, Action::DocumentView, Outcome::Allowed, Some(DOC), json!({"markings": amber})),
            event(3, AL, Action::DocumentView, Outcome::Denied, Some(DOC), json!({"reason": "not-releasable"})),
            event(
                4,
                RS,
                Action::DocumentUpdate,
                Outcome::Allowed,
                Some(DOC),
                json!({"before": {"markings": amber}, "after": {"markings": green}}),
            ),
            event(5, AL, Action::SearchQuery, Outcome::Allowed, None, json!({"ids": [DOC]})),
            event(6, AL, Action::DocumentDownload, Outcome::Allowed, Some(DOC), json!({"markings": green})),
            event(7, RS2, Action::DocumentView, Outcome::Allowed, Some(DOC), json!({"markings": green})),
            event(8, AL, Action::DocumentView, Outcome::Error, Some(DOC), json!({})),
        ];
        let mut builder = ReportBuilder::new(DOC);
        events.iter().for_each(|e| builder.add(e));
        let report = builder.finish();
        assert_eq!(report.originator, Some(Party { organisation: Some("RS-MUP".into()), country: Some("RS".into()) }));
        assert_eq!(report.markings_history.len(), 2, "created, then changed");
        assert_eq!(report.markings_history[1].markings, green);
        assert_eq!(report.totals["viewed"], 2);
        assert_eq!(report.totals["denied"], 1);
        assert_eq!(report.totals["search-hit"], 1);
        assert_eq!(report.totals["downloaded"], 1);
        assert_eq!(report.totals["changed"], 2);
        let viewed = report.groups.iter().find(|g| g.access == Access::Viewed).expect("viewed");
        assert_eq!((viewed.country.as_deref(), viewed.count), (Some("RS"), 2));
        assert_eq!(
            (viewed.first_at.as_str(), viewed.last_at.as_str()),
            ("2026-12-07T10:00:02.000Z", "2026-12-07T10:00:07.000Z")
        );
        assert_eq!(viewed.markings, vec![amber.clone(), green.clone()], "the markings of each view");
        let hit = report.groups.iter().find(|g| g.access == Access::SearchHit).expect("hit");
        assert_eq!(hit.markings, vec![green], "a hit carries the markings the document had then");
        let denied = report.groups.iter().find(|g| g.access == Access::Denied).expect("denied");
        assert_eq!(denied.actors[0].sub.as_deref(), Some("analyst-al"));
        assert!(report.groups.iter().all(|g| g.count > 0));
    }

    #[test]
    fn events_about_other_documents_do_not_count() {
        let other = "0a0b0c0d-0000-4000-8000-000000000002";
        let mut builder = ReportBuilder::new(DOC);
        builder.add(&event(1, AL, Action::DocumentView, Outcome::Allowed, Some(other), json!({})));
        builder.add(&event(2, AL, Action::AuditRead, Outcome::Allowed, None, json!({})));
        builder.add(&event(3, AL, Action::SearchQuery, Outcome::Allowed, None, json!({"ids": [other]})));
        let report = builder.finish();
        assert!(report.groups.is_empty());
        assert!(report.totals.values().all(|n| *n == 0));
    }
}

//! Counting the stored trail for auditors' charts and anomaly rules: grouped in the database
//! (one row per day, hour, actor or organisation — never one per event), in SQL that SQLite and
//! PostgreSQL both run. Times are the stored fixed-width UTC text, so its prefixes are the day
//! (`substr(at, 1, 10)`) and the hour (`substr(at, 1, 13)`).

use sea_orm::{DatabaseBackend, FromQueryResult, Statement, Value};

use super::AuditError;
use super::trail::Trail;

/// Events of one day, action and outcome.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct DayCount {
    pub day: String,
    pub action: String,
    pub outcome: String,
    pub count: i64,
}

/// Events of one actor in one UTC hour (`YYYY-MM-DDTHH`).
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct HourCount {
    pub actor: String,
    pub hour: String,
    pub count: i64,
}

/// Events of one actor.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct ActorCount {
    pub actor: String,
    pub count: i64,
}

/// Which events a count takes: `[from, to]` in the stored time form, one actor or everyone.
pub struct Span<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub actor: Option<&'a str>,
}

/// The actions that read documents (off-hours access).
pub const ACCESS_ACTIONS: [&str; 3] = ["document.view", "document.download", "search.query"];

impl Trail {
    /// Events per day, action and outcome.
    pub async fn per_day(&self, span: &Span<'_>) -> Result<Vec<DayCount>, AuditError> {
        let (filter, values) = span.sql(self.backend(), "", "", &[]);
        self.counted(
            &format!(
                "SELECT substr(at, 1, 10) AS day, action, outcome, COUNT(*) AS count FROM audit_events WHERE {filter} \
                 GROUP BY substr(at, 1, 10), action, outcome ORDER BY day, action, outcome"
            ),
            values,
        )
        .await
    }

    /// Events per actor and hour, of the given actions (all when empty) and outcome.
    pub async fn per_actor_hour(
        &self,
        span: &Span<'_>,
        actions: &[&str],
        outcome: &str,
    ) -> Result<Vec<HourCount>, AuditError> {
        let (filter, values) = span.sql(self.backend(), "", outcome, actions);
        self.counted(
            &format!(
                "SELECT actor_sub AS actor, substr(at, 1, 13) AS hour, COUNT(*) AS count FROM audit_events \
                 WHERE {filter} AND actor_sub IS NOT NULL GROUP BY actor_sub, substr(at, 1, 13) ORDER BY hour, actor"
            ),
            values,
        )
        .await
    }

    /// Per actor and hour: how many organisations' documents they downloaded.
    pub async fn originators_per_actor_hour(&self, span: &Span<'_>) -> Result<Vec<HourCount>, AuditError> {
        let (filter, values) = span.sql(self.backend(), "e.", "allowed", &["document.download"]);
        self.counted(
            &format!(
                "SELECT e.actor_sub AS actor, substr(e.at, 1, 13) AS hour, \
                 COUNT(DISTINCT d.originator_country || '/' || d.originator_org) AS count \
                 FROM audit_events e JOIN documents d ON d.id = e.document_id \
                 WHERE {filter} AND e.actor_sub IS NOT NULL GROUP BY e.actor_sub, substr(e.at, 1, 13) ORDER BY hour, actor"
            ),
            values,
        )
        .await
    }

    /// The actors with the most events of `action` and `outcome`, most first.
    pub async fn top_actors(
        &self,
        span: &Span<'_>,
        action: &str,
        outcome: &str,
        limit: u64,
    ) -> Result<Vec<ActorCount>, AuditError> {
        let (filter, values) = span.sql(self.backend(), "", outcome, &[action]);
        self.counted(
            &format!(
                "SELECT actor_sub AS actor, COUNT(*) AS count FROM audit_events WHERE {filter} AND actor_sub IS NOT NULL \
                 GROUP BY actor_sub ORDER BY count DESC, actor LIMIT {limit}"
            ),
            values,
        )
        .await
    }

    /// The hashed bodies of the events with `outcome` in the span, oldest first, at most `limit`
    /// (for what only the body holds, e.g. the actor's organisation).
    pub async fn bodies(&self, span: &Span<'_>, outcome: &str, limit: u64) -> Result<Vec<String>, AuditError> {
        #[derive(FromQueryResult)]
        struct Body {
            event: String,
        }
        let (filter, values) = span.sql(self.backend(), "", outcome, &[]);
        let rows: Vec<Body> = self
            .counted(&format!("SELECT event FROM audit_events WHERE {filter} ORDER BY seq LIMIT {limit}"), values)
            .await?;
        Ok(rows.into_iter().map(|row| row.event).collect())
    }

    async fn counted<T: FromQueryResult>(&self, sql: &str, values: Vec<Value>) -> Result<Vec<T>, AuditError> {
        let statement = Statement::from_sql_and_values(self.backend(), sql, values);
        Ok(T::find_by_statement(statement).all(self.db()).await?)
    }

    fn backend(&self) -> DatabaseBackend {
        self.db().get_database_backend()
    }
}

impl Span<'_> {
    /// The WHERE clause of the span (and of `outcome` and `actions` when given) with its values,
    /// in the backend's placeholders.
    /// `alias`: the events table's, with its dot (`e.`), or empty.
    fn sql(&self, backend: DatabaseBackend, alias: &str, outcome: &str, actions: &[&str]) -> (String, Vec<Value>) {
        let mut values: Vec<Value> = vec![self.from.into(), self.to.into()];
        let placeholder = |value: Value, values: &mut Vec<Value>| {
            values.push(value);
            match backend {
                DatabaseBackend::Postgres => format!("${}", values.len()),
                _ => "?".to_owned(),
            }
        };
        let mut clauses = vec![match backend {
            DatabaseBackend::Postgres => format!("{alias}at >= $1 AND {alias}at <= $2"),
            _ => format!("{alias}at >= ? AND {alias}at <= ?"),
        }];
        if let Some(actor) = self.actor {
            clauses.push(format!("{alias}actor_sub = {}", placeholder(actor.into(), &mut values)));
        }
        if !outcome.is_empty() {
            clauses.push(format!("{alias}outcome = {}", placeholder(outcome.into(), &mut values)));
        }
        if !actions.is_empty() {
            let list: Vec<String> = actions.iter().map(|a| placeholder((*a).into(), &mut values)).collect();
            clauses.push(format!("{alias}action IN ({})", list.join(", ")));
        }
        (clauses.join(" AND "), values)
    }
}

//! Appending to and reading the trail. Every append locks the single `audit_head` row first (an
//! UPDATE), so appends are serialised across connections and replicas and `seq` has no gaps: a
//! rolled-back business transaction takes its event — and its `seq` — with it.

use chrono::SecondsFormat;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::AuditError;
use super::chain::{canonical_without_hash, link_hash};
use super::event::{Event, NewEvent};
use crate::db::entities::{audit_event, audit_head};

#[derive(Clone)]
pub struct Log {
    db: DatabaseConnection,
    /// Time to append and commit an event of its own (the cost auditing adds to a read).
    record_seconds: Option<Histogram>,
    /// The group-commit writer, when running (see [`Log::start_group_commit`]).
    writer: Option<mpsc::Sender<Pending>>,
}

/// An event waiting for the group-commit writer, and where to send its outcome.
type Pending = (NewEvent, oneshot::Sender<Result<Event, AuditError>>);

/// Most events committed in one transaction by the group-commit writer.
const MAX_BATCH: usize = 256;

/// Filters of `GET /api/v1/audit` and the export.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub document: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// RFC 3339 bounds, inclusive, normalised by [`normalise_time`].
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The fixed-width RFC 3339 form stored in `at`, so that text order is time order.
pub fn format_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A user-given time bound in the stored form.
pub fn normalise_time(value: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(value.trim()).ok().map(|t| format_time(t.with_timezone(&chrono::Utc)))
}

impl Log {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, record_seconds: None, writer: None }
    }

    /// A log whose own-transaction appends are timed in `anaspoc_audit_record_seconds`.
    pub fn with_metrics(db: DatabaseConnection, metrics: &crate::metrics::Metrics) -> Self {
        let histogram = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        metrics.register("audit_record_seconds", "Time to append and commit one audit event", histogram.clone());
        Self { db, record_seconds: Some(histogram), writer: None }
    }

    /// Route [`Log::record`] through one writer task that commits waiting events together: one
    /// transaction (and one fsync) for many concurrent reads, and no lock contention between
    /// them. Each caller still waits until its own event is durable.
    pub fn start_group_commit(mut self) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Pending>(MAX_BATCH * 4);
        let db = self.db.clone();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                commit_batch(&db, batch).await;
            }
        });
        self.writer = Some(sender);
        self
    }

    /// Append `event` inside the caller's transaction (the change it records commits with it).
    /// Call [`Log::emit`] after the commit.
    pub async fn append(txn: &impl ConnectionTrait, event: NewEvent) -> Result<Event, AuditError> {
        // Lock the head first: the UPDATE takes the row lock (PostgreSQL) or the write lock
        // (SQLite) before anything is read, so two appends can never see the same head.
        audit_head::Entity::update_many()
            .col_expr(audit_head::Column::Seq, Expr::col(audit_head::Column::Seq).add(1))
            .filter(audit_head::Column::Id.eq(1))
            .exec(txn)
            .await?;
        let head = audit_head::Entity::find_by_id(1).one(txn).await?.ok_or(AuditError::NoHead)?;
        let mut recorded = Event {
            seq: head.seq,
            id: uuid::Uuid::new_v4().to_string(),
            at: format_time(chrono::Utc::now()),
            actor: event.actor,
            action: event.action,
            outcome: event.outcome,
            target: event.target,
            request: event.request,
            details: event.details,
            prev_hash: head.hash,
            hash: String::new(),
        };
        let body = canonical_without_hash(&serde_json::to_value(&recorded)?)?;
        recorded.hash = link_hash(&recorded.prev_hash, &body);
        audit_event::Entity::insert(audit_event::ActiveModel {
            seq: Set(recorded.seq),
            id: Set(recorded.id.clone()),
            at: Set(recorded.at.clone()),
            actor_sub: Set(recorded.actor.sub.clone()),
            action: Set(recorded.action.as_str().to_owned()),
            outcome: Set(recorded.outcome.as_str().to_owned()),
            // Already bounded and storable: see `Target::document`.
            document_id: Set(recorded.target.document_id.clone()),
            event: Set(body),
            prev_hash: Set(recorded.prev_hash.clone()),
            hash: Set(recorded.hash.clone()),
        })
        .exec_without_returning(txn)
        .await?;
        audit_head::Entity::update_many()
            .col_expr(audit_head::Column::Hash, Expr::value(recorded.hash.clone()))
            .filter(audit_head::Column::Id.eq(1))
            .exec(txn)
            .await?;
        Ok(recorded)
    }

    /// Append `event` in a transaction of its own, durable when this returns.
    pub async fn record(&self, event: NewEvent) -> Result<Event, AuditError> {
        let started = std::time::Instant::now();
        let recorded = match &self.writer {
            Some(writer) => {
                let (done, result) = oneshot::channel();
                writer.send((event, done)).await.map_err(|_| AuditError::WriterStopped)?;
                result.await.map_err(|_| AuditError::WriterStopped)??
            }
            None => {
                let txn = self.db.begin().await?;
                let recorded = Self::append(&txn, event).await?;
                txn.commit().await?;
                recorded
            }
        };
        if let Some(histogram) = &self.record_seconds {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        Self::emit(&recorded);
        Ok(recorded)
    }

    /// Send a committed event to the log (tracing target `audit`) for a SIEM.
    pub fn emit(event: &Event) {
        tracing::info!(
            target: "audit",
            seq = event.seq,
            action = event.action.as_str(),
            outcome = event.outcome.as_str(),
            actor = event.actor.sub.as_deref().unwrap_or("-"),
            document = event.target.document_id.as_deref().unwrap_or("-"),
            version = event.target.version,
            request_id = %event.request.id,
            ip = %event.request.ip,
            details = %event.details,
            hash = %event.hash,
            "audit event"
        );
    }

    /// Newest first: events with `seq < before` (all when `None`) matching `filter`.
    pub async fn page(&self, filter: &Filter, before: Option<i64>, limit: u64) -> Result<Vec<Event>, AuditError> {
        let mut query = audit_event::Entity::find().filter(condition(filter));
        if let Some(before) = before {
            query = query.filter(audit_event::Column::Seq.lt(before));
        }
        let rows = query.order_by_desc(audit_event::Column::Seq).limit(limit).all(&self.db).await?;
        rows.into_iter().map(to_event).collect()
    }

    /// Oldest first: rows with `seq > after` matching `filter` (export and verification).
    pub async fn rows_after(
        &self,
        filter: &Filter,
        after: i64,
        limit: u64,
    ) -> Result<Vec<audit_event::Model>, AuditError> {
        Ok(audit_event::Entity::find()
            .filter(condition(filter))
            .filter(audit_event::Column::Seq.gt(after))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    pub async fn head(&self) -> Result<audit_head::Model, AuditError> {
        audit_head::Entity::find_by_id(1).one(&self.db).await?.ok_or(AuditError::NoHead)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Append a batch in one transaction. If it fails, each event is retried alone so that one bad
/// event cannot cost the others their record.
async fn commit_batch(db: &DatabaseConnection, batch: Vec<Pending>) {
    let together = async {
        let txn = db.begin().await?;
        let mut recorded = Vec::with_capacity(batch.len());
        for (event, _) in &batch {
            recorded.push(Log::append(&txn, event.clone()).await?);
        }
        txn.commit().await?;
        Ok::<_, AuditError>(recorded)
    }
    .await;
    match together {
        Ok(recorded) => {
            for ((_, done), event) in batch.into_iter().zip(recorded) {
                let _ = done.send(Ok(event));
            }
        }
        Err(error) => {
            tracing::warn!(%error, events = batch.len(), "audit batch failed; appending one by one");
            for (event, done) in batch {
                let single = async {
                    let txn = db.begin().await?;
                    let recorded = Log::append(&txn, event).await?;
                    txn.commit().await?;
                    Ok(recorded)
                }
                .await;
                let _ = done.send(single);
            }
        }
    }
}

fn condition(filter: &Filter) -> Condition {
    let mut condition = Condition::all();
    if let Some(actor) = &filter.actor {
        condition = condition.add(audit_event::Column::ActorSub.eq(actor.as_str()));
    }
    if let Some(document) = &filter.document {
        condition = condition.add(audit_event::Column::DocumentId.eq(document.as_str()));
    }
    if let Some(action) = &filter.action {
        condition = condition.add(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(outcome) = &filter.outcome {
        condition = condition.add(audit_event::Column::Outcome.eq(outcome.as_str()));
    }
    if let Some(from) = &filter.from {
        condition = condition.add(audit_event::Column::At.gte(from.as_str()));
    }
    if let Some(to) = &filter.to {
        condition = condition.add(audit_event::Column::At.lte(to.as_str()));
    }
    condition
}

/// The full event of a stored row: the hashed body plus its hash.
pub fn to_event(row: audit_event::Model) -> Result<Event, AuditError> {
    let mut value: Value = serde_json::from_str(&row.event)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("hash".into(), Value::String(row.hash));
    }
    Ok(serde_json::from_value(value)?)
}

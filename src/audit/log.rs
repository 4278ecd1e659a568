//! Appending to the trail — the only thing the log does (reading is [`super::Reader`]'s, for
//! auditors, and [`super::Trail`]'s, for the operator). Every append locks the single
//! `audit_head` row first (an UPDATE … RETURNING), so appends are serialised across connections
//! and replicas and `seq` has no gaps: a rolled-back business transaction takes its event — and
//! its `seq` — with it. The lock is held for three statements per transaction, however many
//! events the group-commit writer puts in it.

use chrono::SecondsFormat;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::AuditError;
use super::chain::{canonical_without_hash, link_hash};
use super::event::{Event, NewEvent};
use crate::db::entities::{audit_document_ref, audit_event, audit_head};

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

/// Rows of `audit_document_refs` inserted per statement.
const REFS_PER_STATEMENT: usize = 4096;

/// The fixed-width RFC 3339 form stored in `at`, so that text order is time order.
pub fn format_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
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
        let db = self.db.clone();
        let sender = crate::group_commit::start(MAX_BATCH, move |batch| {
            let db = db.clone();
            async move { commit_batch(&db, batch).await }
        });
        self.writer = Some(sender);
        self
    }

    /// Append `event` inside the caller's transaction (the change it records commits with it).
    /// Call [`Log::emit`] after the commit.
    pub async fn append(txn: &impl ConnectionTrait, event: NewEvent) -> Result<Event, AuditError> {
        Self::append_all(txn, vec![event]).await?.pop().ok_or(AuditError::NoHead)
    }

    /// Append `events` in order inside the caller's transaction, in three statements whatever
    /// their number: move the head on by all of them (which locks it until commit), insert them
    /// in one statement, record the new head hash.
    pub async fn append_all(txn: &impl ConnectionTrait, events: Vec<NewEvent>) -> Result<Vec<Event>, AuditError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let advance = Query::update()
            .table(audit_head::Entity)
            .value(audit_head::Column::Seq, Expr::col(audit_head::Column::Seq).add(events.len() as i64))
            .and_where(Expr::col(audit_head::Column::Id).eq(1))
            .returning(Query::returning().columns([audit_head::Column::Seq, audit_head::Column::Hash]))
            .to_owned();
        let head = txn.query_one(&advance).await?.ok_or(AuditError::NoHead)?;
        let last_seq: i64 = head.try_get("", "seq")?;
        let mut prev_hash: String = head.try_get("", "hash")?;
        let first_seq = last_seq - events.len() as i64 + 1;
        let at = format_time(chrono::Utc::now());
        let mut recorded = Vec::with_capacity(events.len());
        let mut rows = Vec::with_capacity(events.len());
        for (offset, event) in events.into_iter().enumerate() {
            let mut linked = Event {
                seq: first_seq + offset as i64,
                id: uuid::Uuid::new_v4().to_string(),
                at: at.clone(),
                actor: event.actor,
                action: event.action,
                outcome: event.outcome,
                target: event.target,
                request: event.request,
                details: event.details,
                prev_hash: prev_hash.clone(),
                hash: String::new(),
            };
            let body = canonical_without_hash(&serde_json::to_value(&linked)?)?;
            linked.hash = link_hash(&linked.prev_hash, &body);
            prev_hash = linked.hash.clone();
            rows.push(audit_event::ActiveModel {
                seq: Set(linked.seq),
                id: Set(linked.id.clone()),
                at: Set(linked.at.clone()),
                actor_sub: Set(linked.actor.sub.clone()),
                action: Set(linked.action.as_str().to_owned()),
                outcome: Set(linked.outcome.as_str().to_owned()),
                // Already bounded and storable: see `Target::document`.
                document_id: Set(linked.target.document_id.clone()),
                event: Set(body),
                prev_hash: Set(linked.prev_hash.clone()),
                hash: Set(linked.hash.clone()),
            });
            recorded.push(linked);
        }
        audit_event::Entity::insert_many(rows).exec_without_returning(txn).await?;
        let mut refs: Vec<audit_document_ref::ActiveModel> = recorded
            .iter()
            .flat_map(|event| {
                event.mentioned_documents().into_iter().map(|document_id| audit_document_ref::ActiveModel {
                    document_id: Set(document_id),
                    seq: Set(event.seq),
                })
            })
            .collect();
        // Two parameters a row: well under SQLite's and PostgreSQL's limits per statement.
        while !refs.is_empty() {
            let rest = refs.split_off(refs.len().min(REFS_PER_STATEMENT));
            audit_document_ref::Entity::insert_many(std::mem::replace(&mut refs, rest))
                .exec_without_returning(txn)
                .await?;
        }
        audit_head::Entity::update_many()
            .col_expr(audit_head::Column::Hash, Expr::value(prev_hash))
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
                let txn = begin(&self.db).await?;
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
}

/// Append a batch in one transaction. If it fails, each event is retried alone so that one bad
/// event cannot cost the others their record.
async fn commit_batch(db: &DatabaseConnection, batch: Vec<Pending>) {
    let together = async {
        let txn = begin(db).await?;
        let recorded = Log::append_all(&txn, batch.iter().map(|(event, _)| event.clone()).collect()).await?;
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
                    let txn = begin(db).await?;
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

/// A transaction of the audit's own, pinned to READ COMMITTED on PostgreSQL (whatever the
/// server's default): the head row's lock serialises appends; a stricter level would only turn
/// waiting appends into serialisation failures.
async fn begin(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        db.begin_with_config(Some(sea_orm::IsolationLevel::ReadCommitted), None).await
    } else {
        db.begin().await
    }
}

//! Reading the stored trail: pages of events, the head, the signed checkpoints. This is the
//! operator's access (command line, verification, export) and what [`super::Reader`] serves
//! auditors through; it takes no caller and records nothing, so it is never handed to a request
//! handler (docs/architecture.md, "How to add a route safely").

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde_json::Value;

use super::AuditError;
use super::checkpoint::{Checkpoint, SigningKey};
use super::event::Event;
use super::log::format_time;
use super::query::Filter;
use crate::db::entities::{audit_checkpoint, audit_document_ref, audit_event, audit_head};

#[derive(Clone)]
pub struct Trail {
    db: DatabaseConnection,
}

impl Trail {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub(super) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Oldest first: events with `seq > after` that concern `document` — as their target, or
    /// mentioning it (`audit_document_refs`: a search hit, a notification, a derivative's source).
    pub async fn document_events(&self, document: &str, after: i64, limit: u64) -> Result<Vec<Event>, AuditError> {
        let mentioned = audit_document_ref::Entity::find()
            .select_only()
            .column(audit_document_ref::Column::Seq)
            .filter(audit_document_ref::Column::DocumentId.eq(document))
            .into_query();
        let rows = audit_event::Entity::find()
            .filter(
                Condition::any()
                    .add(audit_event::Column::DocumentId.eq(document))
                    .add(audit_event::Column::Seq.in_subquery(mentioned)),
            )
            .filter(audit_event::Column::Seq.gt(after))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(to_event).collect()
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

    /// Oldest first: stored rows with `seq > after` matching `filter` (export and verification).
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

    /// Oldest first: events with `seq > after` matching `filter`.
    pub async fn events_after(&self, filter: &Filter, after: i64, limit: u64) -> Result<Vec<Event>, AuditError> {
        self.rows_after(filter, after, limit).await?.into_iter().map(to_event).collect()
    }

    pub async fn head(&self) -> Result<audit_head::Model, AuditError> {
        audit_head::Entity::find_by_id(1).one(&self.db).await?.ok_or(AuditError::NoHead)
    }

    /// Every checkpoint stored in the database.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        Ok(audit_checkpoint::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Checkpoint {
                seq: row.seq,
                hash: row.hash,
                at: row.at,
                key_id: row.key_id,
                public_key: row.public_key,
                signature: row.signature,
            })
            .collect())
    }

    /// Sign the current head and keep the checkpoint in the database; the operator keeps a copy
    /// elsewhere too (`anaspoc audit checkpoint`).
    pub async fn sign_head(&self, key: &SigningKey) -> Result<Checkpoint, AuditError> {
        let head = self.head().await?;
        let checkpoint = key.sign(head.seq, &head.hash, &format_time(chrono::Utc::now()))?;
        self.store_checkpoint(&checkpoint).await?;
        Ok(checkpoint)
    }

    /// Keep a checkpoint (a second one for the same `seq` is ignored).
    async fn store_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), AuditError> {
        audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel {
            seq: Set(checkpoint.seq),
            hash: Set(checkpoint.hash.clone()),
            at: Set(checkpoint.at.clone()),
            key_id: Set(checkpoint.key_id.clone()),
            public_key: Set(checkpoint.public_key.clone()),
            signature: Set(checkpoint.signature.clone()),
        })
        .on_conflict(OnConflict::column(audit_checkpoint::Column::Seq).do_nothing().to_owned())
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
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
    if let Some(action) = filter.action {
        condition = condition.add(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(outcome) = filter.outcome {
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
pub(super) fn to_event(row: audit_event::Model) -> Result<Event, AuditError> {
    let mut value: Value = serde_json::from_str(&row.event)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("hash".into(), Value::String(row.hash));
    }
    Ok(serde_json::from_value(value)?)
}

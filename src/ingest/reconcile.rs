//! Bring the search index up to date with the database at start-up: every document whose
//! indexed state is older than the database's (or missing — a new or deleted index directory)
//! gets a refresh job, and every version still waiting for its text without a live job gets an
//! extract job. The workers then do the rest.
//!
//! The index holds markings as the policy saw them when they were indexed: a level's rank on the
//! ladder and the release countries. When `[policy] levels` or `countries` change, those may no
//! longer mean what they meant (a level inserted below shifts every rank above it), so the
//! index is emptied — nothing is found rather than something wrongly — and rebuilt.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use tantivy::TantivyDocument;
use tantivy::collector::DocSetCollector;
use tantivy::query::AllQuery;
use tantivy::schema::Value;

use super::IngestError;
use super::jobs::{self, JobKind};
use crate::db::entities::{document, document_version, ingest_job};
use crate::policy::PolicyConfig;
use crate::search::{SearchIndex, WriterHandle};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub refreshed: usize,
    pub extracted: usize,
}

/// Enqueue what the index is missing. Cheap when nothing is: one pass over ids and revisions.
pub async fn reconcile(
    db: &DatabaseConnection,
    index: &SearchIndex,
    writer: &WriterHandle,
    policy: &PolicyConfig,
) -> Result<Reconciled, IngestError> {
    let stamp = policy_stamp(policy);
    let policy_changed = index.policy_stamp().as_deref() != Some(stamp.as_str());
    if policy_changed && index.count() > 0 {
        tracing::warn!("the policy's levels or countries changed since the index was built; rebuilding the index");
        writer.clear().await?;
    }
    let indexed = indexed_state(index)?;
    let documents: Vec<(String, i32, i32)> = document::Entity::find()
        .select_only()
        .columns([document::Column::Id, document::Column::Revision, document::Column::CurrentVersion])
        .into_tuple()
        .all(db)
        .await?;
    let with_text: HashSet<(String, i32)> = document_version::Entity::find()
        .select_only()
        .columns([document_version::Column::DocumentId, document_version::Column::Version])
        .filter(document_version::Column::TextKey.is_not_null())
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let waiting: Vec<(String, i32)> = document_version::Entity::find()
        .select_only()
        .columns([document_version::Column::DocumentId, document_version::Column::Version])
        .filter(document_version::Column::IngestState.eq("pending"))
        .into_tuple()
        .all(db)
        .await?;
    let live: HashSet<(String, i32)> = ingest_job::Entity::find()
        .select_only()
        .columns([ingest_job::Column::DocumentId, ingest_job::Column::Version])
        .filter(ingest_job::Column::Kind.eq(JobKind::Extract.as_str()))
        .filter(ingest_job::Column::State.is_in([jobs::PENDING, jobs::RUNNING]))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();

    let mut result = Reconciled::default();
    let txn = db.begin().await?;
    for (id, revision, current) in documents {
        let text_version = if with_text.contains(&(id.clone(), current)) { current as u64 } else { 0 };
        let expected = (revision as u64, text_version);
        if indexed.get(&id).is_none_or(|state| *state < expected) {
            jobs::enqueue(&txn, &id, current, JobKind::Refresh).await?;
            result.refreshed += 1;
        }
    }
    for (id, version) in waiting {
        if !live.contains(&(id.clone(), version)) {
            jobs::enqueue(&txn, &id, version, JobKind::Extract).await?;
            result.extracted += 1;
        }
    }
    txn.commit().await?;
    // The refresh jobs are durable now; a crash before this line empties the index again.
    if policy_changed {
        index.record_policy_stamp(&stamp)?;
    }
    Ok(result)
}

/// What the indexed markings depend on: the ladder's order, the release countries, and how an
/// organisation is written (its country and name since organisations are told apart by country).
pub fn policy_stamp(policy: &PolicyConfig) -> String {
    let levels: Vec<&str> = policy.ladder.levels().iter().map(|level| level.name()).collect();
    let countries: Vec<&str> = policy.countries.iter().map(String::as_str).collect();
    format!("levels={}\ncountries={}\norganisation=country:name\n", levels.join(","), countries.join(","))
}

/// (revision, text version) of every document in the committed index.
fn indexed_state(index: &SearchIndex) -> Result<HashMap<String, (u64, u64)>, IngestError> {
    let fields = index.fields();
    let searcher = index.reader().searcher();
    let addresses = searcher.search(&AllQuery, &DocSetCollector).map_err(crate::search::SearchError::from)?;
    let mut state = HashMap::with_capacity(addresses.len());
    for address in addresses {
        let doc: TantivyDocument = searcher.doc(address).map_err(crate::search::SearchError::from)?;
        let id = doc.get_first(fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let revision = doc.get_first(fields.revision).and_then(|v| v.as_u64()).unwrap_or(0);
        let text_version = doc.get_first(fields.text_version).and_then(|v| v.as_u64()).unwrap_or(0);
        state.insert(id, (revision, text_version));
    }
    Ok(state)
}

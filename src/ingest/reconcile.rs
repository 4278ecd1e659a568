//! Bring the search index up to date with the database at start-up: every document whose
//! indexed state is older than the database's (or missing — a new or deleted index directory)
//! gets a refresh job, and every version still waiting for its text without a live job gets an
//! extract job. The workers then do the rest.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use tantivy::TantivyDocument;
use tantivy::collector::DocSetCollector;
use tantivy::query::AllQuery;
use tantivy::schema::Value;

use super::IngestError;
use super::jobs::{self, JobKind};
use crate::db::entities::{document, document_version, ingest_job};
use crate::search::SearchIndex;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub refreshed: usize,
    pub extracted: usize,
}

/// Enqueue what the index is missing. Cheap when nothing is: one pass over ids and revisions.
pub async fn reconcile(db: &DatabaseConnection, index: &SearchIndex) -> Result<Reconciled, IngestError> {
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
    Ok(result)
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

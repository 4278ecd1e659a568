//! The tantivy index on disk: opened (or created) with the analysers registered — tantivy does
//! not persist custom tokenizers — and one reader whose searchers see each committed batch.

use std::path::Path;
use std::sync::Arc;

use tantivy::directory::MmapDirectory;
use tantivy::query::QueryParser;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{Index, IndexReader, ReloadPolicy};

use super::SearchError;
use super::analyzer::{ANALYZER, FoldingTokenizer, Mode};
use super::schema::{self, Fields, TEXT_FIELDS};
use super::statistics::StatisticsCache;

#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// The query-time analysers (the "d" form of đ/dj words only).
    query_tokenizers: TokenizerManager,
    /// Visible-document statistics per segment (see `statistics`), shared by all searches.
    statistics: Arc<StatisticsCache>,
}

/// How far the committed index has followed the change feed, and under which policy its
/// markings were written — the payload of every commit (see `search::writer`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The feed followed (`db::feed::Head::feed_id`).
    pub feed: String,
    /// Every change up to this `change_seq` is in the index.
    pub cursor: i64,
    /// What the indexed markings mean (the follower's policy stamp).
    pub policy: String,
}

impl Position {
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl SearchIndex {
    /// Open the index in `dir`, creating it (or replacing one with another schema) as needed.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Index(format!("{}: {e}", dir.display())))?;
        let (schema, fields) = schema::build();
        let directory = MmapDirectory::open(dir).map_err(|e| SearchError::Index(e.to_string()))?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            Ok(index) => index,
            Err(tantivy::TantivyError::SchemaError(reason)) => {
                // An index of an older schema is derived data: start afresh; the follower
                // fills it again from the change feed.
                tracing::warn!(%reason, dir = %dir.display(), "search index schema changed; rebuilding the index");
                for entry in std::fs::read_dir(dir).map_err(|e| SearchError::Index(e.to_string()))?.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
                let directory = MmapDirectory::open(dir).map_err(|e| SearchError::Index(e.to_string()))?;
                Index::create(directory, schema, Default::default())?
            }
            Err(other) => return Err(other.into()),
        };
        Self::from_index(index, fields)
    }

    /// An index in memory (benchmarks, tests).
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = schema::build();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<Self, SearchError> {
        index.tokenizers().register(ANALYZER, FoldingTokenizer::analyzer(Mode::Index));
        let query_tokenizers = TokenizerManager::default();
        query_tokenizers.register(ANALYZER, FoldingTokenizer::analyzer(Mode::Query));
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { index, reader, fields, query_tokenizers, statistics: Arc::default() })
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn reader(&self) -> &IndexReader {
        &self.reader
    }

    pub fn statistics(&self) -> &StatisticsCache {
        &self.statistics
    }

    /// This index with a statistics cache that keeps nothing (the benchmark's comparison).
    pub fn without_statistics_cache(&self) -> Self {
        Self { statistics: Arc::new(StatisticsCache::disabled()), ..self.clone() }
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// A parser for the users' query syntax over the text fields, with the query analysers.
    pub fn query_parser(&self) -> QueryParser {
        let schema = self.index.schema();
        let defaults = TEXT_FIELDS.iter().filter_map(|name| schema.get_field(name).ok()).collect();
        let mut parser = QueryParser::new(schema, defaults, self.query_tokenizers.clone());
        parser.set_conjunction_by_default();
        parser.set_field_boost(self.fields.title, 3.0);
        parser.set_field_boost(self.fields.keywords, 2.0);
        parser.set_field_boost(self.fields.summary, 1.5);
        parser
    }

    /// The position of the last commit; `None` for a new index or one written before the feed.
    pub fn position(&self) -> Option<Position> {
        let payload = self.index.load_metas().ok()?.payload?;
        serde_json::from_str(&payload).ok()
    }

    /// Number of documents in the last committed state.
    pub fn count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

//! Ranking statistics over the documents the caller may see. Tantivy's defaults (BM25's
//! document count, document frequencies and average field lengths, and the snippet generator's
//! term weights) count every document in the index; a score, the order of two hits or the
//! choice of a snippet would then depend on how many hidden documents contain a word — enough to
//! count documents one may not read. Here they count only the visible documents.
//!
//! Counting the visible documents is a pass over all of them, which would make every search cost
//! as much as the caller's whole visible set. It is done once per segment and visibility filter
//! instead, and kept in a [`StatisticsCache`]: a tantivy segment never changes after it is
//! written except by deletions, which only grow, so (segment, number of deletions, filter) names
//! exactly the documents counted. A commit adds segments (only those are counted afresh) and a
//! merge replaces some (their entries are dropped). The documents a search leaves out because
//! they changed after the index's position are counted separately and subtracted — a handful,
//! so this is cheap — and never cached.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::SegmentId;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, EnableScoring, Query, TermQuery, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

use super::analyzer::FoldingTokenizer;
use super::cost::Budget;
use super::schema::TEXT_FIELDS;
use crate::policy::VisibilityFilter;

/// Most (segment, filter) entries kept. Each is small (a few counters and the document
/// frequencies of the terms searched); past the bound a search counts without keeping.
const MAX_ENTRIES: usize = 16_384;
/// Most document frequencies kept per entry.
const MAX_TERMS_PER_ENTRY: usize = 4_096;

/// The documents of one segment, in one state, that one visibility filter admits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SegmentKey {
    segment: SegmentId,
    deleted: u32,
    filter: Option<VisibilityFilter>,
}

impl SegmentKey {
    fn of(reader: &SegmentReader, filter: Option<&VisibilityFilter>) -> Self {
        Self { segment: reader.segment_id(), deleted: reader.num_deleted_docs(), filter: filter.cloned() }
    }
}

#[derive(Default)]
struct Entry {
    totals: Option<Totals>,
    doc_freqs: HashMap<Term, u64>,
}

/// Visible-document statistics per segment, shared by the searches of one index.
#[derive(Default)]
pub struct StatisticsCache {
    disabled: bool,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<SegmentKey, Entry>,
    /// The segments (and their deletions) of the last searcher seen: when they change, entries
    /// of segments no longer in the index are dropped.
    live: Vec<(SegmentId, u32)>,
}

impl StatisticsCache {
    /// A cache that keeps nothing: every search counts afresh (the benchmark's comparison).
    pub fn disabled() -> Self {
        Self { disabled: true, ..Self::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A panic while holding the lock leaves only counters behind: still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forget the entries of segments `searcher` no longer has.
    fn follow(&self, searcher: &Searcher) {
        let live: Vec<(SegmentId, u32)> =
            searcher.segment_readers().iter().map(|r| (r.segment_id(), r.num_deleted_docs())).collect();
        let mut state = self.state();
        if state.live != live {
            state.entries.retain(|key, _| live.contains(&(key.segment, key.deleted)));
            state.live = live;
        }
    }

    fn totals(&self, key: &SegmentKey) -> Option<Totals> {
        self.state().entries.get(key).and_then(|entry| entry.totals.clone())
    }

    fn doc_freq(&self, key: &SegmentKey, term: &Term) -> Option<u64> {
        self.state().entries.get(key).and_then(|entry| entry.doc_freqs.get(term).copied())
    }

    /// The entry for `key`, if it exists or there is room for it.
    fn with_entry(&self, key: &SegmentKey, update: impl FnOnce(&mut Entry)) {
        if self.disabled {
            return;
        }
        let mut state = self.state();
        if !state.entries.contains_key(key) && state.entries.len() >= MAX_ENTRIES {
            return;
        }
        update(state.entries.entry(key.clone()).or_default());
    }

    fn keep_totals(&self, key: &SegmentKey, totals: &Totals) {
        self.with_entry(key, |entry| entry.totals = Some(totals.clone()));
    }

    fn keep_doc_freq(&self, key: &SegmentKey, term: &Term, doc_freq: u64) {
        self.with_entry(key, |entry| {
            if entry.doc_freqs.len() < MAX_TERMS_PER_ENTRY {
                entry.doc_freqs.insert(term.clone(), doc_freq);
            }
        });
    }
}

/// Which documents a search ranks among.
pub struct Scope<'a> {
    /// What the caller may see (the policy filter alone).
    pub visible: &'a dyn Query,
    /// The filter `visible` was compiled from: the cache's key.
    pub filter: Option<&'a VisibilityFilter>,
    /// Visible documents the search leaves out (changed after the index's position), if any.
    pub left_out: Option<&'a dyn Query>,
}

/// Statistics of one search, computed on first use and kept for its duration.
pub struct VisibleStatistics<'a> {
    searcher: &'a Searcher,
    scope: Scope<'a>,
    cache: &'a StatisticsCache,
    /// Counting runs over the visible set: it spends the search's time budget too.
    budget: &'a Budget,
    text_fields: Vec<Field>,
    keys: Vec<SegmentKey>,
    totals: OnceCell<Totals>,
    doc_freqs: RefCell<HashMap<Term, u64>>,
}

#[derive(Clone, Debug, Default)]
struct Totals {
    docs: u64,
    tokens: HashMap<Field, u64>,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.docs += other.docs;
        for (field, tokens) in &other.tokens {
            *self.tokens.entry(*field).or_default() += tokens;
        }
    }

    fn subtract(&mut self, other: &Totals) {
        self.docs = self.docs.saturating_sub(other.docs);
        for (field, tokens) in &other.tokens {
            let total = self.tokens.entry(*field).or_default();
            *total = total.saturating_sub(*tokens);
        }
    }
}

impl<'a> VisibleStatistics<'a> {
    pub fn new(searcher: &'a Searcher, scope: Scope<'a>, cache: &'a StatisticsCache, budget: &'a Budget) -> Self {
        cache.follow(searcher);
        let schema = searcher.schema();
        let text_fields = TEXT_FIELDS.iter().filter_map(|name| schema.get_field(name).ok()).collect();
        let keys = searcher.segment_readers().iter().map(|reader| SegmentKey::of(reader, scope.filter)).collect();
        Self {
            searcher,
            scope,
            cache,
            budget,
            text_fields,
            keys,
            totals: OnceCell::new(),
            doc_freqs: RefCell::default(),
        }
    }

    /// Visible documents and the lengths of their text fields, summed.
    fn totals(&self) -> tantivy::Result<&Totals> {
        if let Some(totals) = self.totals.get() {
            return Ok(totals);
        }
        let collector = self.budget.collect(TotalsCollector { fields: &self.text_fields });
        let mut weight: Option<Box<dyn Weight>> = None;
        let mut all = Totals::default();
        for ((ordinal, reader), key) in self.searcher.segment_readers().iter().enumerate().zip(&self.keys) {
            let segment = match self.cache.totals(key) {
                Some(kept) => kept,
                None => {
                    let weight = match &mut weight {
                        Some(weight) => weight,
                        empty => empty.insert(self.scope.visible.weight(self.unscored())?),
                    };
                    let counted = collector.collect_segment(&**weight, ordinal as SegmentOrdinal, reader)?;
                    self.cache.keep_totals(key, &counted);
                    counted
                }
            };
            all.add(&segment);
        }
        if let Some(left_out) = self.scope.left_out {
            all.subtract(&self.searcher.search(left_out, &collector)?);
        }
        Ok(self.totals.get_or_init(|| all))
    }

    fn unscored(&self) -> EnableScoring<'a> {
        EnableScoring::disabled_from_searcher(self.searcher)
    }

    /// A snippet generator for `field` whose term weights come from these statistics (rarer
    /// among the visible documents = weightier), as tantivy's own generator does globally.
    pub fn snippet_generator(&self, query: &dyn Query, field: Field) -> tantivy::Result<SnippetGenerator> {
        let mut terms: BTreeSet<Term> = BTreeSet::new();
        query.query_terms(&mut |term, _| {
            if term.field() == field {
                terms.insert(term.clone());
            }
        });
        let mut weights: BTreeMap<String, Score> = BTreeMap::new();
        for term in terms {
            let Some(text) = term.value().as_str().map(str::to_owned) else { continue };
            let doc_freq = self.doc_freq(&term)?;
            if doc_freq > 0 {
                weights.insert(text, 1.0 / (1.0 + doc_freq as Score));
            }
        }
        // The text is cut into query forms only: every term of a query is one (the index's
        // extra forms of a word never are); words that cannot be a term are skipped.
        let tokenizer = FoldingTokenizer::matching(weights.keys().map(String::as_str));
        // The caller sets the length it wants.
        Ok(SnippetGenerator::new(weights, tokenizer, field, 150))
    }

    /// Visible documents holding `term`, counted in each segment not counted before.
    fn count_doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let with_term = |scope: &dyn Query| {
            BooleanQuery::intersection(vec![
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
                scope.box_clone(),
            ])
        };
        let counter = self.budget.collect(Count);
        let mut weight: Option<Box<dyn Weight>> = None;
        let mut count = 0;
        for ((ordinal, reader), key) in self.searcher.segment_readers().iter().enumerate().zip(&self.keys) {
            count += match self.cache.doc_freq(key, term) {
                Some(kept) => kept,
                None => {
                    let weight = match &mut weight {
                        Some(weight) => weight,
                        empty => empty.insert(with_term(self.scope.visible).weight(self.unscored())?),
                    };
                    let counted = counter.collect_segment(&**weight, ordinal as SegmentOrdinal, reader)? as u64;
                    self.cache.keep_doc_freq(key, term, counted);
                    counted
                }
            };
        }
        if let Some(left_out) = self.scope.left_out {
            count = count.saturating_sub(self.searcher.search(&with_term(left_out), &counter)? as u64);
        }
        Ok(count)
    }
}

impl Bm25StatisticsProvider for VisibleStatistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        if let Some(known) = self.totals()?.tokens.get(&field) {
            return Ok(*known);
        }
        // Not a text field (not expected: only those are scored): one pass, not kept.
        let fields = [field];
        let collector = self.budget.collect(TotalsCollector { fields: &fields });
        let mut totals = self.searcher.search(self.scope.visible, &collector)?;
        if let Some(left_out) = self.scope.left_out {
            totals.subtract(&self.searcher.search(left_out, &collector)?);
        }
        Ok(totals.tokens.get(&field).copied().unwrap_or(0))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        // At least one: an empty visible set matches nothing, but BM25 divides by this.
        Ok(self.totals()?.docs.max(1))
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        if let Some(known) = self.doc_freqs.borrow().get(term) {
            return Ok(*known);
        }
        let count = self.count_doc_freq(term)?;
        self.doc_freqs.borrow_mut().insert(term.clone(), count);
        Ok(count)
    }
}

/// Counts the visible documents and sums their field lengths (tantivy's field norms, the same
/// lengths BM25 uses) per text field.
struct TotalsCollector<'a> {
    fields: &'a [Field],
}

struct TotalsSegment {
    docs: u64,
    norms: Vec<(Field, FieldNormReader, u64)>,
}

impl Collector for TotalsCollector<'_> {
    type Fruit = Totals;
    type Child = TotalsSegment;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<TotalsSegment> {
        let norms = self
            .fields
            .iter()
            .map(|field| Ok((*field, reader.get_fieldnorms_reader(*field)?, 0)))
            .collect::<tantivy::Result<_>>()?;
        Ok(TotalsSegment { docs: 0, norms })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Totals>) -> tantivy::Result<Totals> {
        let mut all = Totals::default();
        for segment in &segments {
            all.add(segment);
        }
        Ok(all)
    }
}

impl SegmentCollector for TotalsSegment {
    type Fruit = Totals;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.docs += 1;
        for (_, reader, sum) in &mut self.norms {
            *sum += u64::from(reader.fieldnorm(doc));
        }
    }

    fn harvest(self) -> Totals {
        Totals { docs: self.docs, tokens: self.norms.into_iter().map(|(field, _, sum)| (field, sum)).collect() }
    }
}

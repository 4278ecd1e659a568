//! Ranking statistics over the documents the caller may see. Tantivy's defaults (BM25's
//! document count, document frequencies and average field lengths, and the snippet generator's
//! term weights) count every document in the index; a score, the order of two hits or the
//! choice of a snippet would then depend on how many hidden documents contain a word — enough to
//! count documents one may not read. Here they count only the visible documents.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

use super::cost::Budget;

/// Statistics of one search, computed on first use and kept for its duration.
pub struct VisibleStatistics<'a> {
    searcher: &'a Searcher,
    visible: &'a dyn Query,
    /// Counting runs over the visible set: it spends the search's time budget too.
    budget: &'a Budget,
    /// The fields the query's terms are in: counted in the first pass over the visible set.
    fields: Vec<Field>,
    docs: OnceCell<u64>,
    tokens: RefCell<HashMap<Field, u64>>,
    doc_freqs: RefCell<HashMap<Term, u64>>,
}

#[derive(Default)]
struct Totals {
    docs: u64,
    tokens: HashMap<Field, u64>,
}

impl<'a> VisibleStatistics<'a> {
    /// `visible`: the caller's visibility query; `query`: what will be scored with these.
    pub fn new(searcher: &'a Searcher, visible: &'a dyn Query, query: &dyn Query, budget: &'a Budget) -> Self {
        let mut fields = BTreeSet::new();
        query.query_terms(&mut |term, _| {
            fields.insert(term.field());
        });
        Self {
            searcher,
            visible,
            budget,
            fields: fields.into_iter().collect(),
            docs: OnceCell::new(),
            tokens: RefCell::default(),
            doc_freqs: RefCell::default(),
        }
    }

    /// Visible documents; the first call also sums the query's fields' lengths over them.
    fn docs(&self) -> tantivy::Result<u64> {
        if let Some(docs) = self.docs.get() {
            return Ok(*docs);
        }
        let totals =
            self.searcher.search(self.visible, &self.budget.collect(TotalsCollector { fields: &self.fields }))?;
        self.tokens.borrow_mut().extend(totals.tokens);
        Ok(*self.docs.get_or_init(|| totals.docs))
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
        let tokenizer = self.searcher.index().tokenizer_for_field(field)?;
        // The caller sets the length it wants.
        Ok(SnippetGenerator::new(weights, tokenizer, field, 150))
    }
}

impl Bm25StatisticsProvider for VisibleStatistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        self.docs()?;
        if let Some(known) = self.tokens.borrow().get(&field) {
            return Ok(*known);
        }
        // A field the query's terms did not name (not expected): one more pass.
        let totals = self.searcher.search(self.visible, &self.budget.collect(TotalsCollector { fields: &[field] }))?;
        let tokens = totals.tokens.get(&field).copied().unwrap_or(0);
        self.tokens.borrow_mut().insert(field, tokens);
        Ok(tokens)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        // At least one: an empty visible set matches nothing, but BM25 divides by this.
        Ok(self.docs()?.max(1))
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        if let Some(known) = self.doc_freqs.borrow().get(term) {
            return Ok(*known);
        }
        let both = BooleanQuery::intersection(vec![
            Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
            self.visible.box_clone(),
        ]);
        let count = self.searcher.search(&both, &self.budget.collect(Count))? as u64;
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
        for segment in segments {
            all.docs += segment.docs;
            for (field, tokens) in segment.tokens {
                *all.tokens.entry(field).or_default() += tokens;
            }
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

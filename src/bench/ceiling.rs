//! The physical ceiling of a filtered search on this corpus, for the benchmark only: the same
//! parsed words, user filters and policy filter, the same top hits, total, facets, stored
//! documents and snippets as `search::service::execute` — but ranked with tantivy's own
//! statistics over the whole index. That is what the platform must never answer a user with (a
//! score would then count hidden documents), so it lives here, beside the bench that compares
//! the visible-only ranking with it.

use std::collections::BTreeMap;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;
use tantivy::{Searcher, TantivyDocument};

use crate::policy::VisibilityFilter;
use crate::search::analyzer::FoldingTokenizer;
use crate::search::facets::FacetCollector;
use crate::search::{QueryCaps, SearchIndex, SearchRequest, query};

/// The number of hits shown, or `None` if the search failed.
pub fn search(
    index: &SearchIndex,
    filter: Option<&VisibilityFilter>,
    request: &SearchRequest,
    caps: &QueryCaps,
) -> Option<usize> {
    let fields = index.fields();
    let searcher = index.reader().searcher();
    let words = query::words(index, caps, &request.q).ok()?;
    let full =
        query::full(words.box_clone(), query::filters(fields, &request.filters), query::visibility(fields, filter));
    let window = TopDocs::with_limit(request.limit.max(1)).and_offset(request.offset).order_by_score();
    let (top, _total, _facets) = searcher.search(&full, &(window, Count, FacetCollector)).ok()?;
    let body = snippets(&searcher, &*words, fields.body);
    let title = snippets(&searcher, &*words, fields.title);
    for (_, address) in &top {
        let doc: TantivyDocument = searcher.doc(*address).ok()?;
        if body.snippet_from_doc(&doc).highlighted().is_empty() {
            title.snippet_from_doc(&doc).to_html();
        }
    }
    Some(top.len())
}

/// Snippets made as the product makes them (see `search::statistics`), weighted by whole-index
/// document frequencies.
fn snippets(searcher: &Searcher, words: &dyn Query, field: Field) -> SnippetGenerator {
    let mut weights = BTreeMap::new();
    words.query_terms(&mut |term, _| {
        if term.field() == field
            && let Some(text) = term.value().as_str()
            && let Ok(doc_freq @ 1..) = searcher.doc_freq(term)
        {
            weights.insert(text.to_owned(), 1.0 / (1.0 + doc_freq as f32));
        }
    });
    let tokenizer = FoldingTokenizer::matching(weights.keys().map(String::as_str));
    SnippetGenerator::new(weights, tokenizer, field, 240)
}

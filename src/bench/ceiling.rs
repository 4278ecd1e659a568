//! The physical ceiling of a filtered search on this corpus, for the benchmark only: the same
//! parsed words, user filters and policy filter, the same top hits, total, facets, stored
//! documents and snippets as `search::service::execute` — but ranked with tantivy's own
//! statistics over the whole index. That is what the platform must never answer a user with (a
//! score would then count hidden documents), so it lives here, beside the bench that compares
//! the visible-only ranking with it.

use tantivy::TantivyDocument;
use tantivy::collector::{Count, TopDocs};
use tantivy::snippet::SnippetGenerator;

use crate::policy::VisibilityFilter;
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
    let mut body = SnippetGenerator::create(&searcher, &*words, fields.body).ok()?;
    body.set_max_num_chars(240);
    let mut title = SnippetGenerator::create(&searcher, &*words, fields.title).ok()?;
    title.set_max_num_chars(240);
    for (_, address) in &top {
        let doc: TantivyDocument = searcher.doc(*address).ok()?;
        if body.snippet_from_doc(&doc).highlighted().is_empty() {
            title.snippet_from_doc(&doc).to_html();
        }
    }
    Some(top.len())
}

//! One document against one saved search: how an alert is evaluated (issue 17) — the same words,
//! filters and policy filter as a search, restricted to the document that changed, so that a
//! change costs one tiny query per alerting search, never a run over the whole index.

use tantivy::Term;
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;

use super::{Filters, QueryCaps, SearchError, SearchIndex, query};
use crate::policy::VisibilityFilter;

/// Whether document `id` matches `q` and `filters` for a principal whose visibility is
/// `visibility` (`policy::search_filter`; `None` sees nothing), in the index as it is now.
pub fn matches(
    index: &SearchIndex,
    caps: &QueryCaps,
    visibility: Option<&VisibilityFilter>,
    q: &str,
    filters: &Filters,
    id: &str,
) -> Result<bool, SearchError> {
    let fields = index.fields();
    let words = query::words(index, caps, q)?;
    let full = query::full(words, query::filters(fields, filters), query::visibility(fields, visibility));
    let one = TermQuery::new(Term::from_field_text(fields.id, id), IndexRecordOption::Basic);
    let clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(full)), (Occur::Must, Box::new(one))];
    let searcher = index.reader().searcher();
    Ok(searcher.search(&BooleanQuery::new(clauses), &Count)? > 0)
}

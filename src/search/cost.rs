//! Query cost: what one search may ask of the index. Before a query runs, its text is parsed
//! once and held to caps — length, number of terms, nesting — and the clauses that walk the
//! term dictionary (ranges, regular expressions, `field:*`) are refused; phrase prefixes
//! (`"big bad wo"*`) stay, since tantivy expands them to at most 50 terms. While the query runs, a
//! time budget stops it — between blocks of documents, not only between segments. A query over
//! any cap is the user's to change: 422, naming the limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::query_grammar::{self, UserInputAst, UserInputLeaf};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocSet, SegmentOrdinal, SegmentReader, TERMINATED, TantivyError};

use super::SearchError;
use crate::config::SearchSettings;

/// Deepest nesting of parentheses a query may have.
pub const MAX_DEPTH: usize = 8;

/// The caps of `[search]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryCaps {
    pub max_chars: usize,
    pub max_terms: usize,
    pub budget: Duration,
}

impl Default for QueryCaps {
    fn default() -> Self {
        Self { max_chars: 1000, max_terms: 32, budget: Duration::from_secs(2) }
    }
}

impl QueryCaps {
    pub fn from_settings(settings: &SearchSettings) -> Self {
        Self {
            max_chars: settings.max_query_chars,
            max_terms: settings.max_query_terms,
            budget: Duration::from_millis(settings.query_budget_ms),
        }
    }

    /// The query text as tantivy's grammar reads it (leniently: a stray quote or bracket is
    /// text), if it is within the caps.
    pub fn parse(&self, text: &str) -> Result<UserInputAst, SearchError> {
        let chars = text.chars().count();
        if chars > self.max_chars {
            return Err(too_costly(
                "search.max_query_chars",
                format!("the query is {chars} characters long; at most {} are allowed", self.max_chars),
            ));
        }
        let (ast, _errors) = query_grammar::parse_query_lenient(text);
        let mut terms = 0;
        tally(&ast, 0, &mut terms)?;
        if terms > self.max_terms {
            return Err(too_costly(
                "search.max_query_terms",
                format!("the query has {terms} terms; at most {} are allowed", self.max_terms),
            ));
        }
        Ok(ast)
    }

    /// A budget starting now.
    pub fn start(&self) -> Budget {
        Budget { deadline: Instant::now() + self.budget, budget: self.budget, exceeded: AtomicBool::new(false) }
    }
}

fn too_costly(limit: &'static str, problem: String) -> SearchError {
    SearchError::TooCostly { limit, problem }
}

/// Count the terms of `ast` into `terms`, refusing what the platform does not run.
fn tally(ast: &UserInputAst, depth: usize, terms: &mut usize) -> Result<(), SearchError> {
    match ast {
        UserInputAst::Clause(clauses) => {
            if depth >= MAX_DEPTH {
                return Err(too_costly(
                    "max_query_depth",
                    format!("the query nests deeper than {MAX_DEPTH} levels of parentheses"),
                ));
            }
            clauses.iter().try_for_each(|(_, clause)| tally(clause, depth + 1, terms))
        }
        UserInputAst::Boost(inner, _) => tally(inner, depth, terms),
        UserInputAst::Leaf(leaf) => match leaf.as_ref() {
            UserInputLeaf::Literal(literal) => {
                *terms += words(&literal.phrase).max(1);
                Ok(())
            }
            UserInputLeaf::Set { elements, .. } => {
                *terms += elements.len();
                Ok(())
            }
            UserInputLeaf::All => Ok(()),
            UserInputLeaf::Range { .. } => Err(too_costly(
                "no_range_queries",
                "range queries are not supported; filter publication dates with `from` and `to`".into(),
            )),
            UserInputLeaf::Regex { .. } => {
                Err(too_costly("no_regex_queries", "regular expressions are not supported".into()))
            }
            UserInputLeaf::Exists { field } => {
                Err(too_costly("no_exists_queries", format!("`{field}:*` (any value) is not supported")))
            }
        },
    }
}

/// Words of a phrase, as the analyser will split it (roughly: runs of letters and digits).
fn words(phrase: &str) -> usize {
    phrase.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).count()
}

/// The time one search may take. Collectors wrapped by [`Budget::collect`] stop when it is
/// spent; [`Budget::explain`] turns the error they stop with into the 422 that names it.
pub struct Budget {
    deadline: Instant,
    budget: Duration,
    exceeded: AtomicBool,
}

/// Documents visited between two looks at the clock.
const CHECK_EVERY: usize = COLLECT_BLOCK_BUFFER_LEN * 16;

impl Budget {
    /// `Err` once the budget is spent.
    pub fn check(&self) -> tantivy::Result<()> {
        if Instant::now() < self.deadline {
            return Ok(());
        }
        self.exceeded.store(true, Ordering::Relaxed);
        Err(TantivyError::InternalError("the search exceeded its time budget".into()))
    }

    /// `collector`, stopping when the budget is spent.
    pub fn collect<C: Collector>(&self, collector: C) -> Budgeted<'_, C> {
        Budgeted { inner: collector, budget: self }
    }

    /// A search error as the caller should see it: over budget, or the index's fault.
    pub fn explain(&self, error: impl Into<SearchError>) -> SearchError {
        if self.exceeded.load(Ordering::Relaxed) {
            return too_costly(
                "search.query_budget_ms",
                format!("the query took longer than {} ms; make it more specific", self.budget.as_millis()),
            );
        }
        error.into()
    }
}

/// A collector that stops its search when the budget is spent.
pub struct Budgeted<'a, C> {
    inner: C,
    budget: &'a Budget,
}

impl<C: Collector> Collector for Budgeted<'_, C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(&self, ordinal: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<Self::Child> {
        self.inner.for_segment(ordinal, segment)
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(&self, fruits: Vec<<Self::Child as SegmentCollector>::Fruit>) -> tantivy::Result<Self::Fruit> {
        self.inner.merge_fruits(fruits)
    }

    /// Tantivy's own loop (`default_collect_segment_impl`), looking at the clock as it goes.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<<Self::Child as SegmentCollector>::Fruit> {
        self.budget.check()?;
        let mut child = self.inner.for_segment(ordinal, segment)?;
        let alive = segment.alive_bitset();
        let is_alive = |doc| alive.is_none_or(|alive| alive.is_alive(doc));
        let mut scorer = weight.scorer(segment, 1.0)?;
        if self.requires_scoring() {
            let mut doc = scorer.doc();
            let mut visited = 0;
            while doc != TERMINATED {
                if is_alive(doc) {
                    child.collect(doc, scorer.score());
                }
                visited += 1;
                if visited % CHECK_EVERY == 0 {
                    self.budget.check()?;
                }
                doc = scorer.advance();
            }
        } else {
            let mut buffer = [0; COLLECT_BLOCK_BUFFER_LEN];
            let mut visited = 0;
            loop {
                let filled = scorer.fill_buffer(&mut buffer);
                let docs = &buffer[..filled];
                if alive.is_some() {
                    docs.iter().filter(|doc| is_alive(**doc)).for_each(|doc| child.collect(*doc, 0.0));
                } else {
                    child.collect_block(docs);
                }
                if filled < buffer.len() {
                    break;
                }
                visited += filled;
                if visited % CHECK_EVERY == 0 {
                    self.budget.check()?;
                }
            }
        }
        Ok(child.harvest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> &'static str {
        match QueryCaps::default().parse(text) {
            Err(SearchError::TooCostly { limit, .. }) => limit,
            other => panic!("{text:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_queries_pass() {
        let caps = QueryCaps::default();
        for text in [
            "",
            "beograd droga",
            "\"organised crime\" AND (Skopje OR Београд) -weapons",
            "title:report^2 summary:\"трговина људима\"",
            "\"big bad wo\"*",
            "stray \" quote ( bracket",
            "*",
        ] {
            caps.parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
    }

    #[test]
    fn each_cap_is_named() {
        assert_eq!(refused(&"a".repeat(1001)), "search.max_query_chars");
        assert_eq!(refused(&"ж".repeat(1001)), "search.max_query_chars", "characters, not bytes");
        let many: Vec<String> = (0..33).map(|n| format!("w{n}")).collect();
        assert_eq!(refused(&many.join(" ")), "search.max_query_terms");
        assert_eq!(refused(&format!("\"{}\"", many.join(" "))), "search.max_query_terms", "a phrase's words count");
        assert_eq!(refused(&format!("title: IN [{}]", many.join(" "))), "search.max_query_terms");
        assert_eq!(refused("body:[a TO z]"), "no_range_queries");
        assert_eq!(refused("published_at:>2020-01-01T00:00:00Z"), "no_range_queries");
        assert_eq!(refused("title:*"), "no_exists_queries");
        let nested = |depth: usize| format!("{}deep{}", "(a ".repeat(depth), ")".repeat(depth));
        QueryCaps::default().parse(&nested(MAX_DEPTH - 1)).expect("within the depth");
        assert_eq!(refused(&nested(MAX_DEPTH + 1)), "max_query_depth");
        assert_eq!(refused(&nested(240)), "max_query_depth", "the parser survives it");
        let (left, right) = ("(".repeat(495), ")".repeat(495));
        QueryCaps::default().parse(&format!("{left}deep{right}")).expect("redundant parentheses are one clause");
    }

    #[test]
    fn thirty_two_terms_are_allowed() {
        let many: Vec<String> = (0..32).map(|n| format!("w{n}")).collect();
        QueryCaps::default().parse(&many.join(" ")).expect("at the cap");
    }

    #[test]
    fn a_spent_budget_stops_and_names_itself() {
        let caps = QueryCaps { budget: Duration::ZERO, ..QueryCaps::default() };
        let budget = caps.start();
        assert!(budget.check().is_err());
        match budget.explain(TantivyError::InternalError("stopped".into())) {
            SearchError::TooCostly { limit, .. } => assert_eq!(limit, "search.query_budget_ms"),
            other => panic!("{other:?}"),
        }
        let fresh = QueryCaps::default().start();
        assert!(matches!(fresh.explain(TantivyError::InternalError("x".into())), SearchError::Index(_)));
    }
}

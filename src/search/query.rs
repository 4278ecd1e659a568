//! Building the tantivy query: the user's words, the user's filters, and — always — the policy
//! filter compiled from `policy::search_filter`, as non-scoring clauses of one BooleanQuery so
//! that hits, totals and facet counts only ever include visible documents.

use std::ops::Bound;

use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, EnableScoring, Occur, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DateTime, Term};

use super::SearchError;
use super::cost::QueryCaps;
use super::exclusion::{guard_exclusions, unboost_groups};
use super::index::SearchIndex;
use super::schema::Fields;
use crate::policy::{ALL_COUNTRIES, OPEN_GATE, VisibilityFilter};

/// Filters a user can set (each list is OR within, AND across).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub classification: Vec<String>,
    pub tlp: Vec<String>,
    pub country: Vec<String>,
    pub language: Vec<String>,
    pub tag: Vec<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

fn any_of(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(clauses.into_iter().map(|q| (Occur::Should, q)).collect()))
}

fn all_of(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(clauses.into_iter().map(|q| (Occur::Must, q)).collect()))
}

/// The policy as a query: rank ≤ clearance ∧ (own organisation ∨ (published ∧ released to the
/// country or ALL ∧ (not RED ∨ a named recipient))). `None` (no `document:read`) matches nothing.
pub fn visibility(fields: &Fields, filter: Option<&VisibilityFilter>) -> Box<dyn Query> {
    let Some(filter) = filter else { return Box::new(EmptyQuery) };
    let rank = Box::new(RangeQuery::new(
        Bound::Unbounded,
        Bound::Included(Term::from_field_u64(fields.class_rank, u64::from(filter.max_rank()))),
    ));
    let shared = all_of(vec![
        term(fields.status, filter.published()),
        any_of(vec![term(fields.release, filter.country()), term(fields.release, ALL_COUNTRIES)]),
        any_of(vec![term(fields.red_gate, OPEN_GATE), term(fields.red_gate, filter.subject_gate())]),
    ]);
    all_of(vec![rank, any_of(vec![term(fields.org, filter.organisation()), shared])])
}

/// `visible` without the documents `excluded` (changed after the index's position): applied to
/// the visibility query, so they are left out of hits, totals, facets and ranking statistics.
pub fn without(fields: &Fields, visible: Box<dyn Query>, excluded: &[String]) -> Box<dyn Query> {
    if excluded.is_empty() {
        return visible;
    }
    Box::new(BooleanQuery::new(vec![(Occur::Must, visible), (Occur::MustNot, ids(fields, excluded))]))
}

/// The documents of `visible` that are `excluded`: what [`without`] takes away, if anything.
pub fn left_out(fields: &Fields, visible: Box<dyn Query>, excluded: &[String]) -> Option<Box<dyn Query>> {
    (!excluded.is_empty()).then(|| all_of(vec![visible, ids(fields, excluded)]))
}

fn ids(fields: &Fields, ids: &[String]) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(ids.iter().map(|id| Term::from_field_text(fields.id, id))))
}

/// The user's filters as a query (`None` when there are none).
pub fn filters(fields: &Fields, filters: &Filters) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<Box<dyn Query>> = Vec::new();
    for (field, values) in [
        (fields.classification, &filters.classification),
        (fields.tlp, &filters.tlp),
        (fields.country, &filters.country),
        (fields.language, &filters.language),
        (fields.tag, &filters.tag),
    ] {
        if !values.is_empty() {
            clauses.push(any_of(values.iter().map(|v| term(field, v)).collect()));
        }
    }
    if filters.from.is_some() || filters.to.is_some() {
        let bound = |at: Option<chrono::DateTime<chrono::Utc>>| match at {
            Some(at) => Bound::Included(Term::from_field_date(
                fields.published_at,
                DateTime::from_timestamp_micros(at.timestamp_micros()),
            )),
            None => Bound::Unbounded,
        };
        clauses.push(Box::new(RangeQuery::new(bound(filters.from), bound(filters.to))));
    }
    (!clauses.is_empty()).then(|| all_of(clauses))
}

/// The user's words (empty: every document), parsed leniently — a stray quote or bracket is
/// read as text rather than refused — and held to the query caps.
pub fn words(index: &SearchIndex, caps: &QueryCaps, text: &str) -> Result<Box<dyn Query>, SearchError> {
    let ast = caps.parse(text)?;
    if text.trim().is_empty() {
        return Ok(Box::new(AllQuery));
    }
    let (query, _errors) = index.query_parser().build_query_from_user_input_ast_lenient(unboost_groups(ast));
    let query = guard_exclusions(query);
    // The lenient parser accepts what the index cannot run (`title:*` on a field without a
    // fast column): that is the user's query at fault, not the index.
    query
        .weight(EnableScoring::disabled_from_schema(&index.index().schema()))
        .map_err(|error| SearchError::InvalidQuery(error.to_string()))?;
    Ok(query)
}

/// Words, filtered by the user's filters and by the policy (the last two never score).
pub fn full(words: Box<dyn Query>, filters: Option<Box<dyn Query>>, visibility: Box<dyn Query>) -> BooleanQuery {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Must, words), (Occur::Must, Box::new(ConstScoreQuery::new(visibility, 0.0)))];
    if let Some(filters) = filters {
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filters, 0.0))));
    }
    BooleanQuery::new(clauses)
}

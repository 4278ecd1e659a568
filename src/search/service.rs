//! `GET /api/v1/search`: the query runs with the policy compiled into it, and without the
//! documents changed after this replica's index position (their indexed state may be stale: they
//! are neither counted, ranked, faceted nor returned until the follower has applied them); every
//! hit is checked again against the database with `policy::decide` before it is returned (a
//! mismatch would be a bug: it is dropped, counted and recorded), and the search is audited.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::{Value, json};
use tantivy::collector::{Count, TopDocs};
use tantivy::schema::Value as _;
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order, TantivyDocument};

use super::SearchError;
use super::cost::QueryCaps;
use super::facets::{FacetCollector, Facets};
use super::follower::FeedState;
use super::index::SearchIndex;
use super::query::{self, Filters};
use super::request::{MAX_OFFSET, SearchRequest, Sort, encode_cursor};
use super::statistics::{Scope, VisibleStatistics};
use crate::audit::{self, NewEvent, Outcome};
use crate::caller::Caller;
use crate::db::documents::read;
use crate::db::entities::document;
use crate::policy::{Action, Markings, PolicyConfig, decide, search_filter};
use crate::throttle::{Limit, Throttle};

const SNIPPET_CHARS: usize = 240;
/// Most changed documents a search leaves out; further behind, it is refused (503) — the
/// replica is not ready then either, so a load balancer sends searches elsewhere.
const MAX_EXCLUDED: u64 = 10_000;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: String,
    pub title: String,
    /// HTML: matches wrapped in `<mark>`, everything else escaped.
    pub snippet: String,
    pub markings: Markings,
    pub originator_country: String,
    pub language: String,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    pub score: f32,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub total: u64,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    pub next_cursor: Option<String>,
}

/// One hit as the index returned it, before the database re-check.
pub struct Candidate {
    pub id: String,
    pub score: f32,
    pub snippet: String,
    language: String,
}

/// What [`execute`] found.
pub struct Found {
    pub total: u64,
    pub candidates: Vec<Candidate>,
    pub facets: Facets,
}

#[derive(Clone)]
pub struct Service {
    index: SearchIndex,
    db: DatabaseConnection,
    audit: audit::Log,
    policy: Arc<PolicyConfig>,
    throttle: Throttle,
    caps: QueryCaps,
    feed: Arc<FeedState>,
    dropped_hits: Counter,
}

impl Service {
    pub fn new(
        index: SearchIndex,
        db: DatabaseConnection,
        audit: audit::Log,
        policy: Arc<PolicyConfig>,
        throttle: Throttle,
        caps: QueryCaps,
        feed: Arc<FeedState>,
    ) -> Self {
        Self { index, db, audit, policy, throttle, caps, feed, dropped_hits: Counter::default() }
    }

    /// Count of hits the index admitted but the database re-check refused.
    pub fn dropped_hits(&self) -> Counter {
        self.dropped_hits.clone()
    }

    pub async fn search(&self, caller: &Caller, request: SearchRequest) -> Result<SearchResponse, SearchError> {
        // Over the rate: refused before any work (counted in /metrics, not audited).
        self.throttle.check(Limit::Searches, &caller.principal.sub).await.map_err(SearchError::Throttled)?;
        let filter = search_filter(&caller.principal);
        // The position first, then (in `execute`) the searcher, which is at least as far.
        let applied = self.feed.applied();
        if applied < 0 {
            return Err(SearchError::CatchingUp);
        }
        let excluded =
            crate::db::feed::changed_after(&self.db, applied, MAX_EXCLUDED).await?.ok_or(SearchError::CatchingUp)?;
        let index = self.index.clone();
        let (run, caps) = (request.clone(), self.caps);
        let found = tokio::task::spawn_blocking(move || execute(&index, filter.as_ref(), &excluded, &run, &caps))
            .await
            .map_err(|e| SearchError::Index(e.to_string()))??;

        // Defence in depth: every hit is decided again on the database's current state.
        let ids: Vec<String> = found.candidates.iter().map(|c| c.id.clone()).collect();
        let rows: HashMap<String, document::Model> = document::Entity::find()
            .filter(document::Column::Id.is_in(ids.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect();
        let mut hits = Vec::with_capacity(found.candidates.len());
        let mut dropped = Vec::new();
        for candidate in found.candidates {
            let facts = rows.get(&candidate.id).and_then(|row| read(row, &self.policy).map(|r| (row, r.facts)));
            match facts {
                Some((row, facts)) if decide(&caller.principal, &facts, Action::See).is_allowed() => hits.push(Hit {
                    id: candidate.id,
                    title: row.title.clone(),
                    snippet: candidate.snippet,
                    markings: facts.markings,
                    originator_country: row.originator_country.clone(),
                    language: candidate.language,
                    published_at: row.published_at,
                    score: candidate.score,
                }),
                _ => {
                    self.dropped_hits.inc();
                    tracing::warn!(document = %candidate.id, "search hit refused by the database re-check; dropped");
                    dropped.push(candidate.id);
                }
            }
        }
        let shown = request.offset + hits.len() + dropped.len();
        let next_cursor =
            (shown < found.total as usize && shown < MAX_OFFSET && hits.len() + dropped.len() == request.limit)
                .then(|| encode_cursor(shown));
        // Hits refused by the re-check (the index is behind a change) are not counted either.
        let total = found.total.saturating_sub(dropped.len() as u64);
        let returned: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        self.audit
            .record(NewEvent::of(caller, audit::Action::SearchQuery, Outcome::Allowed).details(json!({
                "query": request.q,
                "filters": describe(&request.filters),
                "sort": request.sort_name(),
                "offset": request.offset,
                "total": total,
                "ids": returned,
                "dropped": dropped,
            })))
            .await?;
        Ok(SearchResponse { total, hits, facets: found.facets, next_cursor })
    }
}

fn describe(filters: &Filters) -> Value {
    json!({
        "classification": filters.classification, "tlp": filters.tlp, "country": filters.country,
        "language": filters.language, "tag": filters.tag,
        "from": filters.from.map(|t| t.to_rfc3339()), "to": filters.to.map(|t| t.to_rfc3339()),
    })
}

/// The search itself (blocking: run it off the async workers). Public for the benchmark and
/// the fuzz targets; the service is the way in for everything else.
/// `excluded`: ids of documents the index may hold in a stale state (see the module's note).
pub fn execute(
    index: &SearchIndex,
    filter: Option<&crate::policy::VisibilityFilter>,
    excluded: &[String],
    request: &SearchRequest,
    caps: &QueryCaps,
) -> Result<Found, SearchError> {
    let fields = index.fields();
    let searcher = index.reader().searcher();
    let words = query::words(index, caps, &request.q)?;
    let policy = query::visibility(fields, filter);
    let left_out = query::left_out(fields, policy.box_clone(), excluded);
    let visible = query::without(fields, policy.box_clone(), excluded);
    let full = query::full(words.box_clone(), query::filters(fields, &request.filters), visible);
    let budget = caps.start();
    // Scores and snippet weights from the visible documents only (see `statistics`).
    let scope = Scope { visible: &*policy, filter, left_out: left_out.as_deref() };
    let statistics = VisibleStatistics::new(&searcher, scope, index.statistics(), &budget);

    let window = TopDocs::with_limit(request.limit.max(1)).and_offset(request.offset);
    let (addresses, total, facets): (Vec<(f32, DocAddress)>, usize, Facets) = match request.sort {
        Sort::Relevance => searcher
            .search_with_statistics_provider(
                &full,
                &budget.collect((window.order_by_score(), Count, FacetCollector)),
                &statistics,
            )
            .map_err(|e| budget.explain(e))?,
        Sort::Date => {
            let by_date = window.order_by_fast_field::<tantivy::DateTime>("published_at", Order::Desc);
            let (dated, total, facets) = searcher
                .search(&full, &budget.collect((by_date, Count, FacetCollector)))
                .map_err(|e| budget.explain(e))?;
            (dated.into_iter().map(|(_, address)| (0.0, address)).collect(), total, facets)
        }
    };

    let mut snippets = statistics.snippet_generator(&*words, fields.body).map_err(|e| budget.explain(e))?;
    snippets.set_max_num_chars(SNIPPET_CHARS);
    let mut title_snippets = statistics.snippet_generator(&*words, fields.title).map_err(|e| budget.explain(e))?;
    title_snippets.set_max_num_chars(SNIPPET_CHARS);
    let mut candidates = Vec::with_capacity(addresses.len());
    for (score, address) in addresses {
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        candidates.push(Candidate {
            id: text(fields.id),
            score,
            snippet: snippet_of(&doc, &snippets, &title_snippets, &text(fields.summary), &text(fields.body)),
            language: text(fields.language),
        });
    }
    Ok(Found { total: total as u64, candidates, facets })
}

fn snippet_of(
    doc: &TantivyDocument,
    body: &SnippetGenerator,
    title: &SnippetGenerator,
    summary: &str,
    text: &str,
) -> String {
    for generator in [body, title] {
        let mut snippet = generator.snippet_from_doc(doc);
        if !snippet.highlighted().is_empty() {
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            return snippet.to_html();
        }
    }
    // No word matched (a filter-only search): the start of the summary or text, escaped.
    let start = if summary.is_empty() { text } else { summary };
    minijinja::HtmlEscape(&start.chars().take(SNIPPET_CHARS).collect::<String>()).to_string()
}

//! Security trimming, property-tested: for generated documents, principals and queries, search
//! (hits, total and every facet count) equals the brute-force visible set — `policy::decide`
//! applied to every document, then the query and filters matched by hand.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::cost::QueryCaps;
use super::document::IndexEntry;
use super::index::SearchIndex;
use super::query::Filters;
use super::request::{SearchRequest, Sort};
use super::service::execute;
use crate::policy::{
    Action, Capability, DocumentMarkings, Ladder, Markings, MarkingsInput, PolicyConfig, Principal, Status, Tlp,
    decide, search_filter,
};

const LEVELS: [&str; 4] = ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"];
const COUNTRIES: [&str; 4] = ["AL", "RS", "MK", "EU"];
const ORGS: [&str; 3] = ["AL-ASP", "RS-MUP", "EUROPOL"];
const SUBS: [&str; 3] = ["u1", "u2", "u3"];
/// Words in Cyrillic and Latin spellings: the analyser must make them meet.
const WORDS: [(&str, &str); 5] = [
    ("Београд", "beograd"),
    ("Ђорђевић", "djordjevic"),
    ("Shqipëri", "shqiperi"),
    ("дрога", "droga"),
    ("Skopje", "скопје"),
];
const TAGS: [&str; 3] = ["drugs", "weapons", "cyber"];

fn config() -> PolicyConfig {
    let levels: Vec<String> = LEVELS.map(String::from).to_vec();
    PolicyConfig {
        ladder: Ladder::new(&levels, "CONFIDENTIAL").expect("ladder"),
        countries: COUNTRIES.iter().map(|c| c.to_string()).collect(),
    }
}

#[derive(Clone, Debug)]
struct GeneratedDoc {
    facts: DocumentMarkings,
    words: BTreeSet<usize>,
    tag: usize,
}

fn arb_doc() -> impl Strategy<Value = GeneratedDoc> {
    (
        0..LEVELS.len(),
        prop::sample::select(Tlp::ALL.to_vec()),
        prop_oneof![
            1 => Just(vec!["ALL".to_owned()]),
            3 => prop::sample::subsequence(COUNTRIES.to_vec(), 1..=2).prop_map(|c| c.into_iter().map(String::from).collect()),
        ],
        prop::sample::subsequence(SUBS.to_vec(), 1..=2),
        (0..ORGS.len(), 0..COUNTRIES.len()),
        prop::sample::select(Status::ALL.to_vec()),
        prop::collection::btree_set(0..WORDS.len(), 1..=3),
        0..TAGS.len(),
    )
        .prop_map(|(level, tlp, releasable, recipients, (org, country), status, words, tag)| {
            let input = MarkingsInput {
                classification: LEVELS[level].into(),
                tlp: tlp.as_str().into(),
                handling_code: "H1".into(),
                handling_note: None,
                releasable_to: releasable,
                recipients: if tlp == Tlp::Red { recipients.into_iter().map(String::from).collect() } else { vec![] },
            };
            let facts = DocumentMarkings {
                markings: Markings::restore(&input, &config(), COUNTRIES[country]).expect("valid"),
                originator_org: ORGS[org].into(),
                originator_country: COUNTRIES[country].into(),
                status,
            };
            GeneratedDoc { facts, words, tag }
        })
}

fn arb_principal() -> impl Strategy<Value = Principal> {
    (
        prop::sample::select(SUBS.to_vec()),
        prop::sample::select(ORGS.to_vec()),
        prop::sample::select(vec!["AL", "RS", "MK", "EU", "DE"]),
        0..LEVELS.len(),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(sub, org, country, clearance, read)| Principal {
            sub: sub.into(),
            name: sub.into(),
            organisation: org.into(),
            country: country.into(),
            clearance: config().ladder.parse(LEVELS[clearance]).expect("level"),
            roles: vec![],
            capabilities: if read { [Capability::DocumentRead].into() } else { Default::default() },
            email: None,
        })
}

/// A query: one word in either spelling (or none), and maybe a TLP or tag filter.
#[derive(Clone, Debug)]
struct GeneratedQuery {
    word: Option<(usize, bool)>,
    tlp: Option<Tlp>,
    tag: Option<usize>,
}

fn arb_query() -> impl Strategy<Value = GeneratedQuery> {
    (
        prop::option::weighted(0.8, (0..WORDS.len(), any::<bool>())),
        prop::option::weighted(0.3, prop::sample::select(Tlp::ALL.to_vec())),
        prop::option::weighted(0.3, 0..TAGS.len()),
    )
        .prop_map(|(word, tlp, tag)| GeneratedQuery { word, tlp, tag })
}

fn build_index(docs: &[GeneratedDoc]) -> SearchIndex {
    build_index_of(docs.iter().enumerate())
}

/// An index of the numbered documents (document n is `doc-n`, in Cyrillic when n is even).
fn build_index_of<'a>(docs: impl Iterator<Item = (usize, &'a GeneratedDoc)>) -> SearchIndex {
    let index = SearchIndex::in_memory().expect("index");
    let mut writer: tantivy::IndexWriter = index.index().writer_with_num_threads(1, 15_000_000).expect("writer");
    add_documents(&index, &mut writer, docs);
    index
}

/// Add the numbered documents as one commit (one more segment).
fn add_documents<'a>(
    index: &SearchIndex,
    writer: &mut tantivy::IndexWriter,
    docs: impl Iterator<Item = (usize, &'a GeneratedDoc)>,
) {
    for (n, doc) in docs {
        let body: Vec<&str> = doc.words.iter().map(|w| if n % 2 == 0 { WORDS[*w].0 } else { WORDS[*w].1 }).collect();
        let entry = IndexEntry {
            id: format!("doc-{n}"),
            revision: 1,
            text_version: 1,
            title: format!("Report {n}"),
            summary: String::new(),
            body: body.join(" … "),
            tags: vec![TAGS[doc.tag].to_owned()],
            language: if n % 2 == 0 { "sr".into() } else { "sq".into() },
            facts: doc.facts.clone(),
            published_at: Some(chrono::Utc::now()),
        };
        writer.add_document(entry.to_document(index.fields())).expect("add");
    }
    writer.commit().expect("commit");
    index.reader().reload().expect("reload");
}

/// Delete the numbered documents as one commit.
fn delete_documents(index: &SearchIndex, writer: &mut tantivy::IndexWriter, numbers: &[usize]) {
    for n in numbers {
        writer.delete_term(tantivy::Term::from_field_text(index.fields().id, &format!("doc-{n}")));
    }
    writer.commit().expect("commit");
    index.reader().reload().expect("reload");
}

/// Hits of `request` as (id, score bits, snippet), sorted: what ranking decides.
fn ranked(
    index: &SearchIndex,
    principal: &Principal,
    excluded: &[String],
    request: &SearchRequest,
) -> Vec<(String, u32, String)> {
    let filter = search_filter(principal);
    let found = execute(index, filter.as_ref(), excluded, request, &QueryCaps::default()).expect("search");
    let mut hits: Vec<(String, u32, String)> =
        found.candidates.into_iter().map(|c| (c.id, c.score.to_bits(), c.snippet)).collect();
    hits.sort();
    hits
}

/// Two words, so that their relative rarity decides the order.
fn two_words(query: &GeneratedQuery, extra_word: usize) -> String {
    match query.word {
        Some((w, cyrillic)) => format!("{} OR {}", if cyrillic { WORDS[w].0 } else { WORDS[w].1 }, WORDS[extra_word].1),
        None => WORDS[extra_word].0.to_owned(),
    }
}

fn expected(docs: &[GeneratedDoc], principal: &Principal, query: &GeneratedQuery) -> BTreeSet<usize> {
    docs.iter()
        .enumerate()
        .filter(|(_, d)| decide(principal, &d.facts, Action::See).is_allowed())
        .filter(|(_, d)| query.word.is_none_or(|(w, _)| d.words.contains(&w)))
        .filter(|(_, d)| query.tlp.is_none_or(|t| d.facts.markings.tlp() == t))
        .filter(|(_, d)| query.tag.is_none_or(|t| d.tag == t))
        .map(|(n, _)| n)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn search_counts_and_shows_exactly_the_visible_documents(
        docs in prop::collection::vec(arb_doc(), 1..25),
        probes in prop::collection::vec((arb_principal(), arb_query()), 1..6),
        stale in prop::collection::vec(prop::bool::weighted(0.2), 25),
    ) {
        let index = build_index(&docs);
        // Documents changed after the index's position (a lagging replica): never counted.
        let excluded: Vec<String> = (0..docs.len()).filter(|n| stale[*n]).map(|n| format!("doc-{n}")).collect();
        for (principal, query) in probes {
            let request = SearchRequest {
                q: query.word.map(|(w, cyrillic)| if cyrillic { WORDS[w].0 } else { WORDS[w].1 }.to_owned()).unwrap_or_default(),
                filters: Filters {
                    tlp: query.tlp.map(|t| vec![t.as_str().to_owned()]).unwrap_or_default(),
                    tag: query.tag.map(|t| vec![TAGS[t].to_owned()]).unwrap_or_default(),
                    ..Filters::default()
                },
                sort: Sort::Relevance,
                limit: 100,
                offset: 0,
            };
            let filter = search_filter(&principal);
            let found = execute(&index, filter.as_ref(), &excluded, &request, &QueryCaps::default()).expect("search");
            let want: BTreeSet<usize> = expected(&docs, &principal, &query).into_iter().filter(|n| !stale[*n]).collect();
            let hits: BTreeSet<usize> = found
                .candidates
                .iter()
                .map(|c| c.id.trim_start_matches("doc-").parse().expect("n"))
                .collect();
            prop_assert_eq!(&hits, &want, "hits for {:?} / {:?}", principal, query);
            prop_assert_eq!(found.total, want.len() as u64);
            let mut tlp_counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut tag_counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut level_counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut country_counts: BTreeMap<String, u64> = BTreeMap::new();
            for n in &want {
                let facts = &docs[*n].facts;
                *tlp_counts.entry(facts.markings.tlp().as_str().to_owned()).or_default() += 1;
                *tag_counts.entry(TAGS[docs[*n].tag].to_owned()).or_default() += 1;
                *level_counts.entry(facts.markings.classification().name().to_owned()).or_default() += 1;
                *country_counts.entry(facts.originator_country.clone()).or_default() += 1;
            }
            prop_assert_eq!(&found.facets.tlp, &tlp_counts);
            prop_assert_eq!(&found.facets.tag, &tag_counts);
            prop_assert_eq!(&found.facets.classification, &level_counts);
            prop_assert_eq!(&found.facets.country, &country_counts);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Scores, order and snippets do not depend on documents the caller may not see: they are
    /// the same as in an index holding only the caller's visible documents.
    #[test]
    fn ranking_ignores_hidden_documents(
        docs in prop::collection::vec(arb_doc(), 1..25),
        (principal, query) in (arb_principal(), arb_query()),
        extra_word in 0..WORDS.len(),
    ) {
        let visible: Vec<usize> = (0..docs.len())
            .filter(|n| decide(&principal, &docs[*n].facts, Action::See).is_allowed())
            .collect();
        let full_index = build_index(&docs);
        let visible_index = build_index_of(visible.iter().map(|n| (*n, &docs[*n])));
        let q = two_words(&query, extra_word);
        let request = SearchRequest { q, filters: Filters::default(), sort: Sort::Relevance, limit: 100, offset: 0 };
        prop_assert_eq!(ranked(&full_index, &principal, &[], &request), ranked(&visible_index, &principal, &[], &request));
    }

    /// The statistics kept between searches (per segment and filter) stay exact while the index
    /// changes: over several commits, deletions and documents left out as stale, each search —
    /// with the cache cold or warm — ranks as an index of only what it may count would.
    #[test]
    fn kept_statistics_follow_commits_deletions_and_left_out_documents(
        docs in prop::collection::vec(arb_doc(), 2..30),
        (principals, query) in (prop::collection::vec(arb_principal(), 2), arb_query()),
        extra_word in 0..WORDS.len(),
        split in 1usize..30,
        deleted in prop::collection::vec(prop::bool::weighted(0.2), 30),
        stale in prop::collection::vec(prop::bool::weighted(0.2), 30),
    ) {
        let split = split.min(docs.len() - 1);
        let request = SearchRequest { q: two_words(&query, extra_word), filters: Filters::default(), sort: Sort::Relevance, limit: 100, offset: 0 };
        let excluded: Vec<String> = (0..docs.len()).filter(|n| stale[*n]).map(|n| format!("doc-{n}")).collect();
        let index = SearchIndex::in_memory().expect("index");
        let mut writer: tantivy::IndexWriter = index.index().writer_with_num_threads(1, 15_000_000).expect("writer");
        // Only the documents in the index, neither deleted nor left out, that `principal` may see.
        let counted = |principal: &Principal, present: &dyn Fn(usize) -> bool, excluded: &[String]| {
            let kept: Vec<usize> = (0..docs.len())
                .filter(|n| present(*n) && !excluded.contains(&format!("doc-{n}")))
                .filter(|n| decide(principal, &docs[*n].facts, Action::See).is_allowed())
                .collect();
            build_index_of(kept.iter().map(|n| (*n, &docs[*n])))
        };

        // Two principals in turn: what one's searches keep must never serve the other's.
        add_documents(&index, &mut writer, docs.iter().enumerate().take(split));
        for _cold_then_warm in 0..2 {
            for principal in &principals {
                let first = counted(principal, &|n| n < split, &[]);
                prop_assert_eq!(ranked(&index, principal, &[], &request), ranked(&first, principal, &[], &request));
            }
        }
        add_documents(&index, &mut writer, docs.iter().enumerate().skip(split));
        let gone: Vec<usize> = (0..docs.len()).filter(|n| deleted[*n]).collect();
        delete_documents(&index, &mut writer, &gone);
        for _cold_then_warm in 0..2 {
            for principal in &principals {
                let now = counted(principal, &|n| !deleted[n], &excluded);
                prop_assert_eq!(ranked(&index, principal, &excluded, &request), ranked(&now, principal, &[], &request));
            }
        }
    }
}

/// Searches run concurrently on searchers of different ages: statistics one kept for an older
/// view of a segment (before some of its documents were deleted) must never serve a newer one.
#[test]
fn statistics_kept_for_an_older_searcher_never_serve_a_newer_one() {
    use tantivy::query::{AllQuery, Bm25StatisticsProvider};

    use super::statistics::{Scope, VisibleStatistics};

    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let docs: Vec<GeneratedDoc> =
        (0..6).map(|_| arb_doc().new_tree(&mut runner).expect("generated").current()).collect();
    let index = SearchIndex::in_memory().expect("index");
    let mut writer: tantivy::IndexWriter = index.index().writer_with_num_threads(1, 15_000_000).expect("writer");
    add_documents(&index, &mut writer, docs.iter().enumerate());
    let older = index.reader().searcher();
    delete_documents(&index, &mut writer, &[0, 1]);
    let newer = index.reader().searcher();
    assert_eq!(older.segment_readers().len(), newer.segment_readers().len(), "deletions keep the segment");

    let budget = QueryCaps::default().start();
    let scope = || Scope { visible: &AllQuery, filter: None, left_out: None };
    // The newer search starts first, then the older one counts and keeps its numbers.
    let newer_statistics = VisibleStatistics::new(&newer, scope(), index.statistics(), &budget);
    let older_statistics = VisibleStatistics::new(&older, scope(), index.statistics(), &budget);
    assert_eq!(older_statistics.total_num_docs().expect("older count"), 6);
    assert_eq!(newer_statistics.total_num_docs().expect("newer count"), 4, "the older searcher's count served");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    /// A search whose time budget is spent stops, and says which limit stopped it.
    #[test]
    fn a_search_stops_when_its_budget_is_spent(docs in prop::collection::vec(arb_doc(), 1..10), principal in arb_principal()) {
        let index = build_index(&docs);
        let filter = search_filter(&principal);
        let request = SearchRequest { q: WORDS[0].1.to_owned(), ..SearchRequest::default() };
        let spent = QueryCaps { budget: std::time::Duration::ZERO, ..QueryCaps::default() };
        match execute(&index, filter.as_ref(), &[], &request, &spent) {
            Err(super::SearchError::TooCostly { limit, .. }) => prop_assert_eq!(limit, "search.query_budget_ms"),
            Err(other) => prop_assert!(false, "{other}"),
            Ok(_) => prop_assert!(false, "the search ran past its budget"),
        }
        prop_assert!(execute(&index, filter.as_ref(), &[], &request, &QueryCaps::default()).is_ok());
    }
}

//! The search query parser and the query it builds: any query string (`q`, filters, sort,
//! limit, cursor) is parsed, held to the query caps and run against a small index through the
//! policy filter — it answers or is refused, never panics; and what it finds is visible.
#![no_main]

mod common;

use std::sync::OnceLock;

use anaspoc::policy::{
    Action, DocumentMarkings, MarkingsInput, PolicyConfig, Principal, Status, decide, search_filter,
};
use anaspoc::search::service::execute;
use anaspoc::search::{IndexEntry, QueryCaps, SearchIndex, SearchRequest};
use libfuzzer_sys::fuzz_target;

struct World {
    index: SearchIndex,
    principal: Principal,
    facts: Vec<DocumentMarkings>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let policy: PolicyConfig = common::policy();
        let author = common::analyst(&policy, "RS", "MUP", "RESTRICTED");
        let index = SearchIndex::in_memory().expect("index");
        let mut writer: tantivy::IndexWriter = index.index().writer_with_num_threads(1, 15_000_000).expect("writer");
        let texts = [
            (
                "Трговина људима у Београду",
                "Извештај о трговини људима, Београд и Ниш",
                "SENSITIVE",
                "AMBER",
                vec!["BA", "ME"],
                Status::Published,
            ),
            (
                "Droga në Shqipëri",
                "Raport mbi trafikun e drogës në Tiranë",
                "RESTRICTED",
                "RED",
                vec!["AL"],
                Status::Published,
            ),
            (
                "Organised crime in Skopje",
                "Cross-border smuggling, weapons and cyber",
                "UNCLASSIFIED",
                "CLEAR",
                vec!["ALL"],
                Status::Draft,
            ),
            (
                "Оружје и кријумчарење",
                "Кријумчарење оружја преко границе",
                "SENSITIVE",
                "GREEN",
                vec!["MK", "RS"],
                Status::Withdrawn,
            ),
        ];
        let mut facts = Vec::new();
        for (n, (title, body, classification, tlp, releasable, status)) in texts.into_iter().enumerate() {
            let markings = MarkingsInput {
                classification: classification.into(),
                tlp: tlp.into(),
                handling_code: "H1".into(),
                handling_note: None,
                releasable_to: releasable.into_iter().map(String::from).collect(),
                recipients: if tlp == "RED" { vec!["MUP-analyst".into()] } else { vec![] },
            }
            .validate(&policy, &author, "RS")
            .expect("valid markings");
            let document = DocumentMarkings {
                markings,
                originator_org: if n % 2 == 0 { "MUP".into() } else { "ASP".into() },
                originator_country: if n % 2 == 0 { "RS".into() } else { "AL".into() },
                status,
            };
            let entry = IndexEntry {
                id: format!("doc-{n}"),
                revision: 1,
                text_version: 1,
                title: title.into(),
                summary: String::new(),
                body: body.into(),
                tags: vec!["drugs".into()],
                language: "sr".into(),
                facts: document.clone(),
                published_at: Some(chrono::Utc::now()),
            };
            writer.add_document(entry.to_document(index.fields())).expect("add");
            facts.push(document);
        }
        writer.commit().expect("commit");
        index.reader().reload().expect("reload");
        let principal = common::analyst(&policy, "BA", "SIPA", "SENSITIVE");
        World { index, principal, facts }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(query_string) = std::str::from_utf8(data) else { return };
    let world = world();
    let Ok(request) = SearchRequest::parse(query_string) else { return };
    let caps = QueryCaps::default();
    let filter = search_filter(&world.principal);
    if let Ok(found) = execute(&world.index, filter.as_ref(), &[], &request, &caps) {
        // Whatever the query, only what the analyst may see comes back.
        for candidate in &found.candidates {
            let n: usize = candidate.id.trim_start_matches("doc-").parse().expect("an id of this index");
            assert!(decide(&world.principal, &world.facts[n], Action::See).is_allowed(), "{query_string:?} found {n}");
        }
        assert!(found.total <= world.facts.len() as u64);
    }
});

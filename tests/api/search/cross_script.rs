//! The search API: scripts and spellings meet, snippets keep the original script and escape
//! everything but `<mark>`, query syntax, filters, facets, sorting, paging — and nobody sees,
//! counts or infers a document they may not read.

use serde_json::{Value, json};

use super::{hit_ids, q, search, wait_until_ingested};
use crate::documents::{create, metadata, patch, post, problem, with};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(scripts_spellings_and_syntax, filters_facets_sorting_and_paging, search_is_security_trimmed);

async fn upload_text(app: &TestApp, token: &str, title: &str, text: &str, changes: Value) -> String {
    let created = create(app, token, &with(metadata(title), changes), text.as_bytes()).await;
    let id = created["id"].as_str().expect("id").to_owned();
    wait_until_ingested(app, token, &id).await;
    id
}

async fn scripts_spellings_and_syntax(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let all = json!({"releasable_to": ["ALL"]});
    let cyrillic = upload_text(
        &app,
        &rs,
        "Извештај",
        "Мрежа Ђорђа Ђорђевића у Београду шверцује кокаин преко луке Бар.",
        all.clone(),
    )
    .await;
    let latin = upload_text(
        &app,
        &rs,
        "Izvještaj",
        "Djordjevic je viđen u Beogradu; organizovani kriminal i pranje novca.",
        all.clone(),
    )
    .await;
    let albanian = upload_text(
        &app,
        &rs,
        "Raport",
        "Grupi kriminal vepron në Shqipëri dhe në Kosovë, trafik kokaine.",
        all.clone(),
    )
    .await;
    let hostile = upload_text(
        &app,
        &rs,
        "Injection <b>test</b>",
        "Zaplena <script>alert('x')</script> kokaina u luci.",
        all.clone(),
    )
    .await;
    let me = app.token("analyst-me").await;

    let find = |query: &'static str| {
        let app = &app;
        let me = me.clone();
        async move { hit_ids(&search(app, &me, &format!("q={}", q(query))).await) }
    };
    for query in ["Београд", "Beograd", "BEOGRAD", "beogradu"] {
        let ids = find(query).await;
        assert!(ids.contains(&cyrillic) && ids.contains(&latin) && ids.len() == 2, "{query}: {ids:?}");
    }
    for query in ["Djordjevic", "Dordevic", "Ђорђевић", "Đorđević"] {
        let ids = find(query).await;
        assert!(ids.contains(&cyrillic) && ids.contains(&latin), "{query}: {ids:?}");
    }
    assert_eq!(find("shqiperi").await, std::slice::from_ref(&albanian));
    assert_eq!(find("Шћипери").await.len(), 0, "a different word is a different word");

    // Snippets show the original script, highlight with <mark>, escape everything else.
    let result = search(&app, &me, &format!("q={}", q("beograd"))).await;
    let snippet = |id: &str| {
        result["hits"].as_array().expect("hits").iter().find(|h| h["id"] == id).expect("hit")["snippet"]
            .as_str()
            .expect("snippet")
            .to_owned()
    };
    assert!(snippet(&cyrillic).contains("<mark>Београду</mark>"), "{}", snippet(&cyrillic));
    assert!(snippet(&latin).contains("<mark>Beogradu</mark>"), "{}", snippet(&latin));
    let escaped = search(&app, &me, "q=zaplena").await;
    let text = escaped["hits"][0]["snippet"].as_str().expect("snippet");
    assert!(text.contains("&lt;script&gt;") && !text.contains("<script>"), "{text}");
    assert_eq!(escaped["hits"][0]["id"], hostile.as_str());
    assert_eq!(escaped["hits"][0]["title"], "Injection <b>test</b>", "titles are data: clients escape them");

    // Query syntax: phrases, AND (default), OR, NOT, field:value.
    assert_eq!(find("\"organizovani kriminal\"").await, std::slice::from_ref(&latin));
    assert_eq!(find("\"kriminal organizovani\"").await.len(), 0);
    let both = find("kokain OR kriminal").await;
    assert_eq!(both.len(), 4, "{both:?}");
    assert_eq!(find("kokain beograd").await, std::slice::from_ref(&cyrillic), "words are ANDed");
    let without = find("kokain NOT bar").await;
    assert!(!without.contains(&cyrillic) && without.contains(&albanian), "{without:?}");
    assert_eq!(find("title:raport").await, [albanian]);
    assert_eq!(find("title:kokain").await.len(), 0);
}

async fn filters_facets_sorting_and_paging(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let mut ids = Vec::new();
    for (n, (tlp, level, tag, language)) in [
        ("GREEN", "UNCLASSIFIED", "drugs", "sr"),
        ("AMBER", "SENSITIVE", "drugs", "sr"),
        ("AMBER", "RESTRICTED", "weapons", "hr"),
        ("AMBER+STRICT", "SENSITIVE", "weapons", "sq"),
        ("CLEAR", "UNCLASSIFIED", "cyber", "en"),
    ]
    .into_iter()
    .enumerate()
    {
        let changes =
            json!({"tlp": tlp, "classification": level, "tags": [tag], "language": language, "releasable_to": ["ALL"]});
        ids.push(
            upload_text(&app, &rs, &format!("Pregled {n}"), &format!("Zajednički pregled broj {n}: granica."), changes)
                .await,
        );
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    let al = app.token("analyst-al").await; // clearance RESTRICTED
    let everything = search(&app, &al, "q=granica").await;
    assert_eq!(everything["total"], 5);
    let facets = &everything["facets"];
    assert_eq!(facets["tlp"], json!({"AMBER": 2, "AMBER+STRICT": 1, "CLEAR": 1, "GREEN": 1}));
    assert_eq!(facets["classification"], json!({"RESTRICTED": 1, "SENSITIVE": 2, "UNCLASSIFIED": 2}));
    assert_eq!(facets["tag"], json!({"cyber": 1, "drugs": 2, "weapons": 2}));
    assert_eq!(facets["language"], json!({"en": 1, "hr": 1, "sq": 1, "sr": 2}));
    assert_eq!(facets["country"], json!({"RS": 5}));

    let filtered = search(&app, &al, "q=granica&tlp=AMBER&tag=weapons").await;
    assert_eq!(hit_ids(&filtered), [ids[2].clone()]);
    assert_eq!(filtered["facets"]["tlp"], json!({"AMBER": 1}), "facets count what matches");
    let either = search(&app, &al, "q=granica&language=sq,en").await;
    assert_eq!(either["total"], 2);
    let levels = search(&app, &al, "classification=UNCLASSIFIED&country=RS").await;
    assert_eq!(levels["total"], 2, "filters without words");
    let future = search(&app, &al, "q=granica&from=2999-01-01").await;
    assert_eq!(future["total"], 0);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let dated = search(&app, &al, &format!("q=granica&from={today}&to={today}")).await;
    assert_eq!(dated["total"], 5);

    // Newest first, and pages that join up without gaps or repeats.
    let newest = search(&app, &al, "q=granica&sort=date").await;
    let order: Vec<String> = hit_ids(&newest);
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(order, reversed);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = search(&app, &al, &format!("q=granica&sort=date&limit=2&cursor={cursor}")).await;
        seen.extend(hit_ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, reversed);

    for (query, field) in [
        ("sort=newest", "sort"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("cursor=zzz", "cursor"),
        ("from=yesterday", "from"),
        ("colour=red", "colour"),
    ] {
        let body = problem(app.get_as(&al, &format!("/api/v1/search?{query}")).await, 422).await;
        assert_eq!(body["field"], field, "{query}");
    }
}

async fn search_is_security_trimmed(backend: Backend) {
    let app = TestApp::spawn_on(backend).await;
    let rs = app.token("analyst-rs").await;
    let to_ba =
        upload_text(&app, &rs, "Tajna", "Operacija Sokolar kod Zvornika.", json!({"releasable_to": ["BA"]})).await;
    let red = upload_text(
        &app,
        &rs,
        "Crveno",
        "Operacija Sokolar: izvor u Tuzli.",
        json!({"tlp": "RED", "releasable_to": ["BA"], "recipients": ["analyst-ba"]}),
    )
    .await;
    let draft = upload_text(
        &app,
        &rs,
        "Nacrt",
        "Operacija Sokolar, nacrt.",
        json!({"releasable_to": ["ALL"], "publish": false}),
    )
    .await;
    let restricted = upload_text(
        &app,
        &rs,
        "Ograničeno",
        "Operacija Sokolar, ograničeno.",
        json!({"classification": "RESTRICTED", "releasable_to": ["ALL"]}),
    )
    .await;

    let ba = app.token("analyst-ba").await; // SENSITIVE: not RESTRICTED
    let seen = search(&app, &ba, "q=sokolar").await;
    let mut ids = hit_ids(&seen);
    ids.sort();
    let mut expected = vec![to_ba.clone(), red.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(seen["total"], 2);
    assert_eq!(seen["facets"]["classification"], json!({"SENSITIVE": 2}), "facets count only what is visible");

    // Albania sees nothing of it: no hit, no count, no facet, whatever the query.
    let al = app.token("analyst-al").await;
    for query in ["q=sokolar", "q=tuzli", "", "tlp=RED", "q=title:crveno", "q=org:RS-MUP", "q=status:draft"] {
        let result = search(&app, &al, query).await;
        let leaked: Vec<String> =
            hit_ids(&result).into_iter().filter(|id| [&to_ba, &red, &draft].contains(&id)).collect();
        assert!(leaked.is_empty(), "{query}: {result}");
        assert_eq!(result["facets"]["tlp"].get("RED"), None, "{query}: {result}");
    }
    assert_eq!(search(&app, &al, "q=sokolar").await["total"], 1, "only the RESTRICTED one, released to ALL");
    assert_eq!(hit_ids(&search(&app, &al, "q=sokolar").await), std::slice::from_ref(&restricted));

    // The auditor (no document:read) finds nothing at all, and the search is audited.
    let auditor = app.token("auditor").await;
    let nothing = search(&app, &auditor, "q=sokolar").await;
    assert_eq!(nothing["total"], 0);

    // Withdrawing hides it from search at once (the database re-check), and from the index soon.
    let response = post(&app, &rs, &format!("/api/v1/documents/{to_ba}/withdraw")).await;
    assert_eq!(response.status(), 200);
    let after = search(&app, &ba, "q=sokolar").await;
    assert!(!hit_ids(&after).contains(&to_ba), "{after}");
    // Narrowing releasability does the same.
    assert_eq!(
        patch(&app, &rs, &red, &json!({"releasable_to": ["ME"], "recipients": ["analyst-me"]})).await.status(),
        200
    );
    let after = search(&app, &ba, "q=sokolar").await;
    assert!(hit_ids(&after).is_empty(), "{after}");

    let events = crate::audit::all_events(&app).await;
    let searches: Vec<_> = events.iter().filter(|e| e.action == anaspoc::audit::Action::SearchQuery).collect();
    assert!(searches.len() >= 10);
    let first = searches.iter().find(|e| e.actor.sub.as_deref() == Some("analyst-ba")).expect("ba searched");
    assert_eq!(first.details["query"], "sokolar");
    assert_eq!(first.details["total"], 2);
    assert_eq!(first.details["ids"].as_array().map(Vec::len), Some(2));
}

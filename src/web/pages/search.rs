//! `GET /`: the search page. The URL holds the whole search, so it can be bookmarked; a
//! parameter that does not parse is shown next to the results of a plain search.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde_json::{Value, json};

use super::{html_page, label, level_class, tlp_class};
use crate::search::{SearchError, SearchRequest, Service, Sort};
use crate::web::session::Viewer;
use crate::web::{WebError, WebState};

pub async fn page(
    viewer: Viewer,
    req: HttpRequest,
    state: web::Data<WebState>,
    service: web::Data<Service>,
) -> Result<HttpResponse, WebError> {
    let query = req.query_string();
    let (request, error) = match SearchRequest::parse(query) {
        Ok(request) => (request, None),
        Err(SearchError::Invalid { field, problem }) => (SearchRequest::default(), Some(format!("{field}: {problem}"))),
        Err(other) => return Err(WebError::from_service(other, viewer.lang)),
    };
    let response =
        service.search(&viewer.caller, request.clone()).await.map_err(|e| WebError::from_service(e, viewer.lang))?;
    let facet = |name: &str, counts: &BTreeMap<String, u64>, chosen: &[String]| -> Value {
        json!({
            "name": name,
            "values": counts.iter().map(|(value, count)| json!({
                "value": value,
                "label": label(&state, viewer.lang, name, value),
                "count": count,
                "checked": chosen.contains(value),
            })).collect::<Vec<_>>(),
        })
    };
    let filters = &request.filters;
    let facets = vec![
        facet("classification", &response.facets.classification, &filters.classification),
        facet("tlp", &response.facets.tlp, &filters.tlp),
        facet("country", &response.facets.country, &filters.country),
        facet("language", &response.facets.language, &filters.language),
        facet("tag", &response.facets.tag, &filters.tag),
    ];
    // Pages: the same search and filters, with or without a cursor.
    let page_link = |cursor: Option<&str>| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "cursor"));
        if let Some(cursor) = cursor {
            serializer.append_pair("cursor", cursor);
        }
        format!("/?{}", serializer.finish())
    };
    let next = response.next_cursor.as_deref().map(|cursor| page_link(Some(cursor)));
    let hits: Vec<Value> = response
        .hits
        .iter()
        .map(|hit| {
            json!({
                "id": hit.id,
                "title": hit.title,
                "snippet": hit.snippet,
                "classification": hit.markings.classification().name(),
                "classification_class": level_class(hit.markings.classification()),
                "tlp": hit.markings.tlp().as_str(),
                "tlp_class": tlp_class(hit.markings.tlp()),
                "country": label(&state, viewer.lang, "country", &hit.originator_country),
                "language": label(&state, viewer.lang, "language", &hit.language),
                "published_at": hit.published_at.map(|t| t.format("%Y-%m-%d").to_string()),
            })
        })
        .collect();
    let html = state.render(
        "search.html",
        viewer.lang,
        Some(&viewer),
        context! {
            saved_filters => [
                ("classification", &filters.classification),
                ("tlp", &filters.tlp),
                ("country", &filters.country),
                ("language", &filters.language),
                ("tag", &filters.tag),
            ]
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |value| json!({"name": name, "value": value})))
            .collect::<Vec<_>>(),
            q => request.q,
            total => response.total,
            hits => hits,
            facets => facets,
            sort => if request.sort == Sort::Date { "date" } else { "relevance" },
            from => filters.from.map(|t| t.format("%Y-%m-%d").to_string()),
            to => filters.to.map(|t| t.format("%Y-%m-%d").to_string()),
            next => next,
            first => (request.offset > 0).then(|| page_link(None)),
            error => error,
            searched => !query.is_empty(),
        },
    )?;
    Ok(html_page(html))
}

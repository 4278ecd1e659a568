//! The pages: search, document, upload and audit. Each calls the same service as the API with
//! the viewer's `Caller`, so the policy and the audit trail are the same; forms that change
//! anything carry the session's CSRF token.

use actix_multipart::{Field, Multipart};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::Viewer;
use super::{WebError, WebState, i18n};
use crate::api::audit::AuditQuery;
use crate::audit::{self, Action as AuditAction, SigningKey};
use crate::auth::Capability;
use crate::documents::{self, DocumentPatch, DocumentsError, NewDocument};
use crate::error::ApiError;
use crate::policy::{HandlingCode, Level, Tlp};
use crate::search;

/// Text fields of a form are small; anything longer is not a form field.
const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Languages an uploader can name; left empty, the language is detected from the text.
const DOCUMENT_LANGUAGES: [&str; 7] = ["sq", "sr", "sr-Latn", "bs", "hr", "mk", "en"];

fn page(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(html)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// Service errors as pages: hidden or missing is "not found", as in the API.
fn from_api(error: ApiError, lang: &'static str) -> WebError {
    match error {
        ApiError::Documents(DocumentsError::NotFound | DocumentsError::VersionNotFound(_)) | ApiError::NotFound => {
            WebError::NotFound { lang }
        }
        ApiError::Documents(DocumentsError::Forbidden(_)) | ApiError::Auth(_) => WebError::Forbidden { lang },
        other => WebError::Internal(other.to_string()),
    }
}

fn from_documents(error: DocumentsError, lang: &'static str) -> WebError {
    from_api(ApiError::Documents(error), lang)
}

// ---- search ----------------------------------------------------------------------------------

/// `GET /`: the search page; the URL holds the whole search, so it can be bookmarked.
pub async fn search(
    viewer: Viewer,
    req: HttpRequest,
    state: web::Data<WebState>,
    service: web::Data<search::Service>,
) -> Result<HttpResponse, WebError> {
    let query = req.query_string();
    let (request, error) = match crate::api::search::parse(query) {
        Ok(request) => (request, None),
        Err(ApiError::InvalidParameter { field, problem }) => (
            crate::api::search::parse("").map_err(|e| WebError::Internal(e.to_string()))?,
            Some(format!("{field}: {problem}")),
        ),
        Err(other) => return Err(WebError::Internal(other.to_string())),
    };
    let response =
        service.search(&viewer.caller, request.clone()).await.map_err(|e| WebError::Internal(e.to_string()))?;
    let facet = |name: &str, counts: &std::collections::BTreeMap<String, u64>, chosen: &[String]| -> Value {
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
            q => request.q,
            total => response.total,
            hits => hits,
            facets => facets,
            sort => if request.sort == search::Sort::Date { "date" } else { "relevance" },
            from => filters.from.map(|t| t.format("%Y-%m-%d").to_string()),
            to => filters.to.map(|t| t.format("%Y-%m-%d").to_string()),
            next => next,
            first => (request.offset > 0).then(|| page_link(None)),
            error => error,
            searched => !query.is_empty(),
        },
    )?;
    Ok(page(html))
}

fn label(state: &WebState, lang: &str, facet: &str, value: &str) -> String {
    match facet {
        "country" => catalogue_name(state, lang, &format!("countries.{value}"), value),
        "language" => catalogue_name(state, lang, &format!("languages.{value}"), value),
        _ => value.to_owned(),
    }
}

/// The catalogue's name for a code, or the code itself when the catalogue has none (a language
/// tag such as `en-GB` that the catalogues do not list).
fn catalogue_name(state: &WebState, lang: &str, key: &str, code: &str) -> String {
    let name = state.catalogues().get(lang, key);
    if name == key { code.to_owned() } else { name.to_owned() }
}

/// CSS class of a classification banner (colours in static/app.css, AA contrast).
fn level_class(level: &Level) -> String {
    format!("level-{}", level.name().to_ascii_lowercase())
}

fn tlp_class(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "tlp-clear",
        Tlp::Green => "tlp-green",
        Tlp::Amber => "tlp-amber",
        Tlp::AmberStrict => "tlp-amber-strict",
        Tlp::Red => "tlp-red",
    }
}

// ---- document --------------------------------------------------------------------------------

/// `GET /documents/{id}`: banners, markings in words, versions, and — for the originator
/// organisation — the forms that change it.
pub async fn document(
    viewer: Viewer,
    id: web::Path<String>,
    state: web::Data<WebState>,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    let view = service.get(&viewer.caller, &id).await.map_err(|e| from_documents(e, viewer.lang))?;
    Ok(page(render_document(&state, &viewer, view, None, None)?))
}

fn render_document(
    state: &WebState,
    viewer: &Viewer,
    view: documents::DocumentView,
    error: Option<(String, String)>,
    form: Option<Value>,
) -> Result<String, WebError> {
    let markings = &view.markings;
    let countries: Vec<Value> = markings
        .releasable_to()
        .codes()
        .iter()
        .map(|code| json!({"code": code, "name": label(state, viewer.lang, "country", code)}))
        .collect();
    let editable_countries: Vec<Value> = state
        .countries
        .iter()
        .map(|code| {
            json!({
                "code": code,
                "name": label(state, viewer.lang, "country", code),
                "checked": markings.releasable_to().codes().contains(code),
            })
        })
        .collect();
    let document = json!({
        "id": view.id,
        "title": view.title,
        "summary": view.summary,
        "language": view.language,
        "tags": view.tags,
        "classification": markings.classification().name(),
        "classification_class": level_class(markings.classification()),
        "tlp": markings.tlp().as_str(),
        "tlp_class": tlp_class(markings.tlp()),
        "handling_code": markings.handling_code().as_str(),
        "handling_meaning": state.catalogues().get(viewer.lang, &format!("handling_meaning.{}", markings.handling_code().as_str())),
        "handling_note": markings.handling_note(),
        "releasable_all": markings.releasable_to().codes() == ["ALL"],
        "countries": countries,
        "recipients": markings.recipients().iter().collect::<Vec<_>>(),
        "originator_org": view.originator_org,
        "originator_country": label(state, viewer.lang, "country", &view.originator_country),
        "status": view.status.as_str(),
        "published_at": view.published_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        "versions": view.versions.iter().rev().map(|v| json!({
            "version": v.version,
            "size": v.size,
            "sha256": v.sha256,
            "media_type": v.media_type,
            "filename": v.filename,
            "created_by": v.created_by,
            "created_at": v.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            "ingest": v.ingest.state,
            "ingest_error": v.ingest.error,
        })).collect::<Vec<_>>(),
        "can_change": view.can_change,
    });
    state.render(
        "document.html",
        viewer.lang,
        Some(viewer),
        context! {
            document => document,
            levels => allowed_levels(state, viewer),
            tlps => Tlp::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            codes => HandlingCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            edit_countries => editable_countries,
            error_field => error.as_ref().map(|(f, _)| f.clone()),
            error_text => error.map(|(_, t)| t),
            form => form,
        },
    )
}

/// Levels a user may choose: up to the platform maximum and their own clearance.
fn allowed_levels(state: &WebState, viewer: &Viewer) -> Vec<String> {
    let ceiling =
        state.config.policy.ladder.max_classification().clone().min(viewer.caller.principal.clearance.clone());
    state.config.policy.ladder.levels().iter().filter(|l| **l <= ceiling).map(|l| l.name().to_owned()).collect()
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    version: Option<i32>,
}

/// `GET /documents/{id}/download`: the API's download, with the session's identity.
pub async fn download(
    viewer: Viewer,
    id: web::Path<String>,
    query: web::Query<DownloadQuery>,
    req: HttpRequest,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    crate::api::documents::content_response(&req, &viewer.caller, &id, query.version, &service)
        .await
        .map_err(|e| from_api(e, viewer.lang))
}

/// Form pairs (a field may repeat: the releasability checkboxes).
type Pairs = Vec<(String, String)>;

fn first<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn all(pairs: &Pairs, name: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

fn comma_list(value: Option<&str>) -> Vec<String> {
    value.unwrap_or_default().split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// Releasability from the form: "ALL" ticked wins.
fn releasability(pairs: &Pairs) -> Vec<String> {
    let chosen = all(pairs, "releasable_to");
    if chosen.iter().any(|c| c == "ALL") { vec!["ALL".into()] } else { chosen }
}

/// `POST /documents/{id}/edit`: title, summary, tags and markings.
pub async fn edit(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<Pairs>,
    state: web::Data<WebState>,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    let pairs = form.into_inner();
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    let patch = DocumentPatch {
        title: first(&pairs, "title").map(str::to_owned),
        summary: Some(first(&pairs, "summary").map(str::to_owned).filter(|s| !s.trim().is_empty())),
        language: None,
        tags: Some(comma_list(first(&pairs, "tags"))),
        classification: first(&pairs, "classification").map(str::to_owned),
        tlp: first(&pairs, "tlp").map(str::to_owned),
        handling_code: first(&pairs, "handling_code").map(str::to_owned),
        handling_note: Some(first(&pairs, "handling_note").map(str::to_owned).filter(|s| !s.trim().is_empty())),
        releasable_to: Some(releasability(&pairs)),
        recipients: Some(comma_list(first(&pairs, "recipients"))),
    };
    match service.update(&viewer.caller, &id, patch).await {
        Ok(_) => Ok(see_other(&format!("/documents/{id}"))),
        Err(DocumentsError::Invalid { field, problem }) => {
            let view = service.get(&viewer.caller, &id).await.map_err(|e| from_documents(e, viewer.lang))?;
            let html = render_document(&state, &viewer, view, Some((field, problem)), Some(json!(form_echo(&pairs))))?;
            Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(html))
        }
        Err(other) => Err(from_documents(other, viewer.lang)),
    }
}

fn form_echo(pairs: &Pairs) -> serde_json::Map<String, Value> {
    let mut echo = serde_json::Map::new();
    for (key, value) in pairs.iter().filter(|(k, _)| k != "csrf") {
        if key == "releasable_to" {
            let entry = echo.entry(key.clone()).or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(json!(value));
            }
        } else {
            echo.insert(key.clone(), json!(value));
        }
    }
    echo
}

#[derive(Deserialize)]
pub struct CsrfForm {
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    csrf: String,
}

pub async fn publish(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    viewer.check_csrf(&form.csrf)?;
    service.publish(&viewer.caller, &id).await.map_err(|e| from_documents(e, viewer.lang))?;
    Ok(see_other(&format!("/documents/{id}")))
}

pub async fn withdraw(
    viewer: Viewer,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    viewer.check_csrf(&form.csrf)?;
    service.withdraw(&viewer.caller, &id).await.map_err(|e| from_documents(e, viewer.lang))?;
    Ok(see_other(&format!("/documents/{id}")))
}

// ---- upload ----------------------------------------------------------------------------------

/// `GET /upload`: a form that can only be filled in validly (levels up to the platform maximum
/// and the user's clearance, countries from the configuration, RED → recipients, H3 → note).
pub async fn upload_form(viewer: Viewer, state: web::Data<WebState>) -> Result<HttpResponse, WebError> {
    if !viewer.caller.principal.has(Capability::DocumentWrite) {
        return Err(WebError::Forbidden { lang: viewer.lang });
    }
    Ok(page(render_upload(&state, &viewer, None, None)?))
}

fn render_upload(
    state: &WebState,
    viewer: &Viewer,
    error: Option<(String, String)>,
    form: Option<Value>,
) -> Result<String, WebError> {
    let countries: Vec<Value> = state
        .countries
        .iter()
        .map(|code| json!({"code": code, "name": label(state, viewer.lang, "country", code)}))
        .collect();
    state.render(
        "upload.html",
        viewer.lang,
        Some(viewer),
        context! {
            levels => allowed_levels(state, viewer),
            tlps => Tlp::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            codes => HandlingCode::ALL.iter().map(|c| json!({
                "code": c.as_str(),
                "meaning": state.catalogues().get(viewer.lang, &format!("handling_meaning.{}", c.as_str())),
            })).collect::<Vec<_>>(),
            countries => countries,
            document_languages => DOCUMENT_LANGUAGES.iter().map(|code| json!({
                "code": code,
                "name": label(state, viewer.lang, "language", code),
            })).collect::<Vec<_>>(),
            own_country => viewer.caller.principal.country.clone(),
            error_field => error.as_ref().map(|(f, _)| f.clone()),
            error_text => error.map(|(_, t)| t),
            form => form,
        },
    )
}

async fn read_field(mut field: Field, lang: &'static str) -> Result<String, WebError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(|_| WebError::BadForm { lang })? {
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(WebError::BadForm { lang });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The text fields of a multipart form up to its `file` part (which must come last), with the
/// CSRF token checked before any byte of the file is read.
async fn form_fields(viewer: &Viewer, parts: &mut Multipart) -> Result<(Pairs, Option<Field>), WebError> {
    let mut pairs = Pairs::new();
    let lang = viewer.lang;
    while let Some(field) = parts.try_next().await.map_err(|_| WebError::BadForm { lang })? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
            return Ok((pairs, Some(field)));
        }
        let value = read_field(field, lang).await?;
        pairs.push((name, value));
    }
    viewer.check_csrf(first(&pairs, "csrf").unwrap_or_default())?;
    Ok((pairs, None))
}

/// `POST /upload`: the same plan → stream → commit as the API; errors return the form with the
/// message next to the field.
pub async fn upload(
    viewer: Viewer,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebState>,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    let mut parts = Multipart::new(req.headers(), payload);
    let (pairs, file) = form_fields(&viewer, &mut parts).await?;
    let invalid = |field: String, problem: String| -> Result<HttpResponse, WebError> {
        let html = render_upload(&state, &viewer, Some((field, problem)), Some(Value::Object(form_echo(&pairs))))?;
        Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(html))
    };
    let tlp = first(&pairs, "tlp").unwrap_or_default().to_owned();
    let new = NewDocument {
        title: first(&pairs, "title").unwrap_or_default().to_owned(),
        summary: first(&pairs, "summary").map(str::to_owned).filter(|s| !s.trim().is_empty()),
        language: first(&pairs, "language").map(str::to_owned).filter(|s| !s.trim().is_empty()),
        classification: first(&pairs, "classification").unwrap_or_default().to_owned(),
        handling_code: first(&pairs, "handling_code").unwrap_or_default().to_owned(),
        handling_note: first(&pairs, "handling_note").map(str::to_owned).filter(|s| !s.trim().is_empty()),
        releasable_to: releasability(&pairs),
        recipients: if tlp == "RED" { comma_list(first(&pairs, "recipients")) } else { Vec::new() },
        tlp,
        tags: comma_list(first(&pairs, "tags")),
        publish: first(&pairs, "publish").is_some(),
    };
    let Some(file) = file else { return invalid("file".into(), "choose a file".into()) };
    let filename = file.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_owned);
    let plan = match service.plan_create(&viewer.caller, new).await {
        Ok(plan) => plan,
        Err(DocumentsError::Invalid { field, problem }) => return invalid(field, problem),
        Err(other) => return Err(from_documents(other, viewer.lang)),
    };
    let object = match service.receive(plan.key(), file).await {
        Ok(object) => object,
        Err(DocumentsError::Invalid { field, problem } | DocumentsError::Malformed { field, problem }) => {
            return invalid(field, problem);
        }
        Err(DocumentsError::TooLarge { limit }) => return invalid("file".into(), format!("larger than {limit} bytes")),
        Err(other) => return Err(from_documents(other, viewer.lang)),
    };
    if parts.try_next().await.ok().flatten().is_some() {
        service.discard(object).await;
        return invalid("file".into(), "the file must be the last field".into());
    }
    let view = service
        .commit_create(&viewer.caller, plan, object, filename.as_deref())
        .await
        .map_err(|e| from_documents(e, viewer.lang))?;
    Ok(see_other(&format!("/documents/{}", view.id)))
}

/// `POST /documents/{id}/versions`: a new version (multipart: `csrf`, then `file`).
pub async fn new_version(
    viewer: Viewer,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<documents::Service>,
) -> Result<HttpResponse, WebError> {
    let mut parts = Multipart::new(req.headers(), payload);
    let (_, file) = form_fields(&viewer, &mut parts).await?;
    let file = file.ok_or(WebError::Internal("no file".into()))?;
    let filename = file.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_owned);
    let plan = service.plan_version(&viewer.caller, &id).await.map_err(|e| from_documents(e, viewer.lang))?;
    let object = service.receive(plan.key(), file).await.map_err(|e| from_documents(e, viewer.lang))?;
    service
        .commit_version(&viewer.caller, plan, object, filename.as_deref())
        .await
        .map_err(|e| from_documents(e, viewer.lang))?;
    Ok(see_other(&format!("/documents/{id}")))
}

// ---- audit -----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct AuditPageQuery {
    actor: Option<String>,
    document: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    verify: Option<String>,
}

impl AuditPageQuery {
    fn api(&self) -> AuditQuery {
        let date = |v: &Option<String>, end: bool| {
            v.as_deref().filter(|s| !s.is_empty()).map(|s| {
                if s.len() == 10 {
                    format!("{s}T{}Z", if end { "23:59:59.999" } else { "00:00:00" })
                } else {
                    s.to_owned()
                }
            })
        };
        let keep = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        AuditQuery {
            actor: keep(&self.actor),
            document: keep(&self.document),
            action: keep(&self.action),
            outcome: keep(&self.outcome),
            from: date(&self.from, false),
            to: date(&self.to, true),
            cursor: keep(&self.cursor),
            limit: Some(50),
            format: None,
        }
    }
}

/// `GET /audit`: auditors only; filters, the events, export links and chain verification.
pub async fn audit(
    viewer: Viewer,
    req: HttpRequest,
    query: web::Query<AuditPageQuery>,
    state: web::Data<WebState>,
    log: web::Data<audit::Log>,
    key: web::Data<SigningKey>,
) -> Result<HttpResponse, WebError> {
    let api_query = query.api();
    let verification = if query.verify.is_some() {
        Some(crate::api::audit::verify_chain(&viewer.caller, &log, &key).await.map_err(|e| from_api(e, viewer.lang))?)
    } else {
        None
    };
    let (events, next_cursor) =
        crate::api::audit::list_events(&viewer.caller, &api_query, &log).await.map_err(|e| from_api(e, viewer.lang))?;
    let filters: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "cursor" && k != "verify")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let with = |extra: (&str, &str)| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(filters.iter().map(|(k, v)| (k.as_str(), v.as_str()))).append_pair(extra.0, extra.1);
        serializer.finish()
    };
    let verification = verification.map(|v| match v {
        audit::Verification::Ok { count, head_hash, .. } => json!({"ok": true, "count": count, "head": head_hash}),
        audit::Verification::Broken { seq, reason, .. } => json!({"ok": false, "seq": seq, "reason": reason}),
    });
    let rows: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "at": e.at,
                // "2026-11-28T23:19:14.562Z" → "2026-11-28 23:19:14.562": readable, one line.
                "at_display": e.at.replacen('T', " ", 1).trim_end_matches('Z'),
                "actor": e.actor.sub,
                "organisation": e.actor.organisation,
                "action": e.action.as_str(),
                "outcome": e.outcome.as_str(),
                "document": e.target.document_id,
                "version": e.target.version,
                "request": e.request.id,
                "ip": e.request.ip,
                "details": e.details.to_string(),
            })
        })
        .collect();
    let html = state.render(
        "audit.html",
        viewer.lang,
        Some(&viewer),
        context! {
            events => rows,
            query => json!({
                "actor": query.actor, "document": query.document, "action": query.action,
                "outcome": query.outcome, "from": query.from, "to": query.to,
            }),
            actions => AuditAction::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            next => next_cursor.map(|c| format!("/audit?{}", with(("cursor", &c)))),
            export_jsonl => format!("/audit/export?{}", with(("format", "jsonl"))),
            export_csv => format!("/audit/export?{}", with(("format", "csv"))),
            verify_url => format!("/audit?{}", with(("verify", "1"))),
            verification => verification,
        },
    )?;
    Ok(page(html))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    #[serde(flatten)]
    filters: AuditPageQueryFlat,
}

#[derive(Deserialize, Default)]
pub struct AuditPageQueryFlat {
    actor: Option<String>,
    document: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /audit/export?format=…`: the API's streamed export, with the session's identity.
pub async fn audit_export(
    viewer: Viewer,
    query: web::Query<ExportQuery>,
    log: web::Data<audit::Log>,
) -> Result<HttpResponse, WebError> {
    let f = &query.filters;
    let page = AuditPageQuery {
        actor: f.actor.clone(),
        document: f.document.clone(),
        action: f.action.clone(),
        outcome: f.outcome.clone(),
        from: f.from.clone(),
        to: f.to.clone(),
        ..AuditPageQuery::default()
    };
    let mut api_query = page.api();
    api_query.limit = None;
    api_query.format = query.format.clone();
    crate::api::audit::export_response(&viewer.caller, &api_query, &log).await.map_err(|e| from_api(e, viewer.lang))
}

// ---- language --------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct LanguageQuery {
    lang: String,
    return_to: Option<String>,
}

/// `GET /language?lang=sq`: remember the choice in a cookie and go back.
pub async fn language(query: web::Query<LanguageQuery>) -> HttpResponse {
    let Some((code, _)) = i18n::LANGUAGES.iter().find(|(code, _)| *code == query.lang) else {
        return see_other("/");
    };
    let back = query.return_to.as_deref().filter(|p| p.starts_with('/') && !p.starts_with("//")).unwrap_or("/");
    let cookie = actix_web::cookie::Cookie::build(i18n::COOKIE, *code)
        .path("/")
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, back.to_owned())).finish()
}

//! `GET /api/v1/search`: parse the parameters; the search service does the rest.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::Caller;
use crate::error::{ApiError, resource};
use crate::search::service::{DEFAULT_LIMIT, MAX_LIMIT, decode_cursor};
use crate::search::{Filters, SearchRequest, Service, Sort};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/search", vec![(Method::GET, web::to(search))]));
}

async fn search(caller: Caller, req: HttpRequest, service: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let request = parse(req.query_string())?;
    let response = service.search(&caller, request).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "private, no-store")).json(response))
}

/// Repeated parameters (`tlp=AMBER&tlp=RED`) and comma-separated lists both work.
pub fn parse(query: &str) -> Result<SearchRequest, ApiError> {
    let mut request = SearchRequest {
        q: String::new(),
        filters: Filters::default(),
        sort: Sort::Relevance,
        limit: DEFAULT_LIMIT,
        offset: 0,
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_owned();
        let list = || value.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        match key.as_ref() {
            "q" => request.q = value.chars().take(1000).collect(),
            "classification" => request.filters.classification.extend(list()),
            "tlp" => request.filters.tlp.extend(list().map(|v| v.to_ascii_uppercase())),
            "country" => request.filters.country.extend(list().map(|v| v.to_ascii_uppercase())),
            "language" => request.filters.language.extend(list()),
            "tag" => request.filters.tag.extend(list()),
            "from" => request.filters.from = time("from", &value, false)?,
            "to" => request.filters.to = time("to", &value, true)?,
            "sort" => {
                request.sort = match value.as_str() {
                    "" | "relevance" => Sort::Relevance,
                    "date" => Sort::Date,
                    _ => return Err(ApiError::invalid("sort", "must be relevance or date")),
                }
            }
            "limit" => {
                request.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")))?
            }
            "cursor" if value.is_empty() => {}
            "cursor" => {
                request.offset = decode_cursor(&value)
                    .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor from a previous page"))?
            }
            other => return Err(ApiError::invalid(other.to_owned(), "is not a search parameter")),
        }
    }
    Ok(request)
}

/// RFC 3339, or a date (`to` dates include the whole day).
fn time(field: &'static str, value: &str, end_of_day: bool) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    // The index keeps times as nanoseconds: years past 2262 do not fit, and none are needed.
    let clamp = |at: chrono::DateTime<chrono::Utc>| {
        let (earliest, latest) =
            (chrono::DateTime::UNIX_EPOCH, chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(365 * 250));
        at.clamp(earliest, latest)
    };
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(Some(clamp(at.with_timezone(&chrono::Utc))));
    }
    let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("`{value}` is not a date (YYYY-MM-DD) or RFC 3339 time")))?;
    let time =
        if end_of_day { chrono::NaiveTime::from_hms_milli_opt(23, 59, 59, 999) } else { Some(chrono::NaiveTime::MIN) };
    Ok(time.map(|t| clamp(date.and_time(t).and_utc())))
}

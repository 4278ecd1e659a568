//! A search as a query string says it — `q`, the filters (`classification`, `tlp`, `country`,
//! `language`, `tag`: repeated or comma-separated), `from`/`to` (a date means the whole day),
//! `sort`, `limit`, `cursor` — parsed once, for the API and the web page alike.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::SearchError;
use super::query::Filters;
use crate::dates::{self, End};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// Deepest result a cursor can reach (relevance paging is by offset).
pub const MAX_OFFSET: usize = 10_000;

/// The cursor of the page that starts at `offset`.
pub fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let offset = std::str::from_utf8(&bytes).ok()?.strip_prefix('o')?.parse().ok()?;
    (offset <= MAX_OFFSET).then_some(offset)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    /// Newest publication first.
    Date,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    pub q: String,
    pub filters: Filters,
    pub sort: Sort,
    pub limit: usize,
    /// From a cursor of a previous page.
    pub offset: usize,
}

impl Default for SearchRequest {
    /// Every visible document, most relevant first, one page.
    fn default() -> Self {
        Self { q: String::new(), filters: Filters::default(), sort: Sort::Relevance, limit: DEFAULT_LIMIT, offset: 0 }
    }
}

impl SearchRequest {
    pub fn parse(query_string: &str) -> Result<Self, SearchError> {
        let mut request = Self::default();
        for (key, raw) in url::form_urlencoded::parse(query_string.as_bytes()) {
            // Free text is trimmed (forms); a typed value (date, number, cursor, sort) is taken
            // as sent, so that it is valid exactly when the API contract says it is.
            let value = raw.trim().to_owned();
            let list = || value.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            let filters = &mut request.filters;
            match key.as_ref() {
                // Held to `search.max_query_chars` when it runs (`cost`), not cut short here.
                "q" => request.q = value,
                "classification" => filters.classification.extend(list()),
                "tlp" => filters.tlp.extend(list().map(|v| v.to_ascii_uppercase())),
                "country" => filters.country.extend(list().map(|v| v.to_ascii_uppercase())),
                "language" => filters.language.extend(list()),
                "tag" => filters.tag.extend(list()),
                "from" => filters.from = time("from", &raw, End::Start)?,
                "to" => filters.to = time("to", &raw, End::Finish)?,
                "sort" => {
                    request.sort = match raw.as_ref() {
                        "" | "relevance" => Sort::Relevance,
                        "date" => Sort::Date,
                        _ => return Err(invalid("sort", "must be relevance or date")),
                    }
                }
                "limit" => {
                    request.limit = raw
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| invalid("limit", format!("must be between 1 and {MAX_LIMIT}")))?
                }
                "cursor" if raw.is_empty() => {}
                "cursor" => {
                    request.offset =
                        decode_cursor(&raw).ok_or_else(|| invalid("cursor", "is not a cursor from a previous page"))?
                }
                other => return Err(invalid(other, "is not a search parameter")),
            }
        }
        Ok(request)
    }

    pub fn sort_name(&self) -> &'static str {
        match self.sort {
            Sort::Relevance => "relevance",
            Sort::Date => "date",
        }
    }
}

/// A bound of the publication-date filter. The index keeps times as nanoseconds: years past
/// 2262 do not fit, and none are needed.
fn time(field: &str, value: &str, end: End) -> Result<Option<chrono::DateTime<chrono::Utc>>, SearchError> {
    if value.is_empty() {
        return Ok(None);
    }
    let at = dates::parse_bound(value, end).ok_or_else(|| invalid(field, format!("`{value}` {}", dates::EXPECTED)))?;
    let latest = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(365 * 250);
    Ok(Some(at.clamp(chrono::DateTime::UNIX_EPOCH, latest)))
}

fn invalid(field: &str, problem: impl Into<String>) -> SearchError {
    SearchError::Invalid { field: field.chars().take(64).collect(), problem: problem.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_repeat_or_list_and_dates_cover_the_day() {
        let request = SearchRequest::parse("q=Beograd&tlp=amber,red&tlp=green&from=2026-01-01&to=2026-01-31&sort=date")
            .expect("valid");
        assert_eq!(request.q, "Beograd");
        assert_eq!(request.filters.tlp, ["AMBER", "RED", "GREEN"]);
        assert_eq!(request.sort, Sort::Date);
        assert_eq!(request.filters.to.map(|t| t.to_rfc3339()).as_deref(), Some("2026-01-31T23:59:59.999+00:00"));
    }

    #[test]
    fn bad_parameters_name_their_field() {
        for (text, field) in [("sort=size", "sort"), ("limit=0", "limit"), ("from=01/01/2026", "from"), ("x=1", "x")] {
            match SearchRequest::parse(text) {
                Err(SearchError::Invalid { field: named, .. }) => assert_eq!(named, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}

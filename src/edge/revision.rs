//! Conditional changes over HTTP: a document's `ETag` is its revision, and `If-Match` says which
//! revision a change expects (RFC 9110 §13.1.1, strong comparison).

use actix_web::HttpRequest;
use actix_web::http::header::{self, EntityTag};

use crate::documents::{DocumentView, Precondition};

/// The `ETag` of a document's metadata.
pub fn etag(view: &DocumentView) -> header::ETag {
    header::ETag(EntityTag::new_strong(view.revision.to_string()))
}

/// The request's `If-Match`: none or `*` expects nothing; otherwise the revisions its strong
/// tags name (weak or foreign tags never match).
pub fn precondition(req: &HttpRequest) -> Precondition {
    let sent: Vec<_> = req.headers().get_all(header::IF_MATCH).collect();
    if sent.is_empty() {
        return Precondition::None;
    }
    // A value that is not even text names no revision: it can never match (it is not dropped).
    let values: Vec<&str> = sent.iter().filter_map(|v| v.to_str().ok()).collect();
    if values.len() == sent.len() && values.iter().any(|v| v.trim() == "*") {
        return Precondition::None;
    }
    let revisions = values
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|tag| tag.trim().parse::<EntityTag>().ok())
        .filter(|tag| !tag.weak)
        .filter_map(|tag| tag.tag().parse().ok())
        .collect();
    Precondition::Revisions(revisions)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn if_match_names_strong_revisions_only() {
        let of = |value: Option<&str>| {
            let request = match value {
                Some(value) => TestRequest::default().insert_header((header::IF_MATCH, value)),
                None => TestRequest::default(),
            };
            precondition(&request.to_http_request())
        };
        assert_eq!(of(None), Precondition::None);
        assert_eq!(of(Some("*")), Precondition::None);
        assert_eq!(of(Some("\"7\"")), Precondition::Revisions(vec![7]));
        assert_eq!(of(Some("\"7\", \"9\"")), Precondition::Revisions(vec![7, 9]));
        assert_eq!(of(Some("W/\"7\"")), Precondition::Revisions(vec![]), "weak tags never match");
        assert_eq!(of(Some("\"abc\"")), Precondition::Revisions(vec![]));
        let binary = TestRequest::default()
            .insert_header((header::IF_MATCH, header::HeaderValue::from_bytes(b"\"7\xff\"").expect("bytes")))
            .to_http_request();
        assert_eq!(precondition(&binary), Precondition::Revisions(vec![]), "unreadable, so unmeetable");
    }
}

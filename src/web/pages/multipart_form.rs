//! The multipart forms of the pages (upload, new version): the CSRF token comes first and is
//! checked before anything else is read; then a bounded number of small text fields; then the
//! file, streamed by the same sequence as the API's uploads.

use super::Pairs;
use crate::documents::{DocumentView, DocumentsError};
use crate::edge::{FilePart, Part, Parts, read_text};
use crate::web::WebError;
use crate::web::session::Viewer;

/// Most text fields a form may have, and their total size: the forms have about a dozen.
const MAX_FIELDS: usize = 32;
const MAX_FIELDS_BYTES: usize = 256 * 1024;

/// The text fields up to the `file` part (which must come last). The first part must be the
/// session's CSRF token: nothing else is read before it is checked.
pub(super) async fn form_fields(viewer: &Viewer, parts: &mut Parts) -> Result<(Pairs, Option<FilePart>), WebError> {
    let lang = viewer.lang;
    let bad_form = |_| WebError::BadForm { lang };
    match parts.next().await.map_err(bad_form)? {
        Some(Part::Text { name, field }) if name == "csrf" => {
            let token = read_text(&name, field).await.map_err(bad_form)?;
            viewer.check_csrf(&String::from_utf8_lossy(&token))?;
        }
        // Missing or not first counts as wrong (403), like a missing token on any other form.
        _ => return Err(WebError::Csrf { lang }),
    }
    let mut pairs = Pairs::new();
    let mut total = 0;
    loop {
        match parts.next().await.map_err(bad_form)? {
            Some(Part::Text { name, field }) => {
                let value = read_text(&name, field).await.map_err(bad_form)?;
                total += name.len() + value.len();
                if pairs.len() == MAX_FIELDS || total > MAX_FIELDS_BYTES {
                    return Err(WebError::BadForm { lang });
                }
                pairs.push((name, String::from_utf8_lossy(&value).into_owned()));
            }
            Some(Part::File(file)) => return Ok((pairs, Some(file))),
            None => return Ok((pairs, None)),
        }
    }
}

/// Why a multipart form was not taken: the page's own checks (CSRF, form shape), or the service's.
pub(super) enum Refusal {
    Web(WebError),
    Documents(DocumentsError),
}

impl From<DocumentsError> for Refusal {
    fn from(error: DocumentsError) -> Self {
        Refusal::Documents(error)
    }
}

impl From<WebError> for Refusal {
    fn from(error: WebError) -> Self {
        Refusal::Web(error)
    }
}

/// How a multipart form ended: stored, or refused for a field the user can correct (its name
/// and the message to show next to it) — or an error page.
pub(super) fn settle(
    stored: Result<DocumentView, Refusal>,
    lang: &'static str,
) -> Result<Result<DocumentView, (String, String)>, WebError> {
    match stored {
        Ok(view) => Ok(Ok(view)),
        Err(Refusal::Web(error)) => Err(error),
        Err(Refusal::Documents(
            DocumentsError::Invalid { field, problem } | DocumentsError::Malformed { field, problem },
        )) => Ok(Err((field, problem))),
        Err(Refusal::Documents(DocumentsError::TooLarge { limit })) => {
            Ok(Err(("file".into(), format!("larger than {limit} bytes"))))
        }
        // Shown as "changed meanwhile" (the document page has the words for it).
        Err(Refusal::Documents(DocumentsError::Stale)) => Ok(Err(("revision".into(), "changed meanwhile".into()))),
        Err(Refusal::Documents(other)) => Err(WebError::from_service(other, lang)),
    }
}

/// The form's parts; a body already declared too large is refused with a page before any part —
/// the CSRF token included — is read, so nothing runs for it.
pub(super) fn parts_of(
    req: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
    max_upload_bytes: u64,
    lang: &'static str,
) -> Result<Parts, WebError> {
    Parts::new(req, payload, max_upload_bytes).map_err(|e| WebError::from_service(e, lang))
}

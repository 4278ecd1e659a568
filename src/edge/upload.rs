//! Multipart uploads, as the API and the web forms send them: small text parts first, then the
//! file — streamed into storage as it arrives, never held whole — and nothing after it. Both HTTP
//! layers use this one sequence, so both refuse the same malformed bodies and leave nothing
//! stored when a request fails.

use actix_multipart::{Field, Multipart};
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::TryStreamExt;

use crate::documents::{DocumentsError, Service, UploadPlan};
use crate::storage::ReceivedObject;

/// Largest text part (JSON metadata, a form field).
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Allowance for multipart framing and text parts on top of the file size limit.
const MULTIPART_OVERHEAD: u64 = 128 * 1024;

/// The parts of a multipart body, in order.
pub struct Parts {
    multipart: Multipart,
}

/// The `file` part, not read yet.
pub struct FilePart {
    field: Field,
    filename: Option<String>,
}

impl FilePart {
    /// The name the client gave the file, if any.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The file's bytes as they arrive, for a reader that does not store them (fuzzing).
    pub fn into_stream(self) -> Field {
        self.field
    }
}

/// A part as it came: text, or the file (which ends the text parts).
pub enum Part {
    Text { name: String, field: Field },
    File(FilePart),
}

impl Parts {
    /// The body's parts; 413 before reading anything when its declared length is already larger
    /// than any accepted upload.
    pub fn new(req: &HttpRequest, payload: web::Payload, max_upload_bytes: u64) -> Result<Self, DocumentsError> {
        let declared =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max_upload_bytes.saturating_add(MULTIPART_OVERHEAD)) {
            return Err(DocumentsError::TooLarge { limit: max_upload_bytes });
        }
        Ok(Self { multipart: Multipart::new(req.headers(), payload) })
    }

    /// The next part, if any.
    pub async fn next(&mut self) -> Result<Option<Part>, DocumentsError> {
        let field = self
            .multipart
            .try_next()
            .await
            .map_err(|e| DocumentsError::malformed("body", format!("malformed multipart body: {e}")))?;
        Ok(field.map(|field| {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                let filename = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_owned);
                Part::File(FilePart { field, filename })
            } else {
                Part::Text { name, field }
            }
        }))
    }

    /// The next part, which must be the file.
    async fn file(&mut self) -> Result<FilePart, DocumentsError> {
        match self.next().await? {
            Some(Part::File(file)) => Ok(file),
            Some(Part::Text { name, .. }) => Err(unexpected(&name)),
            None => Err(DocumentsError::malformed("file", "the file part is missing")),
        }
    }

    /// The next part, which must be the file, stored as [`Parts::store_last`] does.
    pub async fn store_file(
        &mut self,
        service: &Service,
        plan: &impl UploadPlan,
    ) -> Result<(ReceivedObject, Option<String>), DocumentsError> {
        let file = self.file().await?;
        self.store_last(file, service, plan).await
    }

    /// Stream `file` into the object `plan` reserved, then make sure no part follows it (nobody
    /// would read it). On any failure nothing stays stored. Returns the object and the file's name.
    pub async fn store_last(
        &mut self,
        file: FilePart,
        service: &Service,
        plan: &impl UploadPlan,
    ) -> Result<(ReceivedObject, Option<String>), DocumentsError> {
        let object = service.receive(plan, file.field).await?;
        match self.next().await {
            Ok(None) => Ok((object, file.filename)),
            Ok(Some(Part::Text { name, .. })) => {
                service.discard(object).await;
                Err(unexpected(&name))
            }
            Ok(Some(Part::File(_))) => {
                service.discard(object).await;
                Err(DocumentsError::malformed("file", "send one file"))
            }
            Err(error) => {
                service.discard(object).await;
                Err(error)
            }
        }
    }
}

/// A small text part, whole (at most 64 KiB).
pub async fn read_text(name: &str, mut field: Field) -> Result<Vec<u8>, DocumentsError> {
    let mut bytes = Vec::new();
    while let Some(chunk) =
        field.try_next().await.map_err(|e| DocumentsError::malformed(name, format!("unreadable part: {e}")))?
    {
        if bytes.len() + chunk.len() > MAX_TEXT_BYTES {
            return Err(DocumentsError::invalid(name, format!("is larger than {MAX_TEXT_BYTES} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A part where none (or another) belongs.
pub fn unexpected(name: &str) -> DocumentsError {
    DocumentsError::malformed(
        name,
        format!("unexpected part `{name}`: text parts come first, then `file`, and nothing after it"),
    )
}

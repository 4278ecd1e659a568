//! Multipart uploads, as the API and the web forms send them: small text parts first, then the
//! file — streamed into storage as it arrives, never held whole — and nothing after it. Both HTTP
//! layers use this one sequence, so both refuse the same malformed bodies and leave nothing
//! stored when a request fails.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, mime, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use crate::documents::{DocumentsError, Service, UploadPlan};
use crate::storage::ReceivedObject;

/// Largest text part (JSON metadata, a form field).
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Shortest multipart boundary accepted (see [`Parts::new`]).
const MIN_BOUNDARY_BYTES: usize = 4;
/// Allowance for multipart framing and text parts on top of the file size limit.
const MULTIPART_OVERHEAD: u64 = 128 * 1024;

/// The parts of a multipart body, in order.
pub struct Parts {
    multipart: Multipart,
    end: BodyEnd,
}

/// The `file` part, not read yet.
pub struct FilePart {
    field: PartBody,
    filename: Option<String>,
}

/// Whether the request body has ended. actix-multipart 0.7 can answer "not yet" for a part the
/// body ended in the middle of — a file part without its closing boundary whose last bytes are
/// `\r\n` — and then nothing ever wakes it: the request would hang for good, holding its upload
/// open (found by the `multipart_upload` fuzz target). Once the body has ended, "not yet" means
/// "never", so such a part is reported incomplete instead.
#[derive(Clone, Default)]
struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    fn reached(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `polled`, unless it is "not yet" after the body ended.
    fn settle<T>(&self, polled: Poll<Option<Result<T, MultipartError>>>) -> Poll<Option<Result<T, MultipartError>>> {
        match polled {
            Poll::Pending if self.reached() => Poll::Ready(Some(Err(MultipartError::Incomplete))),
            other => other,
        }
    }
}

/// The request body, noting in [`BodyEnd`] when it ends.
struct Watched<S> {
    body: S,
    end: BodyEnd,
}

impl<S: Stream<Item = Result<Bytes, PayloadError>> + Unpin> Stream for Watched<S> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.body.poll_next_unpin(cx);
        if let Poll::Ready(None) = polled {
            self.end.0.store(true, Ordering::Release);
        }
        polled
    }
}

/// The bytes of one part as they arrive; ends with an error, never hangs, when the body ends
/// inside the part.
pub struct PartBody {
    field: Field,
    end: BodyEnd,
}

impl Stream for PartBody {
    type Item = Result<Bytes, MultipartError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = this.field.poll_next_unpin(cx);
        this.end.settle(polled)
    }
}

impl FilePart {
    /// The name the client gave the file, if any.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The file's bytes as they arrive, for a reader that does not store them (fuzzing).
    pub fn into_stream(self) -> PartBody {
        self.field
    }
}

/// A part as it came: text, or the file (which ends the text parts).
pub enum Part {
    Text { name: String, field: PartBody },
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
        // actix-multipart 0.7 indexes out of bounds — a panic that takes the worker and every
        // request on it down — on a line of two or three bytes starting with `--` when the
        // boundary is as short (found by the `multipart_upload` fuzz target). RFC 2046 allows
        // 1–70 characters; every client in use sends far more than 4.
        let boundary =
            req.mime_type().ok().flatten().and_then(|mime| mime.get_param(mime::BOUNDARY).map(|b| b.as_str().len()));
        if boundary.is_some_and(|length| length < MIN_BOUNDARY_BYTES) {
            return Err(DocumentsError::malformed(
                "body",
                format!("malformed multipart body: the boundary must be at least {MIN_BOUNDARY_BYTES} characters"),
            ));
        }
        let end = BodyEnd::default();
        Ok(Self { multipart: Multipart::new(req.headers(), Watched { body: payload, end: end.clone() }), end })
    }

    /// The next part, if any.
    pub async fn next(&mut self) -> Result<Option<Part>, DocumentsError> {
        let (multipart, end) = (&mut self.multipart, &self.end);
        let field = std::future::poll_fn(|cx| end.settle(multipart.poll_next_unpin(cx)))
            .await
            .transpose()
            .map_err(|e| DocumentsError::malformed("body", format!("malformed multipart body: {e}")))?;
        Ok(field.map(|field| {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_owned);
            let field = PartBody { field, end: self.end.clone() };
            if name == "file" { Part::File(FilePart { field, filename }) } else { Part::Text { name, field } }
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
pub async fn read_text(name: &str, mut field: PartBody) -> Result<Vec<u8>, DocumentsError> {
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

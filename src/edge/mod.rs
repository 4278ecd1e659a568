//! The HTTP edge shared by the JSON API (`api/`) and the web interface (`web/`): where request
//! bodies become typed values and service results become HTTP responses — streamed downloads
//! with ETag and Range, streamed uploads from multipart bodies, audit exports, and resources
//! that answer unsupported methods with 405. Neither HTTP layer depends on the other; both
//! depend on this.

mod download;
mod export;
mod resource;
mod revision;
mod upload;

pub use download::content_response;
pub use export::export_response;
pub use resource::resource;
pub use revision::{etag, precondition};
pub use upload::{FilePart, Part, Parts, read_text, unexpected};

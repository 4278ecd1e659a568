//! Text extraction, one file per format. Runs inside the sandboxed child process
//! (`anaspoc extract`, see `ingest::sandbox`): a parser that crashes, hangs or allocates without
//! bound takes only that process down, and the job fails with the reason.

mod eml;
mod html;
mod ocr;
mod office;
mod pdf;
mod text;

use std::path::Path;

pub use ocr::{OcrOptions, clean_scan};

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("unsupported format {0}")]
    Unsupported(String),
    #[error("malformed {format}: {reason}")]
    Malformed { format: &'static str, reason: String },
    #[error("{0} exceeds the extraction limits")]
    TooLarge(String),
    #[error("{tool} failed: {reason}")]
    Tool { tool: &'static str, reason: String },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Plain text decoded in the server process (no parser involved), whitespace normalised.
pub fn plain_text(bytes: &[u8]) -> String {
    normalise_whitespace(&text::decode(bytes))
}

/// Largest input a format parser reads fully into memory (text, HTML, mail).
pub const MAX_DIRECT_BYTES: u64 = 64 * 1024 * 1024;

/// What an extraction found: the text, and how many pages of it were read by OCR.
#[derive(Debug, Default)]
pub struct Extracted {
    pub text: String,
    pub ocr_pages: usize,
}

/// The text of the file at `path`, whose media type was detected from its bytes; images and
/// scanned PDF pages are read by OCR as `ocr` says.
pub fn extract_file(path: &Path, media_type: &str, ocr: &OcrOptions) -> Result<Extracted, ExtractError> {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    let mut ocr_pages = 0;
    let text = match essence {
        "text/plain" | "text/markdown" | "text/csv" => text::decode(&read_limited(path)?),
        "text/html" | "application/xhtml+xml" => html::to_text(&read_limited(path)?),
        "message/rfc822" => eml::to_text(&read_limited(path)?)?,
        "application/pdf" => {
            let (text, pages) = pdf::to_text(path, ocr)?;
            ocr_pages = pages;
            text
        }
        image if image.starts_with("image/") => {
            ocr_pages = 1;
            ocr::image_to_text(path, ocr)?
        }
        office_type if office::handles(office_type) => office::to_text(path, office_type)?,
        // A ZIP the sniffer could not place: look inside for an office package.
        "application/zip" => match office::package_type(path)? {
            Some(office_type) => office::to_text(path, office_type)?,
            None => return Err(ExtractError::Unsupported("a ZIP archive that is no office document".into())),
        },
        other => return Err(ExtractError::Unsupported(other.to_owned())),
    };
    Ok(Extracted { text: normalise_whitespace(&text), ocr_pages })
}

fn read_limited(path: &Path) -> Result<Vec<u8>, ExtractError> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_DIRECT_BYTES {
        return Err(ExtractError::TooLarge(format!("a {size}-byte text file")));
    }
    Ok(std::fs::read(path)?)
}

/// Collapse runs of blank lines and trailing spaces; keep paragraphs.
fn normalise_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            if blank == 1 && !out.is_empty() {
                out.push('\n');
            }
            continue;
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

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

/// The formats text is extracted from, by how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Html,
    Mail,
    Pdf,
    Image,
    Office,
    /// A ZIP the sniffer could not place: an office package, perhaps.
    Zip,
}

fn format_of(essence: &str) -> Option<Format> {
    Some(match essence {
        "text/plain" | "text/markdown" | "text/csv" => Format::Text,
        "text/html" | "application/xhtml+xml" => Format::Html,
        "message/rfc822" => Format::Mail,
        "application/pdf" => Format::Pdf,
        image if image.starts_with("image/") => Format::Image,
        office_type if office::handles(office_type) => Format::Office,
        "application/zip" => Format::Zip,
        _ => return None,
    })
}

fn essence(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or_default().trim()
}

/// Whether text can be extracted from files of `media_type` at all: the server asks before it
/// fetches a file for extraction, so that a large file of another kind (a video, an archive) is
/// not copied out of the store only to be refused.
pub fn unsupported(media_type: &str) -> Option<ExtractError> {
    let essence = essence(media_type);
    format_of(essence).is_none().then(|| ExtractError::Unsupported(essence.to_owned()))
}

/// The text of the file at `path`, whose media type was detected from its bytes; images and
/// scanned PDF pages are read by OCR as `ocr` says.
pub fn extract_file(path: &Path, media_type: &str, ocr: &OcrOptions) -> Result<Extracted, ExtractError> {
    let essence = essence(media_type);
    let mut ocr_pages = 0;
    let Some(format) = format_of(essence) else {
        return Err(ExtractError::Unsupported(essence.to_owned()));
    };
    let text = match format {
        Format::Text => text::decode(&read_limited(path)?),
        Format::Html => html::to_text(&read_limited(path)?),
        Format::Mail => eml::to_text(&read_limited(path)?)?,
        Format::Pdf => {
            let (text, pages) = pdf::to_text(path, ocr)?;
            ocr_pages = pages;
            text
        }
        Format::Image => {
            ocr_pages = 1;
            ocr::image_to_text(path, ocr)?
        }
        Format::Office => office::to_text(path, essence)?,
        Format::Zip => match office::package_type(path)? {
            Some(office_type) => office::to_text(path, office_type)?,
            None => return Err(ExtractError::Unsupported("a ZIP archive that is no office document".into())),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_formats_with_an_extractor_are_fetched_for_extraction() {
        for extractable in [
            "text/plain; charset=windows-1251",
            "text/html",
            "message/rfc822",
            "application/pdf",
            "image/png",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/zip",
        ] {
            assert!(unsupported(extractable).is_none(), "{extractable}");
        }
        for other in ["application/octet-stream", "video/mp4", "application/x-7z-compressed"] {
            let refused = unsupported(other).map(|e| e.to_string());
            assert_eq!(refused, Some(format!("unsupported format {other}")), "{other}");
        }
    }
}

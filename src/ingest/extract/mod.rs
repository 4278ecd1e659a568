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

pub use ocr::tesseract_languages;

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

/// The text of the file at `path`, whose media type was detected from its bytes. `language`
/// (a BCP 47 tag such as `sr` or `sq`) chooses the OCR language packs.
pub fn extract_file(path: &Path, media_type: &str, language: Option<&str>) -> Result<String, ExtractError> {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    let text = match essence {
        "text/plain" | "text/markdown" | "text/csv" => text::decode(&read_limited(path)?),
        "text/html" | "application/xhtml+xml" => html::to_text(&read_limited(path)?),
        "message/rfc822" => eml::to_text(&read_limited(path)?)?,
        "application/pdf" => pdf::to_text(path, language)?,
        image if image.starts_with("image/") => ocr::image_to_text(path, language)?,
        office_type if office::handles(office_type) => office::to_text(path, office_type)?,
        // A ZIP the sniffer could not place: look inside for an office package.
        "application/zip" => match office::package_type(path)? {
            Some(office_type) => office::to_text(path, office_type)?,
            None => return Err(ExtractError::Unsupported("a ZIP archive that is no office document".into())),
        },
        other => return Err(ExtractError::Unsupported(other.to_owned())),
    };
    Ok(normalise_whitespace(&text))
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

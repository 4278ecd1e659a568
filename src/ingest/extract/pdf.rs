//! PDF: the text layer with `pdftotext` (poppler); pages without one (scans) go through
//! `pdftoppm` and OCR.

use std::path::Path;
use std::process::Command;

use super::{ExtractError, ocr};

/// Fewer visible characters than this per page means "no text layer": OCR it.
const MIN_CHARS_PER_PAGE: usize = 20;
/// Scanned pages OCR'd at most (the sandbox's CPU limit bounds the rest).
const MAX_OCR_PAGES: u32 = 50;

pub fn to_text(path: &Path, language: Option<&str>) -> Result<String, ExtractError> {
    let output = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-q"])
        .arg(path)
        .arg("-")
        .output()
        .map_err(|e| ExtractError::Tool { tool: "pdftotext", reason: e.to_string() })?;
    if !output.status.success() {
        return Err(ExtractError::Malformed {
            format: "PDF",
            reason: format!("pdftotext exited with {}", output.status),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let pages = text.matches('\u{c}').count().max(1);
    let visible = text.chars().filter(|c| c.is_alphanumeric()).count();
    if visible >= MIN_CHARS_PER_PAGE * pages {
        return Ok(text.replace('\u{c}', "\n"));
    }
    ocr_pages(path, language)
}

fn ocr_pages(path: &Path, language: Option<&str>) -> Result<String, ExtractError> {
    let dir = tempfile::tempdir()?;
    let prefix = dir.path().join("page");
    let status = Command::new("pdftoppm")
        .args(["-r", "300", "-gray", "-png", "-l", &MAX_OCR_PAGES.to_string()])
        .arg(path)
        .arg(&prefix)
        .status()
        .map_err(|e| ExtractError::Tool { tool: "pdftoppm", reason: e.to_string() })?;
    if !status.success() {
        return Err(ExtractError::Malformed { format: "PDF", reason: format!("pdftoppm exited with {status}") });
    }
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())?.filter_map(Result::ok).map(|e| e.path()).collect();
    pages.sort();
    let mut text = String::new();
    for page in pages {
        text.push_str(&ocr::image_to_text(&page, language)?);
        text.push('\n');
    }
    Ok(text)
}

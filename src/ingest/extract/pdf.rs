//! PDF: the text layer with `pdftotext` (poppler); pages without one (scans) go through
//! `pdftoppm` and OCR, rendered at the resolution of the scans they hold (see
//! [`scan_resolution`]).

use std::path::Path;
use std::process::Command;

use super::{ExtractError, ocr};

/// Fewer visible characters than this per page means "no text layer": OCR it.
const MIN_CHARS_PER_PAGE: usize = 20;
/// Scanned pages OCR'd at most (the sandbox's CPU limit bounds the rest).
const MAX_OCR_PAGES: u32 = 50;
/// Pages are rendered at the scans' own resolution within these bounds, else at the default.
const MIN_DPI: u32 = 100;
const MAX_DPI: u32 = 400;
const DEFAULT_DPI: u32 = 300;

/// The text, and how many pages were read by OCR (none when the PDF has a text layer).
pub fn to_text(path: &Path, ocr: &ocr::OcrOptions) -> Result<(String, usize), ExtractError> {
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
        return Ok((text.replace('\u{c}', "\n"), 0));
    }
    ocr_pages(path, ocr)
}

fn ocr_pages(path: &Path, ocr: &ocr::OcrOptions) -> Result<(String, usize), ExtractError> {
    let dir = tempfile::tempdir()?;
    let prefix = dir.path().join("page");
    let dpi = scan_resolution(path).unwrap_or(DEFAULT_DPI).clamp(MIN_DPI, MAX_DPI);
    let status = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-gray", "-png", "-l", &MAX_OCR_PAGES.to_string()])
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
    for page in &pages {
        text.push_str(&ocr::image_to_text(page, ocr)?);
        text.push('\n');
    }
    Ok((text, pages.len()))
}

/// The resolution of the scans in the PDF — the highest horizontal pixels per inch that
/// `pdfimages -list` reports — so that OCR's clean-up gets the scanner's own pixels. Rendered at
/// 300 dpi, a 150-dpi scan came out doubled and blurred, its speckles grown into blobs that the
/// despeckling (sized by the enlargement it does itself) no longer removed: 6–16% of characters
/// wrong on the OCR corpus, against under 1% for the same scan uploaded as an image. `None`
/// when the PDF has no images (or `pdfimages` cannot tell).
fn scan_resolution(path: &Path) -> Option<u32> {
    let output = Command::new("pdfimages").args(["-list", "-l", &MAX_OCR_PAGES.to_string()]).arg(path).output().ok()?;
    // Columns: page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(2)
        .filter_map(|line| line.split_whitespace().nth(12)?.parse::<u32>().ok())
        .max()
}

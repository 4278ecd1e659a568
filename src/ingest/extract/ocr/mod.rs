//! OCR of images (and of scanned PDF pages) with tesseract. Each page is cleaned up first (see
//! `prepare`): tesseract reads a clean 300-dpi page almost perfectly, but what a poor office scan
//! adds — small text, speckles, a slight tilt — made it drop whole paragraphs. The language packs
//! come from the server (`ingest::ocr_languages`), which knows which are installed.

mod prepare;

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ExtractError;

/// Where tesseract finds its packs, and which to use: `-l` and `--tessdata-dir`.
#[derive(Clone, Debug, Default)]
pub struct OcrOptions {
    pub packs: String,
    pub data_dir: Option<PathBuf>,
}

/// The text of the image at `path`, cleaned up first when this build can decode it; a format
/// it cannot (or a multi-page TIFF, whose later pages the decoder would drop) goes to tesseract
/// as it is, which reads every page of it.
pub fn image_to_text(path: &Path, options: &OcrOptions) -> Result<String, ExtractError> {
    let Some(page) = clean_scan(path)? else {
        return tesseract(path, options);
    };
    let cleaned = tempfile::Builder::new().prefix("page-").suffix(".png").tempfile()?;
    page.save_with_format(cleaned.path(), image::ImageFormat::Png)
        .map_err(|e| ExtractError::Tool { tool: "image", reason: e.to_string() })?;
    tesseract(cleaned.path(), options)
}

/// The image at `path` decoded and cleaned up for OCR, or `None` when tesseract should read the
/// file as it is (see [`image_to_text`]).
pub fn clean_scan(path: &Path) -> Result<Option<image::GrayImage>, ExtractError> {
    Ok(prepare::load(path)?.map(prepare::clean))
}

fn tesseract(path: &Path, options: &OcrOptions) -> Result<String, ExtractError> {
    let mut command = Command::new("tesseract");
    if let Some(dir) = &options.data_dir {
        command.arg("--tessdata-dir").arg(dir);
    }
    // Page segmentation 3 (automatic, no orientation detection): columns and headings of
    // office documents keep their reading order, which a single-block mode would interleave.
    let output = command
        .arg(path)
        .arg("stdout")
        .args(["-l", &options.packs, "--psm", "3"])
        .output()
        .map_err(|e| ExtractError::Tool { tool: "tesseract", reason: e.to_string() })?;
    if !output.status.success() {
        return Err(ExtractError::Tool {
            tool: "tesseract",
            reason: String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("failed").to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

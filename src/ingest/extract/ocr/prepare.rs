//! A scanned page made easy for tesseract: text enlarged to the size tesseract reads best,
//! speckles removed, the page turned straight. Measured on the OCR corpus (`anaspoc bench
//! --ocr`): each step on its own fixed one kind of damage — enlarging the half-resolution and
//! 150-dpi pages, the median filter the speckled and fax pages, straightening the tilted ones,
//! whose paragraphs tesseract's layout analysis otherwise dropped.

use std::path::Path;

use image::imageops::FilterType;
use image::{GrayImage, ImageError, ImageFormat, ImageReader, Limits, Luma};
use imageproc::contrast::{ThresholdType, otsu_level, threshold};
use imageproc::geometric_transformations::{Border, Interpolation, rotate_about_center};
use imageproc::region_labelling::{Connectivity, connected_components};

use super::super::ExtractError;

/// Median height in pixels of the glyphs tesseract reads best (about 10-point text at 300 dpi).
const TARGET_GLYPH_HEIGHT: f32 = 24.0;
/// Enlarging by less than this gains nothing and costs time.
const MIN_ENLARGEMENT: f32 = 1.2;
const MAX_ENLARGEMENT: f32 = 4.0;
/// No page is enlarged past this many pixels (tesseract's memory grows with them).
const MAX_PIXELS: f32 = 36_000_000.0;
/// Larger tilts are a page scanned sideways or upside down, not a skew.
const MAX_SKEW_DEGREES: f32 = 5.0;
/// The largest image decoded: 20,000 pixels a side, 512 MiB of decoder memory.
const MAX_SIDE: u32 = 20_000;
const MAX_DECODER_BYTES: u64 = 512 * 1024 * 1024;

/// The page at `path` in grey, or `None` when it should go to tesseract as it is: a format
/// this build does not decode, a TIFF of several pages, or a file this decoder refuses (leptonica
/// may still read it; if it cannot either, tesseract's reason fails the job).
pub fn load(path: &Path) -> Result<Option<GrayImage>, ExtractError> {
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    match reader.format() {
        None => return Ok(None),
        Some(ImageFormat::Tiff) if tiff_pages(path) != Some(1) => return Ok(None),
        Some(_) => {}
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_BYTES);
    reader.limits(limits);
    match reader.decode() {
        Ok(image) => Ok(Some(image.to_luma8())),
        Err(ImageError::Limits(_)) => {
            Err(ExtractError::TooLarge(format!("an image larger than {MAX_SIDE} pixels a side")))
        }
        Err(_) => Ok(None),
    }
}

/// Pages in a TIFF, counting to two (all that matters is whether there is more than one);
/// `None` when the decoder cannot tell.
fn tiff_pages(path: &Path) -> Option<usize> {
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut decoder = tiff::decoder::Decoder::new(file).ok()?;
    let mut pages = 1;
    while pages < 2 && decoder.more_images() {
        decoder.next_image().ok()?;
        pages += 1;
    }
    Some(pages)
}

/// Enlarge, despeckle, straighten.
pub fn clean(page: GrayImage) -> GrayImage {
    let (page, factor) = enlarge(page);
    // Speckles grow with the page: the filter's radius follows the enlargement (a 3×3 median
    // removes single pixels, 7×7 the blobs a 2.7-fold enlargement makes of them), while the
    // strokes of the enlarged glyphs stay wider than it removes.
    let radius = (factor.round() as u32).max(1);
    let page = imageproc::filter::median_filter(&page, radius, radius);
    straighten(page)
}

/// The page scaled so that its glyphs are about [`TARGET_GLYPH_HEIGHT`] high, and the factor.
fn enlarge(page: GrayImage) -> (GrayImage, f32) {
    let Some(height) = glyph_height(&binarise(&page)) else {
        return (page, 1.0);
    };
    let pixels = page.width() as f32 * page.height() as f32;
    let factor = (TARGET_GLYPH_HEIGHT / height).clamp(1.0, MAX_ENLARGEMENT).min((MAX_PIXELS / pixels).sqrt());
    if factor < MIN_ENLARGEMENT {
        return (page, 1.0);
    }
    let (width, height) = ((page.width() as f32 * factor) as u32, (page.height() as f32 * factor) as u32);
    (image::imageops::resize(&page, width, height, FilterType::CatmullRom), factor)
}

/// Median height of the dark connected components that could be glyphs (a few pixels up to a
/// few hundred), or `None` on a page with too few of them to tell (a photo, an empty page).
fn glyph_height(binary: &GrayImage) -> Option<f32> {
    let labels = connected_components(binary, Connectivity::Eight, Luma([255u8]));
    // Per label: top row, bottom row, pixels.
    let mut extents: Vec<(u32, u32, u32)> = Vec::new();
    for (_, y, label) in labels.enumerate_pixels() {
        let label = label.0[0] as usize;
        if label == 0 {
            continue;
        }
        if extents.len() < label {
            extents.resize(label, (u32::MAX, 0, 0));
        }
        let extent = &mut extents[label - 1];
        extent.0 = extent.0.min(y);
        extent.1 = extent.1.max(y);
        extent.2 += 1;
    }
    let mut heights: Vec<u32> = extents
        .iter()
        .filter(|(_, _, pixels)| *pixels >= 6)
        .map(|(top, bottom, _)| bottom - top + 1)
        .filter(|height| (4..300).contains(height))
        .collect();
    if heights.len() < 20 {
        return None;
    }
    let middle = heights.len() / 2;
    Some(*heights.select_nth_unstable(middle).1 as f32)
}

/// Black ink on white by Otsu's threshold.
fn binarise(page: &GrayImage) -> GrayImage {
    threshold(page, otsu_level(page), ThresholdType::Binary)
}

/// The page turned by its skew, when it has one worth turning.
fn straighten(page: GrayImage) -> GrayImage {
    // Half size is plenty to measure the angle, and four times quicker.
    let small =
        image::imageops::resize(&page, (page.width() / 2).max(1), (page.height() / 2).max(1), FilterType::Triangle);
    let skew = skew_degrees(&binarise(&small));
    if skew.abs() < 0.1 {
        return page;
    }
    rotate_about_center(&page, -skew.to_radians(), Interpolation::Bilinear, Border::Constant(Luma([255])))
}

/// The page's skew in degrees (clockwise positive), by projection profiles: rows of text cast
/// the sharpest profile — the largest sum of squared ink per row — when the rows are level.
/// Coarse steps of half a degree, then twentieths around the best.
pub fn skew_degrees(binary: &GrayImage) -> f32 {
    let ink: Vec<(f32, f32)> =
        binary.enumerate_pixels().filter(|(_, _, p)| p.0[0] == 0).map(|(x, y, _)| (x as f32, y as f32)).collect();
    if ink.is_empty() {
        return 0.0;
    }
    // Rows of the profile: every rotated y falls within ±(width + height).
    let reach = (binary.width() + binary.height()) as f32;
    let mut rows = vec![0u32; 2 * reach as usize + 2];
    let mut sharpness = |degrees: f32| -> f64 {
        rows.fill(0);
        let (sin, cos) = degrees.to_radians().sin_cos();
        for &(x, y) in &ink {
            rows[(y * cos - x * sin + reach) as usize] += 1;
        }
        rows.iter().map(|&n| f64::from(n) * f64::from(n)).sum()
    };
    let mut best = |from: f32, to: f32, step: f32| -> f32 {
        let steps = ((to - from) / step).round() as i32;
        (0..=steps)
            .map(|i| from + i as f32 * step)
            .map(|degrees| (sharpness(degrees), degrees))
            .fold((f64::MIN, 0.0), |best, candidate| if candidate.0 > best.0 { candidate } else { best })
            .1
    };
    let coarse = best(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES, 0.5);
    best(coarse - 0.5, coarse + 0.5, 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ocr_corpus::{Corpus, Degradation, SAMPLES};

    fn page(text: &str, how: Degradation, seed: u64) -> Vec<u8> {
        Corpus::load().expect("DejaVu Sans").page(text, how, seed).expect("page")
    }

    fn decoded(bytes: &[u8]) -> GrayImage {
        image::load_from_memory(bytes).expect("decodes").to_luma8()
    }

    #[test]
    fn a_tilted_page_is_measured_and_turned_straight() {
        let tilted = decoded(&page(SAMPLES[0].text, Degradation::Rotated, 1));
        let skew = skew_degrees(&binarise(&tilted));
        assert!((skew - 1.5).abs() < 0.15, "measured {skew}°, tilted by 1.5°");
        let straight = straighten(tilted);
        let left = skew_degrees(&binarise(&straight));
        assert!(left.abs() < 0.15, "{left}° left after straightening");
        let level = decoded(&page(SAMPLES[0].text, Degradation::Clean, 1));
        assert!(skew_degrees(&binarise(&level)).abs() < 0.1);
    }

    #[test]
    fn what_this_decoder_refuses_goes_to_tesseract_as_it_is() {
        let dir = tempfile::tempdir().expect("dir");
        let damaged = dir.path().join("damaged.png");
        let mut bytes = page(SAMPLES[0].text, Degradation::Clean, 1);
        bytes.truncate(bytes.len() / 3);
        bytes.extend_from_slice(b"not the rest of the picture");
        std::fs::write(&damaged, bytes).expect("write");
        assert!(load(&damaged).expect("not an error of ours").is_none());
        let unknown = dir.path().join("page.jp2");
        std::fs::write(&unknown, b"\0\0\0\x0cjP  \r\n\x87\n").expect("write");
        assert!(load(&unknown).expect("not an error of ours").is_none());
        let fax = dir.path().join("fax.tif");
        std::fs::write(&fax, page(SAMPLES[0].text, Degradation::Fax, 1)).expect("write");
        assert!(load(&fax).expect("one page").is_some(), "a one-page TIFF is cleaned up");
    }

    #[test]
    fn small_text_is_enlarged_and_speckles_removed() {
        let clean_height =
            glyph_height(&binarise(&decoded(&page(SAMPLES[1].text, Degradation::Clean, 1)))).expect("glyphs");
        let half = decoded(&page(SAMPLES[1].text, Degradation::HalfResolution, 1));
        let (enlarged, factor) = enlarge(half);
        assert!(factor > 2.0, "half-resolution text enlarged {factor}-fold");
        let height = glyph_height(&binarise(&enlarged)).expect("glyphs");
        assert!((height - TARGET_GLYPH_HEIGHT).abs() <= 4.0, "glyphs {height} px high (clean page: {clean_height})");

        let specks = |page: &GrayImage| {
            let labels = connected_components(&binarise(page), Connectivity::Eight, Luma([255u8]));
            let mut sizes = std::collections::HashMap::<u32, u32>::new();
            labels.pixels().filter(|l| l.0[0] != 0).for_each(|l| *sizes.entry(l.0[0]).or_default() += 1);
            sizes.values().filter(|&&pixels| pixels <= 2).count()
        };
        let speckled = decoded(&page(SAMPLES[1].text, Degradation::Speckled, 1));
        let before = specks(&speckled);
        let after = specks(&clean(speckled));
        assert!(before > 1000 && after < before / 50, "specks of one or two pixels: {before} before, {after} after");
    }
}

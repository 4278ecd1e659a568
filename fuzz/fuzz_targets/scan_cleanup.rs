//! The clean-up of scans before OCR — decoding PNG, JPEG, TIFF, BMP, GIF, WebP or PNM, then
//! enlarging, despeckling and straightening — on any bytes: a page, `None` (tesseract reads it
//! as it is) or a reasoned error, never a panic.
#![no_main]

use std::io::Write;

use anaspoc::ingest::extract::clean_scan;
use libfuzzer_sys::fuzz_target;

/// Larger pictures are legal but slow to clean (up to 36 Mpx once enlarged): the sandbox's CPU
/// limit bounds them in production; here they would only be reported as time-outs.
const MAX_PIXELS: u64 = 250_000;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = image::ImageReader::new(std::io::Cursor::new(data)).with_guessed_format() else { return };
    if reader.into_dimensions().is_ok_and(|(w, h)| u64::from(w) * u64::from(h) > MAX_PIXELS) {
        return;
    }
    let mut file = tempfile::NamedTempFile::new_in(scratch()).expect("temp file");
    file.write_all(data).expect("write");
    let _ = clean_scan(file.path());
});

/// Memory-backed where there is one: the target writes a file per input.
fn scratch() -> &'static str {
    if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" }
}

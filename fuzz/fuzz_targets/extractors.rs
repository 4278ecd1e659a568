//! The in-process extractors — plain text in any encoding, HTML, e-mail (EML) and the office
//! formats (DOCX, XLSX, PPTX, ODT, ODS, ODP) — on any bytes: text or a reasoned error, never a
//! panic. The first byte picks the format, as the media-type sniffer would have; PDF and images
//! go to external tools inside the sandbox (images after `scan_cleanup`, fuzzed on its own).
#![no_main]

use std::io::Write;

use anaspoc::ingest::extract::{OcrOptions, extract_file};
use libfuzzer_sys::fuzz_target;

const FORMATS: [&str; 11] = [
    "text/plain",
    "text/plain; charset=utf-8",
    "text/html",
    "message/rfc822",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/zip",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let media_type = FORMATS[usize::from(selector) % FORMATS.len()];
    let mut file = tempfile::NamedTempFile::new_in(scratch()).expect("temp file");
    file.write_all(bytes).expect("write");
    let _ = extract_file(file.path(), media_type, &OcrOptions::default());
});

/// Memory-backed where there is one: the target writes a file per input.
fn scratch() -> &'static str {
    if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" }
}

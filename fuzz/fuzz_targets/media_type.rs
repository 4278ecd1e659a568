//! Media-type detection from a file's first bytes: any bytes give one well-formed media type
//! (`type/subtype`), and the same bytes always the same one.
#![no_main]

use anaspoc::documents::detect_media_type;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let detected = detect_media_type(data);
    let (kind, subtype) = detected.split_once('/').unwrap_or_else(|| panic!("{detected:?}"));
    assert!(!kind.is_empty() && !subtype.is_empty(), "{detected:?}");
    assert!(detected.is_ascii() && !detected.contains(|c: char| c.is_ascii_control()), "{detected:?}");
    assert_eq!(detect_media_type(data), detected);
});

//! The filename sanitiser: any name a client sends becomes a safe, bounded file name — no path
//! separators, no control or quoting characters, at most 200 characters, never empty, never
//! `.` or `..`.
#![no_main]

use anaspoc::documents::sanitise_filename;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    for input in [Some(raw.as_ref()), None] {
        let name = sanitise_filename(input);
        assert!(!name.is_empty(), "{input:?}");
        assert!(!name.contains(['/', '\\']), "{input:?} -> {name:?}");
        assert!(!name.chars().any(char::is_control), "{input:?} -> {name:?}");
        assert!(!name.starts_with('.') && !name.starts_with(char::is_whitespace), "{input:?} -> {name:?}");
        assert!(name.chars().count() <= 200, "{input:?} -> {} characters", name.chars().count());
        assert_eq!(sanitise_filename(Some(&name)), name, "sanitising twice changes nothing");
    }
});

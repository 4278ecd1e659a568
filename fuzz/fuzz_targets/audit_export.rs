//! The audit export verifier: any bytes as a JSON Lines export — with the checkpoints the first
//! line may carry — are judged `ok` or `broken` with a reason, never a panic; and a verdict of
//! `ok` means every line is a link of the chain.
#![no_main]

use std::io::Cursor;

use anaspoc::audit::checkpoint::Checkpoint;
use anaspoc::audit::verify::{Verification, verify_export};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    // A first line that is a list of checkpoints is taken as them; otherwise it is an event.
    let (checkpoints, export) = match serde_json::from_slice::<Vec<Checkpoint>>(first) {
        Ok(checkpoints) => (checkpoints, rest),
        Err(_) => (Vec::new(), data),
    };
    let verdict = verify_export(Cursor::new(export), checkpoints);
    if let Verification::Ok { count, .. } = verdict {
        let lines = export.split(|b| *b == b'\n').filter(|l| !String::from_utf8_lossy(l).trim().is_empty()).count();
        assert_eq!(count as usize, lines, "every line counted");
    }
});

//! Which tesseract language packs read a scanned document: the packs of its language when they
//! are installed, else the closest installed ones — never none. A document in a language
//! without a pack is still read and searchable, and its version carries a note saying which
//! pack stood in (its text may be rougher), instead of failing or garbling silently.
//!
//! The server decides (it knows what is installed, from start-up); the sandboxed extractor is
//! told the packs to use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The network's languages as tesseract packs, with the names the notes use.
const NETWORK_PACKS: [(&str, &str); 7] = [
    ("sqi", "Albanian"),
    ("srp", "Serbian (Cyrillic)"),
    ("srp_latn", "Serbian (Latin)"),
    ("mkd", "Macedonian"),
    ("bos", "Bosnian"),
    ("hrv", "Croatian"),
    ("eng", "English"),
];

/// The packs that can stand in for `pack`, closest first (the pack itself first). Serbian,
/// Croatian and Bosnian in Latin script share their alphabet; Serbian and Macedonian Cyrillic
/// differ in a handful of letters; Albanian has no close relative among them, and English has
/// its alphabet without the diacritics.
fn closest(pack: &str) -> &'static [&'static str] {
    match pack {
        "srp" => &["srp", "mkd"],
        "mkd" => &["mkd", "srp"],
        "srp_latn" => &["srp_latn", "hrv", "bos"],
        "hrv" => &["hrv", "bos", "srp_latn"],
        "bos" => &["bos", "hrv", "srp_latn"],
        "sqi" => &["sqi", "eng", "hrv"],
        "eng" => &["eng", "hrv", "srp_latn"],
        _ => &[],
    }
}

/// The packs a document in `language` (a BCP 47 tag) wants. Unknown or absent: every pack of
/// the network (slower, but it reads any of them).
pub fn wanted_packs(language: Option<&str>) -> Vec<&'static str> {
    let mut parts = language.unwrap_or_default().split('-').map(str::to_ascii_lowercase);
    let (primary, script) = (parts.next().unwrap_or_default(), parts.next());
    match (primary.as_str(), script.as_deref()) {
        ("sr", Some("latn")) => vec!["srp_latn"],
        ("sr", Some("cyrl")) => vec!["srp"],
        // Serbian and Montenegrin documents mix the scripts: both packs.
        ("sr" | "cnr" | "me", _) => vec!["srp", "srp_latn"],
        ("mk", _) => vec!["mkd"],
        ("sq", _) => vec!["sqi"],
        ("bs", _) => vec!["bos"],
        ("hr", _) => vec!["hrv"],
        ("en", _) => vec!["eng"],
        _ => NETWORK_PACKS.iter().map(|(pack, _)| *pack).collect(),
    }
}

fn name_of(pack: &str) -> &str {
    NETWORK_PACKS.iter().find(|(code, _)| *code == pack).map_or(pack, |(_, name)| name)
}

/// The packs to OCR one document with, and why they are not the ones it wanted, if they are not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcrPlan {
    /// Tesseract's `-l` argument, e.g. `srp+srp_latn`.
    pub packs: String,
    /// Set when a pack stood in for a missing one: recorded on the version.
    pub note: Option<String>,
}

/// The language packs installed for tesseract on this machine (read once, at start-up).
#[derive(Clone, Debug, Default)]
pub struct OcrLanguages {
    installed: BTreeSet<String>,
    data_dir: Option<PathBuf>,
}

impl OcrLanguages {
    /// Ask tesseract which packs it has (`--list-langs`), in `data_dir` when one is configured.
    /// Without tesseract: none (every OCR job then fails with tesseract's reason, and readiness
    /// lists every pack as missing).
    pub fn detect(data_dir: Option<&Path>) -> Self {
        let mut command = Command::new("tesseract");
        if let Some(dir) = data_dir {
            command.arg("--tessdata-dir").arg(dir);
        }
        let installed = match command.arg("--list-langs").output() {
            // The first line is a header ("List of available languages in …"); one pack a line.
            Ok(output) => String::from_utf8_lossy(&output.stdout)
                .lines()
                .skip(1)
                .map(str::trim)
                .filter(|pack| !pack.is_empty() && *pack != "osd")
                .map(str::to_owned)
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "tesseract cannot be run: images and scanned PDFs will not be read");
                BTreeSet::new()
            }
        };
        Self { installed, data_dir: data_dir.map(Path::to_path_buf) }
    }

    pub fn from_installed<'a>(packs: impl IntoIterator<Item = &'a str>) -> Self {
        Self { installed: packs.into_iter().map(str::to_owned).collect(), data_dir: None }
    }

    /// The configured tessdata directory, if tesseract's own is not used.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    pub fn available(&self) -> Vec<String> {
        self.installed.iter().cloned().collect()
    }

    /// The network's packs that are not installed.
    pub fn missing(&self) -> Vec<&'static str> {
        NETWORK_PACKS.iter().map(|(pack, _)| *pack).filter(|pack| !self.installed.contains(*pack)).collect()
    }

    /// The packs for a document in `language`: each wanted pack, or the closest installed one.
    pub fn plan(&self, language: Option<&str>) -> OcrPlan {
        let mut packs: Vec<&str> = Vec::new();
        let mut stand_ins: Vec<String> = Vec::new();
        let mut unread: Vec<&str> = Vec::new();
        for wanted in wanted_packs(language) {
            match closest(wanted).iter().find(|pack| self.installed.contains(**pack)) {
                Some(&pack) => {
                    if pack != wanted {
                        stand_ins.push(format!("{} ({pack}) for {} ({wanted})", name_of(pack), name_of(wanted)));
                    }
                    if !packs.contains(&pack) {
                        packs.push(pack);
                    }
                }
                None => unread.push(wanted),
            }
        }
        if packs.is_empty() {
            // Nothing close is installed: any pack reads more than none — English first, the
            // pack every tesseract installation has.
            let Some(pack) = ["eng", "srp_latn", "hrv", "bos", "sqi", "srp", "mkd"]
                .into_iter()
                .find(|pack| self.installed.contains(*pack))
            else {
                // No pack at all: tesseract itself will say what is missing.
                return OcrPlan { packs: unread.join("+"), note: None };
            };
            packs.push(pack);
            stand_ins.extend(unread.iter().map(|w| format!("{} ({pack}) for {} ({w})", name_of(pack), name_of(w))));
        } else {
            // Beside packs that are installed, a wanted one with nothing close: its script may
            // go unread (Serbian Cyrillic with only Latin packs), which the reader must know.
            stand_ins.extend(unread.iter().map(|w| format!("no pack for {} ({w})", name_of(w))));
        }
        let note = (!stand_ins.is_empty()).then(|| {
            format!(
                "read by OCR with a stand-in: {} — the language pack it needs is not installed on the server, so the \
                 text may be less accurate",
                stand_ins.join("; ")
            )
        });
        OcrPlan { packs: packs.join("+"), note }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 7] = ["sqi", "srp", "srp_latn", "mkd", "bos", "hrv", "eng"];

    #[test]
    fn languages_choose_their_packs() {
        let all = OcrLanguages::from_installed(ALL);
        for (language, packs) in [
            (Some("sr"), "srp+srp_latn"),
            (Some("sr-Latn"), "srp_latn"),
            (Some("sr-Cyrl"), "srp"),
            (Some("cnr"), "srp+srp_latn"),
            (Some("mk"), "mkd"),
            (Some("sq"), "sqi"),
            (Some("bs"), "bos"),
            (Some("hr"), "hrv"),
            (Some("en-GB"), "eng"),
            (None, "sqi+srp+srp_latn+mkd+bos+hrv+eng"),
            (Some("de"), "sqi+srp+srp_latn+mkd+bos+hrv+eng"),
        ] {
            assert_eq!(all.plan(language), OcrPlan { packs: packs.into(), note: None }, "{language:?}");
        }
        assert!(all.missing().is_empty());
    }

    #[test]
    fn a_missing_pack_is_replaced_by_the_closest_installed_one_with_a_note() {
        let without_croatian = OcrLanguages::from_installed(["eng", "srp", "srp_latn", "bos"]);
        let plan = without_croatian.plan(Some("hr"));
        assert_eq!(plan.packs, "bos");
        let note = plan.note.expect("a note");
        assert!(note.contains("Bosnian (bos) for Croatian (hrv)"), "{note}");
        assert_eq!(without_croatian.missing(), ["sqi", "mkd", "hrv"]);

        let only_serbian_latin = OcrLanguages::from_installed(["eng", "srp_latn"]);
        assert_eq!(only_serbian_latin.plan(Some("bs")).packs, "srp_latn");
        // Macedonian without its pack: Serbian Cyrillic, never a Latin pack.
        assert_eq!(OcrLanguages::from_installed(["eng", "srp"]).plan(Some("mk")).packs, "srp");
        // Both Serbian packs wanted, one missing: the other alone, and a note.
        let plan = OcrLanguages::from_installed(["eng", "srp_latn", "hrv"]).plan(Some("sr"));
        assert_eq!(plan.packs, "srp_latn");
        assert!(plan.note.is_some_and(|n| n.contains("for Serbian (Cyrillic) (srp)")));
        // An installed pack needs no note.
        assert_eq!(OcrLanguages::from_installed(["eng", "hrv"]).plan(Some("hr")).note, None);
    }

    #[test]
    fn with_nothing_close_installed_any_pack_reads_rather_than_none() {
        let plan = OcrLanguages::from_installed(["eng"]).plan(Some("mk"));
        assert_eq!(plan.packs, "eng");
        assert!(plan.note.is_some_and(|n| n.contains("English (eng) for Macedonian (mkd)")));
        // No pack at all: tesseract is asked for the wanted one and fails with its own reason.
        assert_eq!(OcrLanguages::from_installed([]).plan(Some("mk")), OcrPlan { packs: "mkd".into(), note: None });
    }
}

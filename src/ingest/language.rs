//! Language of a document's text, when the uploader did not give one: Albanian, Bosnian,
//! Croatian, English, Macedonian or Serbian (lingua's statistical models). Serbian, Bosnian and
//! Croatian written in Latin script are close; the detector's best guess is kept.

use std::sync::OnceLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

/// Characters looked at: enough for a stable answer, bounded for long texts.
const SAMPLE_CHARS: usize = 4000;
/// Shorter texts are too little to tell.
const MIN_LETTERS: usize = 20;

fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        LanguageDetectorBuilder::from_languages(&[
            Language::Albanian,
            Language::Bosnian,
            Language::Croatian,
            Language::English,
            Language::Macedonian,
            Language::Serbian,
        ])
        .build()
    })
}

/// ISO 639-1 code of the text's language, or `None` when there is too little text.
pub fn detect(text: &str) -> Option<String> {
    let sample: String = text.chars().take(SAMPLE_CHARS).collect();
    if sample.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    detector().detect_language_of(&sample).map(|language| language.iso_code_639_1().to_string())
}

/// [`detect`] on a blocking thread: detection is CPU work (about a millisecond) that would
/// otherwise hold up an async worker — and with it every request and job sharing that worker.
pub async fn detect_apart(text: String) -> Option<String> {
    tokio::task::spawn_blocking(move || detect(&text)).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn the_network_languages_are_told_apart() {
        let cases = [
            (
                "sq",
                "Policia e Shtetit ka arrestuar sot disa persona të dyshuar për trafikim të lëndëve narkotike në Shqipëri.",
            ),
            (
                "mk",
                "Министерството за внатрешни работи соопшти дека полицијата уапсила повеќе лица осомничени за трговија со дрога.",
            ),
            (
                "sr",
                "Министарство унутрашњих послова саопштило је да је полиција ухапсила више особа осумњичених за трговину дрогом.",
            ),
            (
                "en",
                "The Ministry of Interior announced that the police arrested several persons suspected of drug trafficking.",
            ),
        ];
        for (code, text) in cases {
            assert_eq!(detect(text).as_deref(), Some(code), "{text}");
        }
        let latin = detect(
            "Ministarstvo unutrašnjih poslova saopćilo je da je policija uhapsila više osoba osumnjičenih za trgovinu drogom.",
        );
        assert!(matches!(latin.as_deref(), Some("sr" | "bs" | "hr")), "{latin:?}");
        assert_eq!(detect("kratko"), None);
    }
}

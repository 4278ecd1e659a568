//! OCR of images (and of scanned PDF pages) with tesseract, in the document's language: the
//! wrong language pack garbles Cyrillic, so the language decides the packs.

use std::path::Path;
use std::process::Command;

use super::ExtractError;

/// Tesseract language packs for a BCP 47 tag; unknown or absent: every pack of the network.
pub fn tesseract_languages(language: Option<&str>) -> &'static str {
    let primary = language.and_then(|l| l.split('-').next()).map(str::to_ascii_lowercase);
    let script = language.and_then(|l| l.split('-').nth(1)).map(str::to_ascii_lowercase);
    match (primary.as_deref(), script.as_deref()) {
        (Some("sr"), Some("latn")) => "srp_latn",
        (Some("sr"), Some("cyrl")) => "srp",
        (Some("sr" | "cnr" | "me"), _) => "srp+srp_latn",
        (Some("mk"), _) => "mkd",
        (Some("sq"), _) => "sqi",
        (Some("bs"), _) => "bos",
        (Some("hr"), _) => "hrv",
        (Some("en"), _) => "eng",
        _ => "srp+srp_latn+mkd+sqi+hrv+bos+eng",
    }
}

pub fn image_to_text(path: &Path, language: Option<&str>) -> Result<String, ExtractError> {
    let output = Command::new("tesseract")
        .arg(path)
        .arg("stdout")
        .args(["-l", tesseract_languages(language), "--psm", "3"])
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

#[cfg(test)]
mod tests {
    use super::tesseract_languages;

    #[test]
    fn languages_choose_packs() {
        assert_eq!(tesseract_languages(Some("sr")), "srp+srp_latn");
        assert_eq!(tesseract_languages(Some("sr-Latn")), "srp_latn");
        assert_eq!(tesseract_languages(Some("mk")), "mkd");
        assert_eq!(tesseract_languages(Some("sq")), "sqi");
        assert_eq!(tesseract_languages(None), "srp+srp_latn+mkd+sqi+hrv+bos+eng");
    }
}

//! Plain text and Markdown: UTF-8, or a legacy encoding (Windows-1250 for Latin, Windows-1251
//! for Cyrillic, …) detected from the bytes.

/// Decode `bytes` to text, detecting the encoding when it is not UTF-8.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let encoding = detector.guess(None, true);
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn legacy_encodings_are_detected() {
        let cyrillic = "Организовани криминал у Београду и Нишу, трговина људима и дрогом.";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(cyrillic);
        assert_eq!(decode(&cp1251), cyrillic);
        let latin = "Organizirani kriminal: šverc cigareta preko Šamca, Đakova i Čapljine, ženski žrtve.";
        let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode(latin);
        assert_eq!(decode(&cp1250), latin);
        assert_eq!(decode("\u{feff}Shqipëri".as_bytes()), "Shqipëri");
    }
}

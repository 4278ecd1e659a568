//! Media type of an upload, detected from its first bytes — never taken from the client.

/// `head` is the start of the file (see `storage::upload::SNIFF_BYTES`).
pub fn detect_media_type(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if looks_like_html(head) {
        return "text/html".to_owned();
    }
    if is_text(head) {
        return "text/plain; charset=utf-8".to_owned();
    }
    "application/octet-stream".to_owned()
}

fn looks_like_html(head: &[u8]) -> bool {
    let start: Vec<u8> = head.iter().skip_while(|b| b.is_ascii_whitespace()).take(64).copied().collect();
    let start = String::from_utf8_lossy(&start).to_ascii_lowercase();
    let start = start.trim_start_matches('\u{feff}');
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

/// UTF-8 without NUL bytes; the head may end inside a multi-byte character.
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::detect_media_type;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(detect_media_type(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "application/pdf");
        assert_eq!(detect_media_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(detect_media_type("Анализа организованог криминала".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(detect_media_type(b"  <!DOCTYPE html><html><body>x"), "text/html");
        assert_eq!(detect_media_type(b"\0\x01\x02binary"), "application/octet-stream");
        // A Cyrillic character cut in half at the end of the sniffed head is still text.
        let text = "Београд".as_bytes();
        assert_eq!(detect_media_type(&text[..text.len() - 1]), "text/plain; charset=utf-8");
    }
}

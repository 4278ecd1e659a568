//! Media type of an upload, detected from its first bytes — never taken from the client.

/// `head` is the start of the file (see `storage::upload::SNIFF_BYTES`).
pub fn detect_media_type(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        if kind.mime_type() == "application/zip"
            && let Some(office) = office_package(head)
        {
            return office.to_owned();
        }
        return kind.mime_type().to_owned();
    }
    if looks_like_html(head) {
        return "text/html".to_owned();
    }
    if is_text(head) && looks_like_mail(head) {
        return "message/rfc822".to_owned();
    }
    if is_text(head) {
        return "text/plain; charset=utf-8".to_owned();
    }
    if is_legacy_text(head) {
        // Windows-1250/1251 and other single-byte encodings: the extractor detects which.
        return "text/plain".to_owned();
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

/// An RFC 5322 message: a block of `Name: value` header lines, among them the ones every mail has.
fn looks_like_mail(head: &[u8]) -> bool {
    const KNOWN: [&str; 8] = ["from", "to", "subject", "date", "received", "message-id", "mime-version", "return-path"];
    let text = String::from_utf8_lossy(head);
    let mut headers = 0;
    let mut known = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue; // a folded continuation
        }
        let Some((name, _)) = line.split_once(':') else { return false };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return false;
        }
        headers += 1;
        if KNOWN.contains(&name.to_ascii_lowercase().as_str()) {
            known += 1;
        }
    }
    headers >= 2 && known >= 2
}

/// An Office Open XML package whose parts the generic sniffer did not recognise, by the part
/// names in the ZIP's first local headers.
fn office_package(head: &[u8]) -> Option<&'static str> {
    let has = |name: &[u8]| head.windows(name.len()).any(|w| w == name);
    if has(b"word/") {
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    } else if has(b"xl/") {
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    } else if has(b"ppt/") {
        Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
    } else {
        None
    }
}

/// No NUL and no control bytes besides tab, line breaks, form feed and escape: text in some
/// single-byte encoding. Binary formats have control bytes within their first kilobytes.
fn is_legacy_text(head: &[u8]) -> bool {
    !head.is_empty() && head.iter().all(|b| *b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
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
        assert_eq!(detect_media_type(b"From: a@b.rs\r\nTo: c@d.rs\r\nSubject: x\r\n\r\nbody"), "message/rfc822");
        assert_eq!(detect_media_type(b"Napomena: ovo nije mail\nsamo tekst"), "text/plain; charset=utf-8");
        assert_eq!(detect_media_type(b"\xc1\xe5\xee\xe3\xf0\xe0\xe4 Windows-1251"), "text/plain");
        // A Cyrillic character cut in half at the end of the sniffed head is still text.
        let text = "Београд".as_bytes();
        assert_eq!(detect_media_type(&text[..text.len() - 1]), "text/plain; charset=utf-8");
    }
}

//! The filename a client gave a file, made safe to store and to send back in
//! `Content-Disposition`: no directories, no control or quoting characters, bounded length.

const MAX_CHARS: usize = 200;
const FALLBACK: &str = "document";

pub fn sanitise_filename(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or_default();
    // Browsers on Windows send full paths; keep the last component of either separator.
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '<' | '>' | '|' | '*' | '?' | ':'))
        .take(MAX_CHARS)
        .collect();
    // Leading dots and spaces in any mix (". .env" must not come out as ".env"), trailing spaces.
    let cleaned = cleaned.trim_start_matches(|c: char| c == '.' || c.is_whitespace()).trim_end();
    if cleaned.is_empty() { FALLBACK.to_owned() } else { cleaned.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::sanitise_filename;

    #[test]
    fn paths_control_characters_and_quotes_are_removed() {
        assert_eq!(sanitise_filename(Some("C:\\Users\\ana\\Procjena prijetnji.pdf")), "Procjena prijetnji.pdf");
        assert_eq!(sanitise_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(sanitise_filename(Some("a\"b;c\r\nd.txt")), "abcd.txt");
        assert_eq!(sanitise_filename(Some("...hidden")), "hidden");
        // Fuzz finding (`filename`): dots and spaces mixed at the start left a leading dot.
        assert_eq!(sanitise_filename(Some(". .env")), "env");
        assert_eq!(sanitise_filename(Some(".. \0\0;\0..?.\0\0\0\0n")), "n");
        assert_eq!(sanitise_filename(Some("Анализа ризика.docx")), "Анализа ризика.docx");
        assert_eq!(sanitise_filename(Some("   ")), "document");
        assert_eq!(sanitise_filename(None), "document");
        assert_eq!(sanitise_filename(Some(&"x".repeat(500))).chars().count(), 200);
    }
}

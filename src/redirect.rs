//! Where the platform may send a browser back to after a sign-in or a language switch: a path on
//! this site, and nothing a browser could read as another one. Every `return_to` goes through
//! [`local_path`]; anything else goes home.

/// `candidate` if it is a local path, else `"/"`.
pub fn local_path(candidate: Option<&str>) -> &str {
    candidate.filter(|path| is_local(path)).unwrap_or("/")
}

/// A path on this site: printable ASCII only (no control characters such as tab, CR or LF, no
/// look-alike slashes: a path and query from a URL are percent-encoded ASCII), starting with one
/// `/` — not `//` or `/\`, which browsers read as another host — with no backslash at all; and
/// percent-decoded, still one leading `/`, no backslash and no control character.
fn is_local(path: &str) -> bool {
    let shape = |text: &str| {
        text.starts_with('/') && !text.starts_with("//") && !text.contains('\\') && !text.chars().any(char::is_control)
    };
    let decoded: String = url::form_urlencoded::parse(format!("p={path}").as_bytes()).map(|(_, v)| v).collect();
    path.bytes().all(|b| b.is_ascii_graphic()) && shape(path) && shape(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_local_paths_are_kept() {
        for good in [
            "/",
            "/documents/5f0c?tab=versions",
            "/?q=Beograd&tlp=AMBER",
            "/?q=%D0%91%D0%B5%D0%BE%D0%B3%D1%80%D0%B0%D0%B4",
            "/audit?from=2026-01-01",
            "/@user",
        ] {
            assert_eq!(local_path(Some(good)), good, "{good}");
        }
        let hostile = [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "/\tevil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/\r\n/evil.example",
            "/%0d%0aSet-Cookie:x=1",
            "/%5Cevil.example",
            "/%5C%5Cevil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "http:/evil.example",
            "//user:pass@evil.example",
            "evil.example",
            "",
            " /",
            "/ /evil.example",
            "/\u{2215}\u{2215}evil.example",
            "/\u{ff0f}evil.example",
            "/\u{2044}evil.example",
            "/\u{3000}evil",
            "/caf\u{e9}",
        ];
        for bad in hostile {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}

//! HTML: the visible text, without scripts, styles or markup.

use super::text::decode;

pub fn to_text(bytes: &[u8]) -> String {
    let source = decode(bytes);
    let document = scraper::Html::parse_document(&source);
    let mut out = String::new();
    collect(document.root_element(), &mut out);
    out
}

fn collect(element: scraper::ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        if let Some(text) = child.value().as_text() {
            out.push_str(text);
            continue;
        }
        let Some(child_element) = scraper::ElementRef::wrap(child) else { continue };
        match child_element.value().name() {
            "script" | "style" | "noscript" | "template" => {}
            // Of <head>, only the title is text.
            "head" => {
                if let Ok(selector) = scraper::Selector::parse("title")
                    && let Some(title) = child_element.select(&selector).next()
                {
                    out.push_str(&title.text().collect::<String>());
                    out.push('\n');
                }
            }
            name => {
                collect(child_element, out);
                if matches!(
                    name,
                    "p" | "div" | "br" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "section" | "article"
                ) {
                    out.push('\n');
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn visible_text_only() {
        let html = "<html><head><title>Анализа</title><style>p{}</style><script>alert(1)</script></head>\
                    <body><h1>Procjena</h1><p>Trgovina <b>ljudima</b> &amp; droga</p></body></html>";
        let text = super::to_text(html.as_bytes());
        assert!(
            text.contains("Анализа") && text.contains("Procjena") && text.contains("Trgovina ljudima & droga"),
            "{text}"
        );
        assert!(!text.contains("alert") && !text.contains("p{}"), "{text}");
    }
}

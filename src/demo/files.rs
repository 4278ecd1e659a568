//! The demo corpus's files, made from each document's text in the format it is uploaded as: the
//! packages and pages real office software and scanners produce, so that the demo exercises the
//! same extraction (sandbox, OCR) as real uploads. Nothing is downloaded or checked in but text.

use std::io::Write;

use zip::write::SimpleFileOptions;

use super::corpus::{Entry, Format};
use crate::bench::ocr_corpus::{self, Degradation};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("building a package: {0}")]
    Package(#[from] zip::result::ZipError),
    #[error("building a package: {0}")]
    Io(#[from] std::io::Error),
    #[error("drawing the scanned page: {0}")]
    Scan(#[from] ocr_corpus::CorpusError),
}

/// The bytes of `entry`'s file and its file name.
pub fn render(entry: &Entry, email: &str) -> Result<(Vec<u8>, String), FileError> {
    let paragraphs: Vec<&str> = entry.paragraphs().collect();
    let bytes = match entry.format {
        Format::Txt => format!("{}\n\n{}\n", entry.title, paragraphs.join("\n\n")).into_bytes(),
        Format::Md => format!("# {}\n\n{}\n", entry.title, paragraphs.join("\n\n")).into_bytes(),
        Format::Html => html(entry, &paragraphs),
        Format::Docx => docx(&entry.title, &paragraphs)?,
        Format::Odt => odt(&entry.title, &paragraphs)?,
        Format::Pdf => text_pdf(&entry.title, &paragraphs),
        Format::ScannedPdf => {
            ocr_corpus::Corpus::load()?.page(&paragraphs.join("\n"), Degradation::ScannedPdf, seed(&entry.key))?
        }
        Format::Eml => eml(entry, email, &paragraphs),
    };
    Ok((bytes, format!("{}.{}", entry.key, extension(entry.format))))
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Txt => "txt",
        Format::Md => "md",
        Format::Html => "html",
        Format::Docx => "docx",
        Format::Odt => "odt",
        Format::Pdf | Format::ScannedPdf => "pdf",
        Format::Eml => "eml",
    }
}

/// Where the scan's noise falls: the same for the same document everywhere.
fn seed(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(entry: &Entry, paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs.iter().map(|p| format!("<p>{}</p>\n", escape(p))).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n{body}</body></html>\n",
        lang = escape(&entry.language),
        title = escape(&entry.title),
    )
    .into_bytes()
}

/// A ZIP package; OpenDocument's `mimetype` must come first and be stored uncompressed.
fn package(entries: &[(&str, String)]) -> Result<Vec<u8>, FileError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        let options = if *name == "mimetype" {
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
        } else {
            SimpleFileOptions::default()
        };
        zip.start_file(*name, options)?;
        zip.write_all(content.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

fn docx(title: &str, paragraphs: &[&str]) -> Result<Vec<u8>, FileError> {
    let heading = format!(
        r#"<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:rPr><w:b/><w:sz w:val="32"/></w:rPr><w:t>{}</w:t></w:r></w:p>"#,
        escape(title)
    );
    let body: String = paragraphs
        .iter()
        .map(|p| format!(r#"<w:p><w:r><w:t xml:space="preserve">{}</w:t></w:r></w:p>"#, escape(p)))
        .collect();
    package(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_owned(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_owned(),
        ),
        (
            "word/document.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{heading}{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>"#
            ),
        ),
    ])
}

fn odt(title: &str, paragraphs: &[&str]) -> Result<Vec<u8>, FileError> {
    let body: String = paragraphs.iter().map(|p| format!("<text:p>{}</text:p>", escape(p))).collect();
    package(&[
        ("mimetype", "application/vnd.oasis.opendocument.text".to_owned()),
        (
            "META-INF/manifest.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#.to_owned(),
        ),
        (
            "content.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text><text:h text:outline-level="1">{}</text:h>{body}</office:text></office:body></office:document-content>"#,
                escape(title)
            ),
        ),
    ])
}

/// An e-mail as a mail client saves it: UTF-8 body, the subject encoded per RFC 2047.
fn eml(entry: &Entry, email: &str, paragraphs: &[&str]) -> Vec<u8> {
    use base64::Engine;
    let subject = base64::engine::general_purpose::STANDARD.encode(&entry.title);
    format!(
        "From: {email}\r\nTo: analysis-network@anaspoc.example\r\nSubject: =?UTF-8?B?{subject}?=\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        date = chrono::Utc::now().to_rfc2822(),
        body = paragraphs.join("\r\n\r\n"),
    )
    .into_bytes()
}

/// A4 in points, its margins, and the text's size and leading.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const TEXT_PT: f32 = 11.0;
const LEADING: f32 = 15.0;
/// Characters per line of Helvetica at 11 pt across the text width (about 0.5 em each).
const LINE_CHARS: usize = 86;

/// A PDF with a text layer, set in Helvetica (a standard font every reader has, WinAnsi-encoded:
/// characters outside Windows-1252 become `?`, so the corpus keeps these documents in English).
fn text_pdf(title: &str, paragraphs: &[&str]) -> Vec<u8> {
    let mut lines: Vec<(bool, String)> = vec![(true, title.to_owned()), (false, String::new())];
    for paragraph in paragraphs {
        lines.extend(wrap(paragraph, LINE_CHARS).into_iter().map(|line| (false, line)));
        lines.push((false, String::new()));
    }
    let per_page = ((PAGE.1 - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[(bool, String)]> = lines.chunks(per_page.max(1)).collect();

    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        Vec::new(), // the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".to_vec(),
    ];
    let mut kids = Vec::new();
    for page in &pages {
        let mut content = Vec::new();
        let mut y = PAGE.1 - MARGIN;
        for (bold, line) in *page {
            let (font, size) = if *bold { ("F2", TEXT_PT + 3.0) } else { ("F1", TEXT_PT) };
            content.extend_from_slice(format!("BT /{font} {size} Tf {MARGIN} {y} Td (").as_bytes());
            content.extend(pdf_string(line));
            content.extend_from_slice(b") Tj ET\n");
            y -= LEADING;
        }
        let content_number = objects.len() + 2;
        kids.push(format!("{} 0 R", objects.len() + 1));
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> \
                 /Contents {content_number} 0 R >>",
                PAGE.0, PAGE.1
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend(content);
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    objects[1] = format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()).into_bytes();

    ocr_corpus::pdf_file(&objects)
}

/// Words filled into lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A PDF literal string's bytes in WinAnsiEncoding, with `\`, `(` and `)` escaped.
fn pdf_string(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut buffer = [0u8; 4];
    for c in text.chars() {
        let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buffer));
        match encoded.as_ref() {
            [b'\\'] | [b'('] | [b')'] => bytes.extend([b'\\', encoded[0]]),
            [byte] if !unmappable => bytes.push(*byte),
            _ => bytes.push(b'?'),
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_at_the_width_and_keep_every_word() {
        let text = "Shipments are often hidden in containers of tropical fruit through the ports of Bar and Durrës.";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn pdf_strings_are_escaped_and_win_ansi_encoded() {
        assert_eq!(pdf_string("a(b)\\é"), b"a\\(b\\)\\\\\xe9".to_vec());
        assert_eq!(pdf_string("Београд"), b"???????".to_vec(), "outside Windows-1252");
    }
}

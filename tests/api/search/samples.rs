//! Sample files of every supported format, generated here from text — nothing checked in that
//! could not be regenerated. Office files are built as the ZIP/XML packages they are; images and
//! PDFs come from real tools (tesseract's text2image renders the text with DejaVu Sans,
//! tesseract makes a PDF with a text layer, poppler's pdftoppm rasterises it) and a scanned PDF
//! wraps those raster pixels with no text layer at all.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use zip::write::SimpleFileOptions;

fn zip_package(entries: &[(&str, String)]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    for (name, content) in entries {
        // OpenDocument's `mimetype` must come first and be stored uncompressed.
        let options = if *name == "mimetype" {
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
        } else {
            SimpleFileOptions::default()
        };
        zip.start_file(*name, options).expect("entry");
        zip.write_all(content.as_bytes()).expect("write");
    }
    zip.finish().expect("finish");
    buffer.into_inner()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/></Types>"#;

pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs.iter().map(|p| format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", escape(p))).collect();
    zip_package(&[
        ("[Content_Types].xml", CONTENT_TYPES.to_owned()),
        ("_rels/.rels", r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_owned()),
        ("word/document.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#)),
    ])
}

pub fn xlsx(cells: &[&str]) -> Vec<u8> {
    let strings: String = cells.iter().map(|c| format!("<si><t>{}</t></si>", escape(c))).collect();
    let row: String = (0..cells.len()).map(|i| format!(r#"<c r="A{}" t="s"><v>{i}</v></c>"#, i + 1)).collect();
    zip_package(&[
        ("[Content_Types].xml", CONTENT_TYPES.to_owned()),
        ("xl/workbook.xml", r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Analiza" sheetId="1"/></sheets></workbook>"#.to_owned()),
        ("xl/sharedStrings.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>"#)),
        ("xl/worksheets/sheet1.xml", format!(r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row>{row}</row></sheetData></worksheet>"#)),
    ])
}

pub fn pptx(slides: &[&str]) -> Vec<u8> {
    let mut entries = vec![
        ("[Content_Types].xml", CONTENT_TYPES.to_owned()),
        ("ppt/presentation.xml", r#"<?xml version="1.0"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>"#.to_owned()),
    ];
    let names: Vec<String> = (1..=slides.len()).map(|n| format!("ppt/slides/slide{n}.xml")).collect();
    for (name, text) in names.iter().zip(slides) {
        entries.push((name.as_str(), format!(r#"<?xml version="1.0" encoding="UTF-8"?><p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#, escape(text))));
    }
    zip_package(&entries)
}

fn open_document(mimetype: &str, body: String) -> Vec<u8> {
    zip_package(&[
        ("mimetype", mimetype.to_owned()),
        ("META-INF/manifest.xml", r#"<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>"#.to_owned()),
        ("content.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body>{body}</office:body></office:document-content>"#)),
    ])
}

pub fn odt(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs.iter().map(|p| format!("<text:p>{}</text:p>", escape(p))).collect();
    open_document("application/vnd.oasis.opendocument.text", format!("<office:text>{body}</office:text>"))
}

pub fn ods(cells: &[&str]) -> Vec<u8> {
    let row: String =
        cells.iter().map(|c| format!("<table:table-cell><text:p>{}</text:p></table:table-cell>", escape(c))).collect();
    open_document(
        "application/vnd.oasis.opendocument.spreadsheet",
        format!(
            r#"<office:spreadsheet><table:table table:name="A"><table:table-row>{row}</table:table-row></table:table></office:spreadsheet>"#
        ),
    )
}

pub fn html(title: &str, paragraph: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html><html><head><title>{}</title><script>var hidden = 'skriveno';</script></head>\
         <body><p>{}</p></body></html>",
        escape(title),
        escape(paragraph)
    )
    .into_bytes()
}

/// An e-mail with an encoded subject and a Windows-1251 quoted-printable body.
pub fn eml(subject: &str, body: &str) -> Vec<u8> {
    use base64::Engine;
    let (encoded, _, _) = encoding_rs::WINDOWS_1251.encode(body);
    let qp: String = encoded
        .iter()
        .map(|b| if b.is_ascii_alphanumeric() || *b == b' ' { (*b as char).to_string() } else { format!("={b:02X}") })
        .collect();
    format!(
        "From: Analyst <analyst@mup.gov.rs>\r\nTo: network@anaspoc.example\r\nSubject: =?UTF-8?B?{}?=\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1251\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n",
        base64::engine::general_purpose::STANDARD.encode(subject)
    )
    .into_bytes()
}

/// Rendered from `text`: a PDF with a text layer, the page as a PNG, and a scanned PDF (the
/// same pixels, no text layer).
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub png: Vec<u8>,
    pub scanned_pdf: Vec<u8>,
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let output =
        Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

pub fn render(text: &str, tesseract_language: &str) -> Rendered {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path();
    std::fs::write(path.join("text.txt"), text).expect("write");
    let dir_arg = path.display().to_string();
    run(
        path,
        "text2image",
        &[
            "--text=text.txt",
            "--outputbase=page",
            "--font=DejaVu Sans",
            "--fonts_dir=/usr/share/fonts/truetype/dejavu",
            &format!("--fontconfig_tmpdir={dir_arg}"),
            "--ptsize=20",
            "--xsize=1600",
            "--ysize=500",
            "--margin=40",
            "--exposure=0",
            "--resolution=300",
        ],
    );
    run(path, "tesseract", &["page.tif", "layered", "-l", tesseract_language, "pdf"]);
    run(path, "pdftoppm", &["-r", "150", "-gray", "-png", "-singlefile", "layered.pdf", "raster"]);
    run(path, "pdftoppm", &["-r", "150", "-gray", "-singlefile", "layered.pdf", "raster"]);
    let pgm = std::fs::read(path.join("raster.pgm")).expect("pgm");
    Rendered {
        pdf: std::fs::read(path.join("layered.pdf")).expect("pdf"),
        png: std::fs::read(path.join("raster.png")).expect("png"),
        scanned_pdf: image_only_pdf(&pgm),
    }
}

/// A one-page PDF whose page is a grayscale image (the PGM's pixels) and nothing else.
fn image_only_pdf(pgm: &[u8]) -> Vec<u8> {
    // P5 header: "P5\n<width> <height>\n<maxval>\n" then the pixels.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..at]).into_owned());
    }
    let pixels = &pgm[at + 1..];
    let (width, height): (usize, usize) = (fields[1].parse().expect("width"), fields[2].parse().expect("height"));
    let (w_pt, h_pt) = (width * 72 / 150, height * 72 / 150);
    let content = format!("q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q");
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |pdf: &mut Vec<u8>, body: Vec<u8>| {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        pdf.extend_from_slice(&body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    object(&mut pdf, b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    object(&mut pdf, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec());
    object(&mut pdf, format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt} {h_pt}] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>").into_bytes());
    let mut image = format!("<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {} >>\nstream\n", pixels.len()).into_bytes();
    image.extend_from_slice(pixels);
    image.extend_from_slice(b"\nendstream");
    object(&mut pdf, image);
    object(&mut pdf, format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes());
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", offsets.len() + 1).as_bytes(),
    );
    pdf
}

/// A DOCX whose document.xml inflates to 400 MB of spaces (about 400 KB compressed).
pub fn zip_bomb_docx() -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    zip.start_file("[Content_Types].xml", SimpleFileOptions::default()).expect("entry");
    zip.write_all(CONTENT_TYPES.as_bytes()).expect("write");
    zip.start_file("word/document.xml", SimpleFileOptions::default()).expect("entry");
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..400 {
        zip.write_all(&chunk).expect("write");
    }
    zip.finish().expect("finish");
    buffer.into_inner()
}

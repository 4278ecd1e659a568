//! Office documents — DOCX, XLSX, PPTX (Office Open XML) and ODT, ODS, ODP (OpenDocument) —
//! are ZIP archives of XML. Entries are read with hard limits on count and inflated size, so a
//! zip bomb fails this job instead of filling memory.

use std::io::Read;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::ExtractError;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
const ODT: &str = "application/vnd.oasis.opendocument.text";
const ODS: &str = "application/vnd.oasis.opendocument.spreadsheet";
const ODP: &str = "application/vnd.oasis.opendocument.presentation";

/// Entries an archive may have, and bytes one entry / all entries may inflate to.
const MAX_ENTRIES: usize = 20_000;
const MAX_ENTRY_BYTES: u64 = 128 * 1024 * 1024;
const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;

pub fn handles(media_type: &str) -> bool {
    [DOCX, XLSX, PPTX, ODT, ODS, ODP].contains(&media_type)
}

/// The office format of a ZIP archive, from its entries (when byte sniffing could not tell).
pub fn package_type(path: &Path) -> Result<Option<&'static str>, ExtractError> {
    let archive = zip::ZipArchive::new(std::fs::File::open(path)?).map_err(malformed)?;
    let has = |name: &str| archive.file_names().any(|n| n == name);
    Ok(if has("word/document.xml") {
        Some(DOCX)
    } else if has("xl/workbook.xml") {
        Some(XLSX)
    } else if has("ppt/presentation.xml") {
        Some(PPTX)
    } else if has("content.xml") {
        Some(ODT)
    } else {
        None
    })
}

/// Which elements hold text, and which end a line.
struct Rules {
    /// Only text inside these elements counts (OOXML); `None`: all text (OpenDocument).
    text_in: Option<&'static [&'static [u8]]>,
    line_ends: &'static [&'static [u8]],
    tabs: &'static [&'static [u8]],
}

const WORD: Rules = Rules { text_in: Some(&[b"w:t"]), line_ends: &[b"w:p", b"w:br", b"w:cr"], tabs: &[b"w:tab"] };
const DRAWING: Rules = Rules { text_in: Some(&[b"a:t"]), line_ends: &[b"a:p", b"a:br"], tabs: &[] };
const SHEET_STRINGS: Rules = Rules { text_in: Some(&[b"t"]), line_ends: &[b"si", b"is"], tabs: &[] };
const OPEN_DOCUMENT: Rules = Rules {
    text_in: None,
    line_ends: &[b"text:p", b"text:h", b"text:line-break", b"table:table-row"],
    tabs: &[b"text:tab", b"table:table-cell"],
};

pub fn to_text(path: &Path, media_type: &str) -> Result<String, ExtractError> {
    let file = std::fs::File::open(path)?;
    let mut archive = zip::ZipArchive::new(file).map_err(malformed)?;
    if archive.len() > MAX_ENTRIES {
        return Err(ExtractError::TooLarge(format!("an archive of {} entries", archive.len())));
    }
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let mut budget = MAX_TOTAL_BYTES;
    let mut out = String::new();
    let parts: Vec<(String, &Rules)> = match media_type {
        DOCX => ordered(&names, "word/", &["document.xml", "footnotes.xml", "endnotes.xml"], &WORD),
        PPTX => numbered(&names, "ppt/slides/slide", &DRAWING),
        XLSX => {
            let mut parts = vec![("xl/sharedStrings.xml".to_owned(), &SHEET_STRINGS)];
            parts.extend(numbered(&names, "xl/worksheets/sheet", &SHEET_STRINGS));
            parts
        }
        ODT | ODS | ODP => vec![("content.xml".to_owned(), &OPEN_DOCUMENT)],
        other => return Err(ExtractError::Unsupported(other.to_owned())),
    };
    for (name, rules) in parts {
        let Ok(entry) = archive.by_name(&name) else { continue };
        let xml = read_entry(entry, &mut budget)?;
        out.push_str(&xml_text(&xml, rules)?);
        out.push('\n');
    }
    Ok(out)
}

/// `prefix + name` for each listed name that exists, in the given order.
fn ordered<'r>(names: &[String], prefix: &str, parts: &[&str], rules: &'r Rules) -> Vec<(String, &'r Rules)> {
    parts
        .iter()
        .map(|part| format!("{prefix}{part}"))
        .filter(|name| names.contains(name))
        .map(|name| (name, rules))
        .collect()
}

/// Entries `prefix{N}.xml`, by N.
fn numbered<'r>(names: &[String], prefix: &str, rules: &'r Rules) -> Vec<(String, &'r Rules)> {
    let mut found: Vec<(u32, String)> = names
        .iter()
        .filter_map(|name| {
            let n = name.strip_prefix(prefix)?.strip_suffix(".xml")?.parse().ok()?;
            Some((n, name.clone()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, name)| (name, rules)).collect()
}

/// Inflate one entry, refusing anything beyond the per-entry and remaining total budget.
fn read_entry(entry: zip::read::ZipFile<'_, std::fs::File>, budget: &mut u64) -> Result<Vec<u8>, ExtractError> {
    let name = entry.name().to_owned();
    let limit = MAX_ENTRY_BYTES.min(*budget);
    if entry.size() > limit {
        return Err(ExtractError::TooLarge(format!("entry {name} ({} bytes inflated)", entry.size())));
    }
    let mut bytes = Vec::new();
    // The declared size can lie: read at most one byte past the limit to find out.
    entry.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ExtractError::TooLarge(format!("entry {name} (inflates past {limit} bytes)")));
    }
    *budget -= bytes.len() as u64;
    Ok(bytes)
}

fn xml_text(xml: &[u8], rules: &Rules) -> Result<String, ExtractError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut buf = Vec::new();
    let mut out = String::new();
    let mut depth_in_text = 0usize;
    let inside = |depth: usize| rules.text_in.is_none() || depth > 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                if rules.text_in.is_some_and(|tags| tags.contains(&e.name().as_ref())) {
                    depth_in_text += 1;
                }
                if rules.tabs.contains(&e.name().as_ref()) && !out.ends_with(['\n', '\t']) && !out.is_empty() {
                    out.push('\t');
                }
            }
            Ok(Event::End(e)) => {
                if rules.text_in.is_some_and(|tags| tags.contains(&e.name().as_ref())) {
                    depth_in_text = depth_in_text.saturating_sub(1);
                }
                if rules.line_ends.contains(&e.name().as_ref()) {
                    out.push('\n');
                }
            }
            Ok(Event::Empty(e)) => {
                let name = e.name();
                if rules.line_ends.contains(&name.as_ref()) {
                    out.push('\n');
                } else if rules.tabs.contains(&name.as_ref()) {
                    out.push('\t');
                } else if name.as_ref() == b"text:s" {
                    out.push(' ');
                }
            }
            Ok(Event::Text(t)) if inside(depth_in_text) => {
                out.push_str(&t.decode().map_err(|e| malformed(e.to_string()))?);
            }
            Ok(Event::CData(t)) if inside(depth_in_text) => {
                out.push_str(&String::from_utf8_lossy(&t));
            }
            Ok(Event::GeneralRef(r)) if inside(depth_in_text) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    let name = r.decode().map_err(|e| malformed(e.to_string()))?;
                    out.push_str(match name.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(malformed(e.to_string())),
        }
        buf.clear();
    }
    Ok(out)
}

fn malformed(reason: impl ToString) -> ExtractError {
    ExtractError::Malformed { format: "office document", reason: reason.to_string() }
}

//! The manifest of an import: one line per file — its path under the import directory and its
//! metadata, the same fields as an upload's `metadata` part (`title`, `classification`, `tlp`,
//! `handling_code`, `releasable_to`, …). JSON Lines (`.jsonl`, `.ndjson`): one object per line
//! with `file` beside those fields. CSV (`.csv`): a header row naming the same columns; list
//! columns (`releasable_to`, `recipients`, `tags`) separate their values with `;`, `publish` is
//! `true` or `false`, and an empty cell is an absent field.
//!
//! Every line is read and checked — metadata against the policy as the importing principal would
//! upload it, the file inside the directory, a regular file within the upload limit — before
//! anything is imported; the problems are reported per line, all at once.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::documents::{NewDocument, ValidNewDocument};
use crate::policy::{PolicyConfig, Principal};

/// Fields of a CSV row that hold lists.
const LIST_COLUMNS: [&str; 3] = ["releasable_to", "recipients", "tags"];
/// Problems listed before the rest are only counted.
pub const MAX_REPORTED: usize = 100;

/// One checked line: a file to import and what it becomes.
#[derive(Debug)]
pub struct Entry {
    /// The manifest line (1-based; for CSV, the line its record starts on).
    pub line: usize,
    /// The file's path as the manifest gives it (relative to the import directory).
    pub relative: String,
    pub path: PathBuf,
    pub size: u64,
    pub document: ValidNewDocument,
    /// The line's canonical content (file and metadata): what names it across runs.
    pub identity: String,
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.problem)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{0}: the manifest must be .csv, .jsonl or .ndjson")]
    UnknownFormat(String),
    #[error("{path}: no line to import")]
    Empty { path: String },
    #[error("{} line(s) of the manifest have problems; nothing was imported:\n{}", .0.len(), report(.0))]
    Lines(Vec<LineError>),
}

fn report(errors: &[LineError]) -> String {
    let mut text: Vec<String> = errors.iter().take(MAX_REPORTED).map(ToString::to_string).collect();
    if errors.len() > MAX_REPORTED {
        text.push(format!("… and {} more", errors.len() - MAX_REPORTED));
    }
    text.join("\n")
}

/// What the checks need to know.
pub struct Checks<'a> {
    pub dir: &'a Path,
    pub policy: &'a PolicyConfig,
    pub importer: &'a Principal,
    pub max_bytes: u64,
}

/// Read and check the whole manifest.
pub fn read(manifest: &Path, checks: &Checks<'_>) -> Result<Vec<Entry>, ManifestError> {
    let unreadable = |reason: String| ManifestError::Unreadable { path: manifest.display().to_string(), reason };
    let text = std::fs::read_to_string(manifest).map_err(|e| unreadable(e.to_string()))?;
    let extension = manifest.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let lines = match extension.as_str() {
        "csv" => csv_lines(&text),
        "jsonl" | "ndjson" => Ok(json_lines(&text)),
        _ => return Err(ManifestError::UnknownFormat(manifest.display().to_string())),
    }
    .map_err(unreadable)?;
    if lines.is_empty() {
        return Err(ManifestError::Empty { path: manifest.display().to_string() });
    }
    let mut entries = Vec::with_capacity(lines.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, fields) in lines {
        match fields.and_then(|fields| check(line, fields, checks)) {
            Ok(entry) => match seen.insert(entry.identity.clone(), line) {
                Some(first) => errors.push(LineError {
                    line,
                    field: "file".into(),
                    problem: format!("repeats line {first} (the same file with the same metadata)"),
                }),
                None => entries.push(entry),
            },
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() { Ok(entries) } else { Err(ManifestError::Lines(errors)) }
}

type Fields = Result<Map<String, Value>, LineError>;

fn json_lines(text: &str) -> Vec<(usize, Fields)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let fields = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(fields)) => Ok(fields),
                Ok(_) => Err(whole_line(n + 1, "must be a JSON object".into())),
                Err(error) => Err(whole_line(n + 1, format!("not JSON: {error}"))),
            };
            (n + 1, fields)
        })
        .collect()
}

fn csv_lines(text: &str) -> Result<Vec<(usize, Fields)>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let headers: Vec<String> =
        reader.headers().map_err(|e| format!("the header row: {e}"))?.iter().map(|h| h.trim().to_owned()).collect();
    let mut lines = Vec::new();
    for record in reader.records() {
        let (line, fields) = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                (line, Ok(csv_fields(&headers, &record)))
            }
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                (line, Err(whole_line(line, format!("not a CSV record: {error}"))))
            }
        };
        lines.push((line, fields));
    }
    Ok(lines)
}

/// A CSV record as the JSON object a JSON Lines manifest would have on that line.
fn csv_fields(headers: &[String], record: &csv::StringRecord) -> Map<String, Value> {
    let mut fields = Map::new();
    for (name, cell) in headers.iter().zip(record.iter()) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let value = if LIST_COLUMNS.contains(&name.as_str()) {
            Value::Array(
                cell.split(';').map(str::trim).filter(|v| !v.is_empty()).map(|v| Value::String(v.into())).collect(),
            )
        } else if name == "publish" {
            match cell.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                // Left as text: the metadata check names it.
                _ => Value::String(cell.into()),
            }
        } else {
            Value::String(cell.into())
        };
        fields.insert(name.clone(), value);
    }
    fields
}

fn whole_line(line: usize, problem: String) -> LineError {
    LineError { line, field: "line".into(), problem }
}

/// One line's file and metadata, checked.
fn check(line: usize, mut fields: Map<String, Value>, checks: &Checks<'_>) -> Result<Entry, LineError> {
    let problem = |field: &str, problem: String| LineError { line, field: field.into(), problem };
    let relative = match fields.remove("file") {
        Some(Value::String(file)) if !file.trim().is_empty() => file.trim().to_owned(),
        Some(_) => return Err(problem("file", "must be a path (text)".into())),
        None => return Err(problem("file", "is missing".into())),
    };
    let identity = serde_json_canonicalizer::to_string(&serde_json::json!({"file": relative, "metadata": fields}))
        .map_err(|e| problem("line", e.to_string()))?;
    let metadata: NewDocument =
        serde_json::from_value(Value::Object(fields)).map_err(|e| problem("metadata", e.to_string()))?;
    let document = metadata.validate(checks.policy, checks.importer).map_err(|e| match e {
        crate::documents::DocumentsError::Invalid { field, problem: reason } => problem(&field, reason),
        other => problem("metadata", other.to_string()),
    })?;
    let path = inside(checks.dir, &relative).ok_or_else(|| {
        problem("file", "must be a relative path inside the import directory (no `..`, not absolute)".into())
    })?;
    // Not followed: a link could lead out of the directory.
    let stat = std::fs::symlink_metadata(&path).map_err(|e| problem("file", format!("{relative}: {e}")))?;
    if !stat.file_type().is_file() {
        return Err(problem("file", format!("{relative} is not a regular file (links are not followed)")));
    }
    if stat.len() == 0 {
        return Err(problem("file", format!("{relative} is empty")));
    }
    if stat.len() > checks.max_bytes {
        return Err(problem(
            "file",
            format!(
                "{relative} has {} bytes; the upload limit is {} (limits.max_upload_bytes)",
                stat.len(),
                checks.max_bytes
            ),
        ));
    }
    Ok(Entry { line, relative, path, size: stat.len(), document, identity })
}

/// `relative` under `dir`, if it only descends.
fn inside(dir: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)).then(|| dir.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_must_stay_inside_the_directory() {
        let dir = Path::new("/import");
        assert_eq!(inside(dir, "a/b.pdf"), Some(PathBuf::from("/import/a/b.pdf")));
        assert_eq!(inside(dir, "./b.pdf"), Some(PathBuf::from("/import/./b.pdf")));
        assert_eq!(inside(dir, "../b.pdf"), None);
        assert_eq!(inside(dir, "a/../../b.pdf"), None);
        assert_eq!(inside(dir, "/etc/passwd"), None);
    }

    #[test]
    fn a_csv_row_reads_as_the_json_object_of_a_json_lines_manifest() {
        let headers: Vec<String> =
            ["file", "title", "releasable_to", "tags", "publish", "summary"].map(String::from).to_vec();
        let record = csv::StringRecord::from(vec!["a.txt", " Report ", "AL; RS", "", "TRUE", ""]);
        assert_eq!(
            Value::Object(csv_fields(&headers, &record)),
            serde_json::json!({"file": "a.txt", "title": "Report", "releasable_to": ["AL", "RS"], "publish": true})
        );
    }
}

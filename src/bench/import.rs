//! The bulk-import part of the bench's ingest: part of the corpus written out as files with one
//! JSON Lines manifest per uploader, and imported by `anaspoc import` — a child process, as an
//! operator runs it — into the bench server's database and object store while it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BoxError;
use super::corpus::{CorpusDocument, UPLOADERS};

/// Write `documents` under `dir/files` and a manifest per uploader; returns (persona, manifest).
pub fn write_manifests(dir: &Path, documents: &[CorpusDocument]) -> Result<Vec<(&'static str, PathBuf)>, BoxError> {
    let files = dir.join("files");
    std::fs::create_dir_all(&files)?;
    let mut manifests = Vec::new();
    for (persona, _) in UPLOADERS {
        let mut lines = String::new();
        for (n, document) in documents.iter().enumerate().filter(|(_, d)| d.uploader == persona) {
            let name = format!("{n}.txt");
            std::fs::write(files.join(&name), &document.body)?;
            let mut line = document.metadata();
            line["file"] = name.into();
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        if !lines.is_empty() {
            let manifest = dir.join(format!("{persona}.jsonl"));
            std::fs::write(&manifest, lines)?;
            manifests.push((persona, manifest));
        }
    }
    Ok(manifests)
}

/// `anaspoc import` of one manifest as `persona`, in the server's working directory (so on its
/// database and object store), with the demo profile (whose personas are import identities).
pub fn import(work: &Path, manifest: &Path, persona: &str) -> Result<(), BoxError> {
    let status = Command::new(std::env::current_exe()?)
        .arg("import")
        .arg(work.join("files"))
        .arg("--manifest")
        .arg(manifest)
        .args(["--as", persona, "--profile", "demo"])
        .current_dir(work)
        .env("ANASPOC__LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("anaspoc import {} failed: {status}", manifest.display()).into())
    }
}

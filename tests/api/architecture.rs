//! The layout rules of docs/architecture.md, checked on the source: the HTTP layers reach data
//! only through services, modules form no cycles, and no file grows past what one can read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn source_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code of a file without its unit tests (they may use anything).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read");
    match text.find("#[cfg(test)]") {
        Some(start) => text[..start].to_owned(),
        None => text,
    }
}

/// Words of the code: identifiers joined by `::`, so `crate::db::x` and `sea_orm::X` are found
/// however the imports are grouped.
fn paths_in(code: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let mut current = String::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            current.push(c);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            current.push_str("::");
        } else if !current.is_empty() {
            paths.insert(std::mem::take(&mut current));
        }
    }
    paths
}

#[test]
fn handlers_reach_data_only_through_services() {
    // The ORM, the database module, and the handles that read or write without a caller.
    let forbidden = ["sea_orm", "db", "DatabaseConnection", "Trail", "Log", "SearchIndex", "Storage", "TokenValidator"];
    let mut found = Vec::new();
    for layer in ["api", "web"] {
        for file in source_files(&src().join(layer)) {
            let segments: BTreeSet<String> = paths_in(&code_of(&file))
                .iter()
                .flat_map(|p| p.split("::").map(str::to_owned).collect::<Vec<_>>())
                .collect();
            for word in forbidden.iter().filter(|word| segments.contains(**word)) {
                found.push(format!("{} names {word}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "handlers must go through services:\n{}", found.join("\n"));
    // The check reads the code at all (a broken reader would pass vacuously).
    let documents = paths_in(&code_of(&src().join("api/documents.rs")));
    assert!(documents.contains("crate::documents::") || documents.iter().any(|p| p.starts_with("crate::documents")));
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    let long: Vec<String> = source_files(&src())
        .into_iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).expect("read").lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}

/// Edges between the files of one directory module: `super::x` and `crate::<dir>::x` from
/// `<dir>/y.rs` to its sibling `<dir>/x.rs` (or `<dir>/x/`). `mod.rs` declares and re-exports
/// its children, so it is left out.
fn sibling_edges(dir: &Path, crate_path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let siblings: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|entry| {
            let path = entry.expect("entry").path();
            let name = path.file_name()?.to_string_lossy().into_owned();
            // Modules: Rust files and directories (data beside them, such as a corpus, is not one).
            let name = if path.is_dir() { name } else { name.strip_suffix(".rs")?.to_owned() };
            (name != "mod" && name != "tests").then_some(name)
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sibling in &siblings {
        let file = dir.join(format!("{sibling}.rs"));
        let files = if file.is_file() { vec![file] } else { source_files(&dir.join(sibling)) };
        let mut uses = BTreeSet::new();
        for file in files {
            let code = code_of(&file);
            for path in paths_in(&code) {
                let rest = path.strip_prefix("super::").or_else(|| path.strip_prefix(&format!("{crate_path}::")));
                if let Some(name) = rest.and_then(|r| r.split("::").next()) {
                    uses.insert(name.to_owned());
                }
            }
            for group in code.split("super::{").skip(1) {
                for item in group.split('}').next().unwrap_or_default().split(',') {
                    uses.insert(item.trim().split("::").next().unwrap_or_default().trim().to_owned());
                }
            }
        }
        uses.retain(|name| siblings.contains(name) && name != sibling);
        edges.insert(sibling.clone(), uses);
    }
    edges
}

/// A path from `start` back to itself, if the edges have one.
fn cycle_through(start: &str, edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let at = path.last().expect("non-empty");
        for next in edges.get(at).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn files_of_a_module_depend_on_each_other_without_cycles() {
    let mut cycles = Vec::new();
    let mut dirs = vec![(src(), "crate".to_owned())];
    while let Some((dir, crate_path)) = dirs.pop() {
        let edges = sibling_edges(&dir, &crate_path);
        cycles.extend(
            edges
                .keys()
                .filter_map(|file| cycle_through(file, &edges))
                .map(|cycle| format!("{}: {}", dir.strip_prefix(src()).unwrap_or(&dir).display(), cycle.join(" → "))),
        );
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                let name = path.file_name().expect("name").to_string_lossy().into_owned();
                dirs.push((path, format!("{crate_path}::{name}")));
            }
        }
    }
    assert!(cycles.is_empty(), "cycles between the files of a module:\n{}", cycles.join("\n"));
}

/// Only `auth` makes a `Caller` (from a validated token, a session or a completed sign-in).
#[test]
fn callers_are_made_only_by_auth() {
    let makers: Vec<String> = source_files(&src())
        .into_iter()
        .filter(|file| code_of(file).contains("Caller {"))
        .map(|file| file.strip_prefix(src()).expect("under src").display().to_string())
        .filter(|file| !file.starts_with("auth/") && file != "caller.rs")
        .collect();
    assert!(makers.is_empty(), "a Caller made outside auth: {makers:?}");
}

#[test]
fn modules_depend_on_each_other_without_cycles() {
    let root = src();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in source_files(&root) {
        let relative = file.strip_prefix(&root).expect("under src");
        let first = relative.components().next().expect("component").as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let code = code_of(&file);
        let mut uses: BTreeSet<String> = BTreeSet::new();
        for path in paths_in(&code) {
            if let Some(rest) = path.strip_prefix("crate::") {
                uses.insert(rest.split("::").next().unwrap_or_default().to_owned());
            }
        }
        // `use crate::{a, b::c}`
        for group in code.split("crate::{").skip(1) {
            let inside = group.split('}').next().unwrap_or_default();
            for item in inside.split(',') {
                let name = item.trim().split("::").next().unwrap_or_default().trim();
                if !name.is_empty() && name != "self" {
                    uses.insert(name.to_owned());
                }
            }
        }
        uses.remove(&module);
        uses.remove("");
        edges.entry(module).or_default().extend(uses);
    }
    let cycles: Vec<String> =
        edges.keys().filter_map(|module| cycle_through(module, &edges).map(|cycle| cycle.join(" → "))).collect();
    assert!(cycles.is_empty(), "module cycles:\n{}\n\nedges: {edges:#?}", cycles.join("\n"));
    // The checker sees dependencies at all (a broken parser would pass vacuously).
    assert!(edges.get("documents").is_some_and(|uses| uses.contains("policy") && uses.contains("db")), "{edges:#?}");
}

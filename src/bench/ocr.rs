//! `anaspoc bench --ocr`: how well scans are read. Every page of the OCR corpus (each language,
//! clean and degraded — see `ocr_corpus`) goes through the platform's extraction exactly as an
//! upload's does (the sandboxed extractor, with the language packs the server chooses for the
//! document's language) and through tesseract run directly on the same file with its defaults
//! (`tesseract FILE stdout -l PACKS`; a PDF rasterised at 300 dpi first) — which is what the
//! platform did before it cleaned pages up. Prints the character error rate of both side by
//! side, per language and degradation, and the time each took. Figures are printed, never
//! asserted (the OCR tests assert the targets on a subset).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::ocr_corpus::{Corpus, Degradation, SAMPLES, Sample, character_error_rate};
use crate::config::{Profile, Settings};
use crate::ingest::extract::OcrOptions;
use crate::ingest::ocr_languages::OcrLanguages;
use crate::ingest::sandbox::Sandbox;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The targets: a clean page is read nearly perfectly, a degraded one well enough to search.
const CLEAN_TARGET: f64 = 0.005;
const DEGRADED_TARGET: f64 = 0.03;

pub struct OcrBenchOptions {
    pub seed: u64,
}

struct Row {
    sample: &'static Sample,
    how: Degradation,
    direct: Result<f64, String>,
    platform: Result<f64, String>,
    direct_time: Duration,
    platform_time: Duration,
}

pub async fn run(options: OcrBenchOptions) -> Result<(), BoxError> {
    let corpus = Corpus::load()?;
    let settings = Settings::load(&Profile::Named("demo".into()))?;
    let sandbox = Sandbox::from_settings(&settings.ingest)?;
    sandbox.check().await?;
    let ocr = OcrLanguages::detect(settings.ingest.ocr_data_dir());
    println!(
        "OCR corpus: {} languages × {} pages (seed {}); tesseract packs installed: {}",
        SAMPLES.len(),
        Degradation::ALL.len(),
        options.seed,
        ocr.available().join(", ")
    );
    let work = tempfile::Builder::new().prefix("anaspoc-bench-ocr-").tempdir()?;
    let mut pages = Vec::new();
    for sample in &SAMPLES {
        for how in Degradation::ALL {
            let (extension, _) = how.file_type();
            let path = work.path().join(format!("{}-{how:?}.{extension}", sample.language));
            std::fs::write(&path, corpus.page(sample.text, how, options.seed)?)?;
            pages.push((sample, how, path));
        }
    }
    // Two pages at a time (each extraction, like tesseract here, uses one thread).
    let rows: Vec<Row> = futures_util::stream::iter(pages.into_iter().map(|(sample, how, path)| {
        let (sandbox, ocr) = (&sandbox, &ocr);
        async move {
            let packs = ocr.plan(Some(sample.language)).packs;
            let started = Instant::now();
            let options = OcrOptions { packs: packs.clone(), data_dir: ocr.data_dir().map(Into::into) };
            let platform = sandbox
                .extract(&path, how.file_type().1, &options)
                .await
                .map(|extracted| character_error_rate(sample.text, &extracted.text))
                .map_err(|e| e.to_string());
            let platform_time = started.elapsed();
            let started = Instant::now();
            let direct = tokio::task::spawn_blocking(move || tesseract_directly(&path, &packs, &options))
                .await
                .map_err(|e| e.to_string())
                .and_then(|read| read)
                .map(|text| character_error_rate(sample.text, &text));
            Row { sample, how, direct, platform, direct_time: started.elapsed(), platform_time }
        }
    }))
    .buffered(2)
    .collect()
    .await;
    print_table(&rows);
    Ok(())
}

/// `tesseract FILE stdout -l PACKS` with its defaults; a PDF's pages rendered as the platform
/// always has (pdftoppm, 300 dpi, grey) and read one by one.
fn tesseract_directly(path: &Path, packs: &str, options: &OcrOptions) -> Result<String, String> {
    let read = |image: &Path| -> Result<String, String> {
        let mut command = Command::new("tesseract");
        if let Some(dir) = &options.data_dir {
            command.arg("--tessdata-dir").arg(dir);
        }
        let output = command
            .env("OMP_THREAD_LIMIT", "1")
            .arg(image)
            .arg("stdout")
            .args(["-l", packs])
            .output()
            .map_err(|e| format!("tesseract: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    if path.extension().is_none_or(|e| e != "pdf") {
        return read(path);
    }
    let pages = tempfile::tempdir().map_err(|e| e.to_string())?;
    let status = Command::new("pdftoppm")
        .args(["-r", "300", "-gray", "-png"])
        .arg(path)
        .arg(pages.path().join("page"))
        .status()
        .map_err(|e| format!("pdftoppm: {e}"))?;
    if !status.success() {
        return Err(format!("pdftoppm exited with {status}"));
    }
    let mut files: Vec<_> =
        std::fs::read_dir(pages.path()).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).collect();
    files.sort();
    files.iter().map(|page| read(page)).collect::<Result<Vec<_>, _>>().map(|texts| texts.join("\n"))
}

fn percent(rate: &Result<f64, String>) -> String {
    match rate {
        Ok(rate) => format!("{:.2}%", rate * 100.0),
        Err(_) => "failed".into(),
    }
}

fn print_table(rows: &[Row]) {
    println!("\ncharacter error rate: tesseract run directly → the platform (time per page, direct → platform)");
    print!("| {:<22} |", "page");
    for sample in &SAMPLES {
        print!(" {:<17} |", sample.language);
    }
    println!();
    print!("|{}|", "-".repeat(24));
    for _ in &SAMPLES {
        print!("{}|", "-".repeat(19));
    }
    println!();
    for how in Degradation::ALL {
        print!("| {:<22} |", how.name());
        for sample in &SAMPLES {
            let row = rows.iter().find(|r| r.how == how && r.sample.language == sample.language);
            let cell = row.map_or(String::new(), |r| format!("{} → {}", percent(&r.direct), percent(&r.platform)));
            print!(" {cell:<17} |");
        }
        println!();
    }
    let total =
        |time: fn(&Row) -> Duration| rows.iter().map(time).sum::<Duration>().as_secs_f64() / rows.len().max(1) as f64;
    println!(
        "\nmean time per page: tesseract directly {:.2} s, the platform (sandbox, clean-up, OCR) {:.2} s",
        total(|r| r.direct_time),
        total(|r| r.platform_time)
    );
    // The targets are for pages in one script; Serbian in both is printed apart (see
    // `Sample::mixes_scripts`).
    let worst = |clean: bool, mixed: bool, pick: fn(&Row) -> &Result<f64, String>| -> f64 {
        rows.iter()
            .filter(|r| (r.how == Degradation::Clean) == clean && r.sample.mixes_scripts() == mixed)
            .map(|r| pick(r).clone().unwrap_or(1.0))
            .fold(0.0, f64::max)
    };
    for (side, pick) in [
        ("tesseract directly", (|r: &Row| &r.direct) as fn(&Row) -> &Result<f64, String>),
        ("the platform", |r: &Row| &r.platform),
    ] {
        let (clean, degraded) = (worst(true, false, pick), worst(false, false, pick));
        let (mixed_clean, mixed_degraded) = (worst(true, true, pick), worst(false, true, pick));
        println!(
            "{side}: worst clean page {:.2}% (target ≤ {:.1}%: {}), worst degraded page {:.2}% (target ≤ {:.0}%: {}); \
             Serbian in both scripts: clean {:.2}%, degraded at worst {:.2}%",
            clean * 100.0,
            CLEAN_TARGET * 100.0,
            if clean <= CLEAN_TARGET { "met" } else { "missed" },
            degraded * 100.0,
            DEGRADED_TARGET * 100.0,
            if degraded <= DEGRADED_TARGET { "met" } else { "missed" },
            mixed_clean * 100.0,
            mixed_degraded * 100.0,
        );
    }
}

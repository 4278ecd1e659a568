//! Text extraction from untrusted files, isolated. Each extraction runs `anaspoc extract` (or the
//! configured extractor) under `prlimit` (address space, CPU seconds, file size, open files)
//! inside a bubblewrap sandbox: an empty environment, no network (its own network namespace), a
//! mount view holding only the system's programs and libraries (read-only, no /proc), the one input file
//! (read-only) and a private scratch directory — not the data directory, database, keys or
//! configuration — no capabilities, no new privileges, an unprivileged user, and its own PID
//! namespace, so that when the extraction ends or its wall-clock time runs out everything it
//! started dies with it. The scratch directory is removed afterwards.
//!
//! A hostile file — zip bomb, endless PDF, parser exploit — fails its own job with a reason; it
//! reaches nothing it could steal and cannot take the server down.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::extract::{Extracted, OcrOptions};
use crate::config::{IngestSettings, SandboxKind};

/// The extractor's last line on standard error after a success: how many pages OCR read.
pub const OCR_PAGES_LINE: &str = "ocr-pages: ";

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("extraction took longer than {0} s and was stopped")]
    TimedOut(u64),
    #[error("the extracted text exceeds {0} bytes")]
    TooMuchText(u64),
    #[error("{0}")]
    Failed(String),
    #[error("the extractor could not be started: {0}")]
    Spawn(String),
    #[error(
        "the extraction sandbox (bubblewrap) does not work here: {0}. Install bubblewrap (Debian: \
         apt-get install bubblewrap) and allow user namespaces, or — knowing that a hostile file \
         could then read everything this process can — set ingest.sandbox = \"off\""
    )]
    Unavailable(String),
}

/// Inside the sandbox: where the input, the extractor and the scratch directory appear.
const INPUT: &str = "/input";
const EXTRACTOR: &str = "/extractor";
const SCRATCH: &str = "/tmp";
/// The unprivileged user the extraction runs as (`nobody`).
const NOBODY: &str = "65534";
/// Read-only system paths the extractors need (fonts for rendering PDF pages, the linker cache);
/// `/usr` always, and `/bin`, `/lib`… as links into it or as directories, as on the host.
const SYSTEM_DIRECTORIES: [&str; 5] = ["/bin", "/sbin", "/lib", "/lib64", "/lib32"];
const SYSTEM_FILES: [&str; 3] = ["/etc/fonts", "/etc/ld.so.cache", "/etc/alternatives"];

#[derive(Clone, Debug)]
pub struct Sandbox {
    program: PathBuf,
    memory_bytes: u64,
    cpu_seconds: u64,
    wall: Duration,
    max_text_bytes: u64,
    kind: SandboxKind,
}

impl Sandbox {
    pub fn from_settings(settings: &IngestSettings) -> Result<Self, SandboxError> {
        let program = if settings.extractor.is_empty() {
            std::env::current_exe().map_err(|e| SandboxError::Spawn(e.to_string()))?
        } else {
            PathBuf::from(&settings.extractor)
        };
        Ok(Self {
            program,
            memory_bytes: settings.extract_memory_mib * 1024 * 1024,
            cpu_seconds: settings.extract_cpu_secs,
            wall: Duration::from_secs(settings.extract_timeout_secs),
            max_text_bytes: settings.max_text_bytes,
            kind: settings.sandbox,
        })
    }

    /// Prove the sandbox works on this machine (start-up runs this before any ingest worker): a
    /// trivial command in the same isolation must succeed. With the sandbox off, say so loudly.
    pub async fn check(&self) -> Result<(), SandboxError> {
        if self.kind == SandboxKind::Off {
            tracing::warn!(
                "EXTRACTION SANDBOX OFF (ingest.sandbox = \"off\"): a hostile file exploiting a parser can read \
                 this process's environment, database, stored documents and keys. Use only where bubblewrap \
                 cannot run and every file is trusted."
            );
            return Ok(());
        }
        let scratch = tempfile::Builder::new().prefix("anaspoc-sandbox-check-").tempdir().map_err(unavailable)?;
        let mut command = Command::new("bwrap");
        command.args(isolation(scratch.path())).args(["--", "/usr/bin/true"]);
        let run = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true).output();
        let output = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .map_err(|_| SandboxError::Unavailable("a trivial sandboxed command did not finish".into()))?
            .map_err(unavailable)?;
        if !output.status.success() {
            return Err(SandboxError::Unavailable(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        Ok(())
    }

    /// The text of `input`, extracted in a limited, isolated child process; images and scanned
    /// pages are read by OCR as `ocr` says (its packs directory mounted read-only).
    pub async fn extract(&self, input: &Path, media_type: &str, ocr: &OcrOptions) -> Result<Extracted, SandboxError> {
        // The scratch directory lives exactly as long as this extraction.
        let scratch = tempfile::Builder::new()
            .prefix("anaspoc-extract-")
            .tempdir()
            .map_err(|e| SandboxError::Spawn(format!("scratch directory: {e}")))?;
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--as={}", self.memory_bytes))
            .arg(format!("--cpu={}", self.cpu_seconds))
            .arg(format!("--fsize={}", self.max_text_bytes.saturating_mul(4)))
            .arg("--nofile=256")
            .arg("--");
        let (program, input_path) = match self.kind {
            SandboxKind::Bubblewrap => {
                command.arg("bwrap").args(isolation(scratch.path()));
                command.arg("--ro-bind").arg(input).arg(INPUT);
                if let Some(dir) = &ocr.data_dir {
                    command.arg("--ro-bind").arg(dir).arg(dir);
                }
                command.arg("--ro-bind").arg(&self.program).arg(EXTRACTOR).arg("--");
                (PathBuf::from(EXTRACTOR), PathBuf::from(INPUT))
            }
            SandboxKind::Off => {
                command.env_clear().env("PATH", "/usr/bin:/bin").env("TMPDIR", scratch.path());
                (self.program.clone(), input.to_path_buf())
            }
        };
        command.arg(program).args(["extract", "--media-type", media_type, "--input"]).arg(input_path);
        command.args(["--ocr-languages", &ocr.packs]);
        if let Some(dir) = &ocr.data_dir {
            command.arg("--ocr-data-dir").arg(dir);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| SandboxError::Spawn(format!("prlimit: {e}")))?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(SandboxError::Spawn("no pipes".into()));
        };
        let limit = self.max_text_bytes;
        // Errors are read on the side; the text is read here and, past the limit, abandoned at
        // once (the child is killed when `child` is dropped, and with it the whole sandbox).
        let errors = tokio::spawn(async move {
            let mut errors = Vec::new();
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut errors).await;
            errors
        });
        let run = async {
            let mut text = Vec::new();
            (&mut stdout)
                .take(limit + 1)
                .read_to_end(&mut text)
                .await
                .map_err(|e| SandboxError::Failed(e.to_string()))?;
            if text.len() as u64 > limit {
                return Err(SandboxError::TooMuchText(limit));
            }
            let status = child.wait().await.map_err(|e| SandboxError::Failed(e.to_string()))?;
            let errors = errors.await.unwrap_or_default();
            let message = String::from_utf8_lossy(&errors);
            let last = message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
            if !status.success() {
                return Err(SandboxError::Failed(describe_exit(status, last)));
            }
            let ocr_pages = last.strip_prefix(OCR_PAGES_LINE).and_then(|n| n.parse().ok()).unwrap_or(0);
            Ok(Extracted { text: String::from_utf8_lossy(&text).into_owned(), ocr_pages })
        };
        let result = match tokio::time::timeout(self.wall, run).await {
            Ok(result) => result,
            // Dropping the future kills bubblewrap; its PID namespace takes everything inside.
            Err(_) => Err(SandboxError::TimedOut(self.wall.as_secs())),
        };
        drop(scratch);
        result
    }
}

/// The bubblewrap arguments that isolate a command, with `scratch` as its writable `/tmp`.
fn isolation(scratch: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        // New user (as nobody, no capabilities), PID, network, IPC, UTS and cgroup namespaces.
        "--unshare-all",
        "--unshare-user",
        "--uid",
        NOBODY,
        "--gid",
        NOBODY,
        "--cap-drop",
        "ALL",
        // Its own session (no terminal injection); it dies when the server's handle on it does.
        "--new-session",
        "--die-with-parent",
        // Nothing of the server's environment: no secrets, no database URL.
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "TMPDIR",
        SCRATCH,
        "--setenv",
        "HOME",
        SCRATCH,
        "--setenv",
        "LANG",
        "C.UTF-8",
        // Tesseract would start a thread per core; one extraction gets one.
        "--setenv",
        "OMP_THREAD_LIMIT",
        "1",
        "--ro-bind",
        "/usr",
        "/usr",
        // No /proc at all: no extractor needs one, it would show the namespace's processes, and
        // inside a container (whose /proc has masked paths) the kernel refuses to mount a fresh
        // one — so the same isolation works on a host and in the image (docker/).
        "--dev",
        "/dev",
    ]
    .iter()
    .map(Into::into)
    .collect();
    for directory in SYSTEM_DIRECTORIES {
        let path = Path::new(directory);
        match std::fs::read_link(path) {
            Ok(target) => args.extend(["--symlink".into(), target.into_os_string(), directory.into()]),
            Err(_) if path.is_dir() => args.extend(["--ro-bind".into(), directory.into(), directory.into()]),
            Err(_) => {}
        }
    }
    for file in SYSTEM_FILES {
        args.extend(["--ro-bind-try".into(), file.into(), file.into()]);
    }
    args.extend(["--bind".into(), scratch.as_os_str().to_owned(), SCRATCH.into(), "--chdir".into(), SCRATCH.into()]);
    args
}

fn unavailable(error: std::io::Error) -> SandboxError {
    SandboxError::Unavailable(error.to_string())
}

fn describe_exit(status: std::process::ExitStatus, message: &str) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // bubblewrap reports a child killed by signal N as exit code 128 + N.
        let signal = status.signal().or_else(|| status.code().filter(|c| (129..160).contains(c)).map(|c| c - 128));
        match signal {
            Some(9) => return "the extractor was killed (CPU or memory limit)".into(),
            Some(24) => return "the extractor exceeded its CPU time limit".into(),
            Some(25) => return "the extractor exceeded its output size limit".into(),
            Some(signal) => return format!("the extractor crashed (signal {signal})"),
            None => {}
        }
    }
    if message.is_empty() { format!("the extractor failed ({status})") } else { message.to_owned() }
}

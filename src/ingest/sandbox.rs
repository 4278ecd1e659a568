//! Runs text extraction in a child process (`anaspoc extract`) under `prlimit` (address space,
//! CPU seconds, file size, open files) with a wall-clock timeout and a cap on the text it may
//! return. A hostile file — zip bomb, endless PDF, parser crash — fails its job with a reason;
//! it cannot take the server down.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::config::IngestSettings;

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
}

#[derive(Clone, Debug)]
pub struct Sandbox {
    program: PathBuf,
    memory_bytes: u64,
    cpu_seconds: u64,
    wall: Duration,
    max_text_bytes: u64,
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
        })
    }

    /// The text of `input`, extracted in a limited child process.
    pub async fn extract(
        &self,
        input: &Path,
        media_type: &str,
        language: Option<&str>,
    ) -> Result<String, SandboxError> {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--as={}", self.memory_bytes))
            .arg(format!("--cpu={}", self.cpu_seconds))
            .arg(format!("--fsize={}", self.max_text_bytes.saturating_mul(4)))
            .arg("--nofile=256")
            .arg("--")
            .arg(&self.program)
            .args(["extract", "--media-type", media_type, "--input"])
            .arg(input);
        if let Some(language) = language {
            command.args(["--language", language]);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| SandboxError::Spawn(format!("prlimit: {e}")))?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(SandboxError::Spawn("no pipes".into()));
        };
        let limit = self.max_text_bytes;
        // Errors are read on the side; the text is read here and, past the limit, abandoned at
        // once (the child is killed when `child` is dropped).
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
            if !status.success() {
                let errors = errors.await.unwrap_or_default();
                let message = String::from_utf8_lossy(&errors);
                let last = message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_owned();
                return Err(SandboxError::Failed(describe_exit(status, &last)));
            }
            Ok(String::from_utf8_lossy(&text).into_owned())
        };
        match tokio::time::timeout(self.wall, run).await {
            Ok(result) => result,
            // Dropping the future kills the child (kill_on_drop).
            Err(_) => Err(SandboxError::TimedOut(self.wall.as_secs())),
        }
    }
}

fn describe_exit(status: std::process::ExitStatus, message: &str) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            Some(9) => return "the extractor was killed (CPU or memory limit)".into(),
            Some(24) => return "the extractor exceeded its CPU time limit".into(),
            Some(25) => return "the extractor exceeded its output size limit".into(),
            Some(signal) => return format!("the extractor crashed (signal {signal})"),
            None => {}
        }
    }
    if message.is_empty() { format!("the extractor failed ({status})") } else { message.to_owned() }
}

//! A hostile extractor — what an exploited parser would run — tries everything it should not
//! reach: the server's environment, the database file, the signing key, the stored documents,
//! the network, writing outside its scratch directory, and outliving its time. Every attempt
//! fails, the job fails with a reason, and nothing survives.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::documents::{metadata, upload, with};
use crate::helpers::TestApp;

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

/// What the probe found, one `what: blocked|LEAKED` line each.
fn probe(app: &TestApp) -> String {
    let data = Path::new(&app.settings.storage.path).parent().expect("data dir").to_owned();
    let database = app.settings.database.url.trim_start_matches("sqlite://").split('?').next().unwrap_or("").to_owned();
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    format!(
        r#"#!/bin/bash
report() {{ if [ "$2" = 0 ]; then echo "$1: LEAKED"; else echo "$1: blocked"; fi; }}
# Only what the sandbox sets (and what bash adds itself) may be there.
others=$(env | cut -d= -f1 | grep -vxE 'PATH|TMPDIR|HOME|LANG|OMP_THREAD_LIMIT|PWD|SHLVL|_' | wc -l)
[ "$others" -gt 0 ]; report environment $?
cat "{database}" > /dev/null 2>&1; report database $?
cat "{key}" > /dev/null 2>&1; report signing-key $?
ls "{objects}" > /dev/null 2>&1; report stored-documents $?
(echo > /dev/tcp/127.0.0.1/{port}) 2> /dev/null; report network-server $?
(echo > /dev/tcp/127.0.0.1/5432) 2> /dev/null; report network-postgresql $?
touch "{data}/escaped" 2> /dev/null; report write-data $?
touch /usr/escaped 2> /dev/null; report write-system $?
touch "$TMPDIR/allowed"; [ ! -e "$TMPDIR/allowed" ]; report scratch-unwritable $?
setpriv --dump | grep -qx 'no_new_privs: 1'; [ $? != 0 ]; report new-privileges $?
ls /proc/1 > /dev/null 2>&1; report processes $?
[ "$(id -u)" = 0 ]; report root $?
"#,
        key = app.settings.audit.signing_key_file,
        objects = app.settings.storage.path,
        data = data.display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_extractor_reaches_nothing() {
    use anaspoc::ingest::sandbox::Sandbox;
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = app.settings.ingest.clone();
    settings.extractor = script(dir.path(), "probe.sh", &probe(&app));
    let input = dir.path().join("input.pdf");
    std::fs::write(&input, b"%PDF-1.4").expect("input");
    let report = Sandbox::from_settings(&settings)
        .expect("sandbox")
        .extract(&input, "application/pdf", &anaspoc::ingest::extract::OcrOptions::default())
        .await;
    let report = report.expect("the probe runs").text;
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 12, "{report}");
    assert!(lines.iter().all(|line| line.ends_with(": blocked")), "{report}");
    assert!(!Path::new(&app.settings.storage.path).parent().expect("data").join("escaped").exists());

    // The same probe without the sandbox reaches what an exploited parser would: the test that
    // the probe itself can tell.
    settings.sandbox = anaspoc::config::SandboxKind::Off;
    let exposed = Sandbox::from_settings(&settings)
        .expect("sandbox")
        .extract(&input, "application/pdf", &anaspoc::ingest::extract::OcrOptions::default())
        .await;
    let exposed = exposed.expect("the probe runs").text;
    assert!(exposed.contains("database: LEAKED") && exposed.contains("signing-key: LEAKED"), "{exposed}");
}

/// An extractor that starts a grandchild and outlives its time: the job fails with a reason,
/// and no process of it, nor its scratch directory, survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_extraction_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("dir");
    let marker = format!("anaspoc-lingering-{}", uuid::Uuid::new_v4().simple());
    let extractor = script(
        dir.path(),
        "linger.sh",
        &format!("#!/bin/bash\ntouch \"$TMPDIR/{marker}\"\n(exec -a {marker} sleep 300) &\nsleep 300\n"),
    );
    let app = TestApp::spawn_with(move |s| {
        s.ingest.extractor = extractor;
        s.ingest.extract_timeout_secs = 1;
    })
    .await;
    let rs = app.token("analyst-rs").await;
    let created =
        upload(&app, &rs, &with(metadata("Lingering"), serde_json::json!({})), b"%PDF-1.4".to_vec(), "x.pdf").await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let document = crate::search::wait_until_ingested(&app, &rs, &id).await;
    let version = &document["versions"][0]["ingest"];
    assert_eq!(version["state"], "failed", "{document}");
    assert!(version["error"].as_str().expect("reason").contains("longer than 1 s"), "{document}");

    let running = std::process::Command::new("pgrep").args(["-f", &marker]).output().expect("pgrep");
    assert!(running.stdout.is_empty(), "still running: {}", String::from_utf8_lossy(&running.stdout));
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join(&marker).exists())
        .count();
    assert_eq!(leftovers, 0, "the scratch directory is gone");
}

/// Without a working sandbox the server refuses to run ingest — unless told so explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_ingest_without_a_sandbox_unless_told() {
    let dir = tempfile::tempdir().expect("dir");
    let start = |sandbox: &str| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        std::process::Command::new(env!("CARGO_BIN_EXE_anaspoc"))
            .args(["demo", "--empty"])
            .current_dir(dir.path())
            // No bubblewrap to be found.
            .env("PATH", "/nonexistent")
            .env("ANASPOC__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("ANASPOC__SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("ANASPOC__INGEST__SANDBOX", sandbox)
            .env("ANASPOC__LOG__FORMAT", "json")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start anaspoc")
    };
    let mut refusing = start("bubblewrap");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while refusing.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = refusing.kill();
            panic!("the server started without a sandbox");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = refusing.wait_with_output().expect("exit");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).to_string() + &String::from_utf8_lossy(&refused.stdout);
    assert!(said.contains("sandbox") && said.contains("ingest.sandbox"), "{said}");

    let mut allowed = start("off");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut output = String::new();
    if let Some(stdout) = allowed.stdout.take() {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            output.push_str(&line);
            output.push('\n');
            if line.contains("anaspoc listening") || std::time::Instant::now() > deadline {
                break;
            }
        }
    }
    let _ = allowed.kill();
    let _ = allowed.wait();
    assert!(output.contains("EXTRACTION SANDBOX OFF") && output.contains("anaspoc listening"), "{output}");
}

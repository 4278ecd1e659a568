//! The command line, run as an operator would.

use std::process::Command;

fn anaspoc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_anaspoc"));
    // Run from an empty directory so no config/ or data/ of the checkout is picked up.
    command.current_dir(std::env::temp_dir());
    command
}

#[test]
fn help_explains_each_command() {
    let output = anaspoc().arg("--help").output().expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in ["serve", "demo", "migrate", "--config", "ANASPOC__SECTION__KEY", "loopback"] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn demo_refuses_a_non_loopback_address_loudly() {
    let output = anaspoc().arg("demo").env("ANASPOC__SERVER__BIND", "0.0.0.0:0").output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.bind") && stderr.contains("loopback"), "{stderr}");
}

#[test]
fn serve_names_the_missing_key() {
    let output = anaspoc().arg("serve").env_remove("ANASPOC__OIDC__ISSUER_URL").output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("oidc.issuer_url"), "{stderr}");
}

#[test]
fn a_malformed_value_names_its_key() {
    let output = anaspoc().arg("demo").env("ANASPOC__LIMITS__MAX_UPLOAD_BYTES", "lots").output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains("limits.max_upload_bytes"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_commands_checkpoint_verify_and_export_the_database() {
    let app = crate::helpers::TestApp::spawn().await;
    let token = app.token("analyst-rs").await;
    for _ in 0..3 {
        app.get_as(&token, "/api/v1/me").await;
    }
    let run = |args: &[&str]| {
        let output = anaspoc()
            .args(args)
            .env("ANASPOC__DATABASE__URL", &app.settings.database.url)
            .env("ANASPOC__AUDIT__SIGNING_KEY_FILE", &app.settings.audit.signing_key_file)
            .env("ANASPOC__OIDC__ISSUER_URL", "https://idp.example/realms/anaspoc")
            .env("ANASPOC__OIDC__AUDIENCE", "anaspoc")
            .output()
            .expect("run");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = run(&["audit", "checkpoint"]);
    assert!(ok, "{stderr}");
    let checkpoint: serde_json::Value = serde_json::from_str(&stdout).expect("checkpoint json");
    assert_eq!(checkpoint["seq"], 3);
    assert!(checkpoint["signature"].as_str().is_some_and(|s| !s.is_empty()));

    let (ok, stdout, stderr) = run(&["audit", "verify"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("ok: 3 events") && stdout.contains("1 checkpoint(s)"), "{stdout}");

    let (ok, stdout, _) = run(&["audit", "export", "--format", "jsonl"]);
    assert!(ok);
    assert_eq!(stdout.lines().count(), 3);
}

/// `anaspoc probe URL`, the container's health check: 0 when the server answers 2xx, 1 when it
/// does not answer or answers otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_answers_for_a_health_check() {
    let app = crate::helpers::TestApp::spawn().await;
    let probe = |url: String| async move {
        tokio::task::spawn_blocking(move || anaspoc().args(["probe", &url]).output().expect("run").status.success())
            .await
            .expect("probe")
    };
    assert!(probe(app.url("/healthz")).await, "a live server");
    assert!(!probe(app.url("/no-such-route")).await, "a 404 is not healthy");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    assert!(!probe(format!("http://{dead}/healthz")).await, "nobody listening");

    // Without a URL (the image's HEALTHCHECK): the server at `server.bind`, whatever it is.
    let own = |bind: String| async move {
        tokio::task::spawn_blocking(move || {
            anaspoc().arg("probe").env("ANASPOC__SERVER__BIND", bind).output().expect("run").status.success()
        })
        .await
        .expect("probe")
    };
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    assert!(own(format!("127.0.0.1:{port}")).await, "its own bind address");
    assert!(own(format!("0.0.0.0:{port}")).await, "a wildcard bind is probed on loopback");
    assert!(!own(dead.to_string()).await, "nobody listening at the bind address");
}

/// `anaspoc audit keygen` is the first thing an operator runs, before an issuer or a database is
/// configured (README, "Deploy with Docker"): it needs only the key's path, and writes the key
/// readable by its owner alone, once — a second run keeps the first key.
#[test]
fn keygen_needs_only_the_key_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("audit-signing-key.pem");
    let keygen = || {
        anaspoc()
            .args(["audit", "keygen"])
            .env_remove("ANASPOC__OIDC__ISSUER_URL")
            .env("ANASPOC__AUDIT__SIGNING_KEY_FILE", &key)
            .output()
            .expect("run")
    };
    let output = keygen();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let first = std::fs::read(&key).expect("the key is written");
    assert_eq!(std::fs::metadata(&key).expect("meta").permissions().mode() & 0o077, 0, "owner only");
    assert!(!keygen().status.success(), "a second keygen must not replace the key");
    assert_eq!(std::fs::read(&key).expect("key"), first);
}

/// A request a client malformed (here a header with a control character) is answered 400 and
/// leaves no ERROR in the log: operators alert on errors, and a scanner must not page them.
/// Found by the schemathesis run (tools/api-contract.sh).
#[test]
fn a_malformed_request_is_refused_without_an_error_in_the_log() {
    use std::io::{BufRead, Read, Write};
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_anaspoc"))
        .args(["demo", "--empty"])
        .current_dir(dir.path())
        .env("ANASPOC__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("ANASPOC__SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("ANASPOC__LOG__FORMAT", "json")
        // The configured filter, not an operator's override.
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start anaspoc");
    let lines = std::io::BufReader::new(server.stdout.take().expect("stdout")).lines();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut log = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !log.iter().any(|l: &String| l.contains("anaspoc listening")) && std::time::Instant::now() < deadline {
        if let Ok(line) = received.recv_timeout(std::time::Duration::from_millis(200)) {
            log.push(line);
        }
    }
    let mut connection = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    connection.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n").expect("send");
    connection.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
    let mut answer = [0u8; 64];
    let read = connection.read(&mut answer).expect("answer");
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = server.kill();
    let _ = server.wait();
    log.extend(received.try_iter());
    assert!(log.iter().any(|l| l.contains("anaspoc listening")), "the server started: {log:?}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let errors: Vec<&String> = log.iter().filter(|l| l.contains("\"level\":\"ERROR\"")).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

//! E-mail digests of alerts against a real SMTP server (aiosmtpd, STARTTLS required, with a
//! certificate of a CA made here): the digest counts new matching documents per saved search and
//! links to the platform, and carries nothing of any document — no title, words of its text,
//! marking or id. Runs when ANASPOC_TEST_AIOSMTPD (the aiosmtpd program) is set.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::documents::{create, metadata, post_json, with};
use crate::helpers::{TestApp, peer};

pub const AIOSMTPD_VAR: &str = "ANASPOC_TEST_AIOSMTPD";

struct SmtpServer {
    process: Child,
    port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// aiosmtpd on a free port, STARTTLS required, delivering into the Maildir `mail`.
fn smtp_server(program: &str, dir: &std::path::Path, mail: &std::path::Path) -> SmtpServer {
    let pki = crate::tls::test_pki();
    let (cert, key, ca) = (dir.join("smtp.pem"), dir.join("smtp.key"), dir.join("ca.pem"));
    std::fs::write(&cert, &pki.leaf_pem).expect("cert");
    std::fs::write(&key, &pki.leaf_key_pem).expect("key");
    std::fs::write(&ca, &pki.ca_pem).expect("ca");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let process = Command::new(program)
        .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg("--tlscert")
        .arg(&cert)
        .arg("--tlskey")
        .arg(&key)
        .arg(mail)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    SmtpServer { process, port }
}

/// The messages delivered so far.
fn delivered(mail: &std::path::Path) -> Vec<String> {
    let new = mail.join("new");
    std::fs::read_dir(&new)
        .map(|entries| entries.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_counts_matches_and_carries_nothing_of_them() {
    let Some(program) = peer(AIOSMTPD_VAR) else { return };
    let work = tempfile::tempdir().expect("dir");
    let mail = work.path().join("mail");
    let server = smtp_server(&program, work.path(), &mail);
    let (port, ca) = (server.port, work.path().join("ca.pem").display().to_string());
    let app = TestApp::spawn_with(move |s| {
        s.notify.smtp_url = anaspoc::config::Secret::new(format!("smtp://127.0.0.1:{port}"));
        s.notify.ca_file = ca;
        s.notify.digest_interval_secs = 1;
    })
    .await;
    let rs = app.token("analyst-rs").await;
    let ba = app.token("analyst-ba").await;
    for (name, q) in [("Drina route", "drina"), ("Una river", "una")] {
        let saved = post_json(&app, &ba, "/api/v1/saved-searches", &json!({"name": name, "q": q, "alert": true})).await;
        assert_eq!(saved.status(), 201);
    }
    let secret = "Informant Jovana meets the courier at Karakaj";
    let mut ids = Vec::new();
    for title in ["Drina ferries", "Drina bridges"] {
        let marked = with(metadata(title), json!({"releasable_to": ["BA"], "tags": ["smuggling"]}));
        let document = create(&app, &rs, &marked, format!("drina {secret}").as_bytes()).await;
        ids.push(document["id"].as_str().expect("id").to_owned());
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let message = loop {
        if let Some(message) = delivered(&mail).into_iter().next() {
            break message;
        }
        assert!(Instant::now() < deadline, "no digest arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(message.contains("To: analyst-ba@ba-sipa.example"), "{message}");
    assert!(message.contains("2 new documents match your saved search"), "{message}");
    assert!(message.contains("Drina route") && message.contains("/notifications"), "{message}");
    assert!(!message.contains("Una river"), "only searches with news: {message}");
    let unfolded = message.replace("=\r\n", "").replace("=\n", "");
    for leak in [
        "Drina ferries",
        "Drina bridges",
        "Informant",
        "Karakaj",
        "SENSITIVE",
        "AMBER",
        "H1",
        "smuggling",
        &ids[0],
        &ids[1],
    ] {
        assert!(!unfolded.contains(leak), "the e-mail carries `{leak}`: {message}");
    }

    // Counted once: the next interval sends nothing more for them.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(delivered(&mail).len(), 1, "one digest for these notifications");
    drop(server);
}

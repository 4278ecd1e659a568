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
    for needle in [
        "serve",
        "demo",
        "migrate",
        "--config",
        "ANASPOC__SECTION__KEY",
        "loopback",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn demo_refuses_a_non_loopback_address_loudly() {
    let output = anaspoc()
        .arg("demo")
        .env("ANASPOC__SERVER__BIND", "0.0.0.0:0")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.bind") && stderr.contains("loopback"),
        "{stderr}"
    );
}

#[test]
fn serve_names_the_missing_key() {
    let output = anaspoc()
        .arg("serve")
        .env_remove("ANASPOC__OIDC__ISSUER_URL")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("oidc.issuer_url"), "{stderr}");
}

#[test]
fn a_malformed_value_names_its_key() {
    let output = anaspoc()
        .arg("demo")
        .env("ANASPOC__LIMITS__MAX_UPLOAD_BYTES", "lots")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains("limits.max_upload_bytes"), "{stderr}");
}

//! HTTPS through rustls with a CA and leaf generated here; plain HTTP off loopback is refused.

use anaspoc::config::ConfigError;
use anaspoc::startup::{Application, StartupError};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::helpers::{TestApp, test_settings};

pub struct TestPki {
    pub ca_pem: String,
    pub leaf_pem: String,
    pub leaf_key_pem: String,
}

pub fn test_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "anaspoc test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");

    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("leaf params");
    leaf_params.distinguished_name.push(DnType::CommonName, "anaspoc test server");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");
    TestPki { ca_pem: ca.pem(), leaf_pem: leaf.pem(), leaf_key_pem: leaf_key.serialize_pem() }
}

#[tokio::test]
async fn https_serves_http1_and_http2_to_a_client_trusting_the_ca() {
    let pki = test_pki();
    let dir = tempfile::tempdir().expect("dir");
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, &pki.leaf_pem).expect("write cert");
    std::fs::write(&key, &pki.leaf_key_pem).expect("write key");
    let app = TestApp::spawn_with(|s| {
        s.server.tls_cert = cert.display().to_string();
        s.server.tls_key = key.display().to_string();
        s.oidc.ca_file = dir.path().join("ca.pem").display().to_string();
        std::fs::write(&s.oidc.ca_file, &pki.ca_pem).expect("write ca");
    })
    .await;
    assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);

    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca cert");
    for (label, builder, expected) in [
        ("HTTP/1.1", reqwest::Client::builder().http1_only(), reqwest::Version::HTTP_11),
        ("HTTP/2", reqwest::Client::builder(), reqwest::Version::HTTP_2),
    ] {
        let client = builder.tls_certs_only([ca.clone()]).build().expect("client");
        let response = client.get(app.url("/healthz")).send().await.expect(label);
        assert_eq!(response.status(), 200, "{label}");
        assert_eq!(response.version(), expected, "{label} negotiated by ALPN");

        // Sign-in works over TLS too (the demo provider is reached over HTTPS, trusting the CA).
        let token: serde_json::Value = client
            .post(app.url("/demo-idp/token"))
            .form(&[("grant_type", "password"), ("username", "analyst-me")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        let me = client
            .get(app.url("/api/v1/me"))
            .bearer_auth(token["access_token"].as_str().expect("token"))
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), 200, "{label}");
    }

    let untrusting = reqwest::Client::builder().tls_certs_only([]).build().expect("client");
    assert!(untrusting.get(app.url("/healthz")).send().await.is_err(), "a client without the CA refuses the server");
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused_at_start_unless_allowed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = test_settings(dir.path());
    settings.demo.enabled = false;
    settings.oidc.issuer_url = "https://idp.example/realms/anaspoc".into();
    settings.oidc.audience = "anaspoc".into();
    settings.server.bind = "0.0.0.0:0".into();
    match Application::build(settings.clone()).await {
        Err(StartupError::Config(ConfigError::Invalid { key, problem })) => {
            assert_eq!(key, "server.bind");
            assert!(problem.contains("TLS"), "{problem}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("plain HTTP on 0.0.0.0 must be refused"),
    }
    settings.server.allow_plain_http = true;
    let app = Application::build(settings).await.expect("explicitly allowed behind a TLS proxy");
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    handle.stop(false).await;
}

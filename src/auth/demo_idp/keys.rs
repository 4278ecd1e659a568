//! RSA signing keys of the demo identity provider, generated in memory at start (never written
//! to disk: a restart invalidates every demo token, which is what a demo wants).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating an RSA key failed")]
    Generate,
    #[error("signing a token failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public_jwk: Value,
    private_pem: String,
}

impl SigningKey {
    /// A fresh RSA-2048 key for RS256 with a random `kid`.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Generate)?;
        let private_pem = pem("PRIVATE KEY", pkcs8.as_ref());
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes())?;
        let public = pair.public_key();
        let kid = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let public_jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        });
        Ok(Self { kid, encoding, public_jwk, private_pem })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// PKCS#8 PEM of the private key (tests forge tokens with it; never served).
    pub fn private_pem(&self) -> &str {
        &self.private_pem
    }

    /// Sign `claims` as an RFC 9068 access token (`typ: at+jwt`, RS256, this key's `kid`).
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        self.sign_as(claims, "at+jwt")
    }

    /// Sign with the given header `typ` (`JWT` for ID tokens).
    pub fn sign_as(&self, claims: &Value, typ: &str) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.into());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

//! Signed checkpoints: the chain head (seq, hash, time) signed with the server's Ed25519 key. A
//! copy kept outside the platform proves later that nothing up to that point was rewritten.

use std::path::Path;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuditError;

/// What is signed: the canonical JSON of these four fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    pub key_id: String,
    /// Base64 of the raw 32-byte Ed25519 public key.
    pub public_key: String,
    /// Base64 of the signature over [`Checkpoint::statement`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes: JCS of `{at, hash, key_id, seq}`.
    pub fn statement(seq: i64, hash: &str, at: &str, key_id: &str) -> Result<String, AuditError> {
        Ok(serde_json_canonicalizer::to_string(&serde_json::json!({
            "seq": seq, "hash": hash, "at": at, "key_id": key_id,
        }))?)
    }

    /// The signature is valid for the embedded public key, and the key id is that key's.
    pub fn signature_valid(&self) -> bool {
        let (Ok(public), Ok(signature)) = (STANDARD.decode(&self.public_key), STANDARD.decode(&self.signature)) else {
            return false;
        };
        let Ok(statement) = Self::statement(self.seq, &self.hash, &self.at, &self.key_id) else {
            return false;
        };
        key_id(&public) == self.key_id
            && UnparsedPublicKey::new(&ED25519, &public).verify(statement.as_bytes(), &signature).is_ok()
    }
}

/// Short, stable id of a public key: hex of the first 8 bytes of its SHA-256.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// The server's checkpoint signing key (PKCS#8 PEM on disk).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Load the key at `path`, or create it (mode 0600) when absent — one process on one
    /// machine (SQLite). Replicas sharing PostgreSQL [`load`](Self::load) one key made beforehand.
    pub fn load_or_create(path: &Path) -> Result<Self, AuditError> {
        if path.exists() { Self::load(path) } else { Self::create(path) }
    }

    /// For the database `url`: on PostgreSQL — where several replicas share the trail and must
    /// sign with the same key — the key must exist (`anaspoc audit keygen`); on SQLite it is
    /// created when absent.
    pub fn for_database(path: &Path, url: &str) -> Result<Self, AuditError> {
        if url.starts_with("postgres") && !path.exists() {
            return Err(AuditError::SigningKey(format!(
                "{}: no such file. On PostgreSQL every replica signs checkpoints with the same key: create it \
                 once with `anaspoc audit keygen` and give each replica that file (audit.signing_key_file)",
                path.display()
            )));
        }
        Self::load_or_create(path)
    }

    /// Load the key at `path` (PKCS#8 PEM).
    pub fn load(path: &Path) -> Result<Self, AuditError> {
        let key_error = |e: String| AuditError::SigningKey(format!("{}: {e}", path.display()));
        let pem = std::fs::read_to_string(path).map_err(|e| key_error(e.to_string()))?;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body.trim()).map_err(|e| key_error(e.to_string()))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| key_error(e.to_string()))?;
        Ok(Self { pair })
    }

    /// Make a new key and write it to `path` (mode 0600); refused if the file exists.
    pub fn create(path: &Path) -> Result<Self, AuditError> {
        let key_error = |e: String| AuditError::SigningKey(format!("{}: {e}", path.display()));
        if path.exists() {
            return Err(key_error("exists already; a signing key is never overwritten".into()));
        }
        let pair = Ed25519KeyPair::generate().map_err(|_| key_error("generation failed".into()))?;
        let der = pair.to_pkcs8().map_err(|_| key_error("encoding failed".into()))?;
        let encoded = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| key_error(e.to_string()))?;
        }
        write_private(path, &pem).map_err(|e| key_error(e.to_string()))?;
        tracing::warn!(path = %path.display(), "created a new audit checkpoint signing key; back it up");
        Ok(Self { pair })
    }

    pub fn key_id(&self) -> String {
        key_id(self.pair.public_key().as_ref())
    }

    pub fn sign(&self, seq: i64, hash: &str, at: &str) -> Result<Checkpoint, AuditError> {
        let key_id = self.key_id();
        let statement = Checkpoint::statement(seq, hash, at, &key_id)?;
        let signature = self.pair.sign(statement.as_bytes());
        Ok(Checkpoint {
            seq,
            hash: hash.to_owned(),
            at: at.to_owned(),
            key_id,
            public_key: STANDARD.encode(self.pair.public_key().as_ref()),
            signature: STANDARD.encode(signature.as_ref()),
        })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_verify_and_any_change_breaks_them() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keys/audit.pem");
        let key = SigningKey::load_or_create(&path).expect("create");
        let again = SigningKey::load_or_create(&path).expect("load");
        assert_eq!(key.key_id(), again.key_id(), "the key persists");
        let checkpoint = key.sign(42, &"a".repeat(64), "2026-11-28T12:00:00.000Z").expect("sign");
        assert!(checkpoint.signature_valid());
        for tampered in [
            Checkpoint { seq: 41, ..checkpoint.clone() },
            Checkpoint { hash: "b".repeat(64), ..checkpoint.clone() },
            Checkpoint { at: "2026-11-29T12:00:00.000Z".into(), ..checkpoint.clone() },
        ] {
            assert!(!tampered.signature_valid());
        }
        let other = SigningKey::load_or_create(&dir.path().join("other.pem")).expect("other");
        let forged = other.sign(42, &"a".repeat(64), "2026-11-28T12:00:00.000Z").expect("sign");
        let mixed = Checkpoint { public_key: checkpoint.public_key.clone(), ..forged };
        assert!(!mixed.signature_valid(), "a signature by another key does not verify");
    }
}

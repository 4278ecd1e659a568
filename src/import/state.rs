//! The state an import keeps beside its manifest (`<manifest>.import-state`): the salt its
//! document ids are derived with. Made on the first run (readable by its owner only); later
//! runs of the same manifest read it, and so derive the same ids and skip what is imported.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ImportError;
use crate::document_id::DocumentId;

#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    salt: String,
}

fn path_of(manifest: &Path) -> PathBuf {
    let mut name = manifest.as_os_str().to_owned();
    name.push(".import-state");
    PathBuf::from(name)
}

/// The manifest's salt, made and kept on the first run.
pub fn salt(manifest: &Path) -> Result<String, ImportError> {
    let path = path_of(manifest);
    let failed = |reason: String| ImportError::State { path: path.display().to_string(), reason };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let state: State = serde_json::from_str(&text).map_err(|e| failed(format!("not an import state: {e}")))?;
            Ok(state.salt)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut random = [0u8; 32];
            aws_lc_rs::rand::fill(&mut random).map_err(|_| failed("no random bytes".into()))?;
            let salt = hex::encode(random);
            let text = serde_json::to_string(&State { salt: salt.clone() }).map_err(|e| failed(e.to_string()))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).map_err(|e| failed(e.to_string()))?;
            file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| failed(e.to_string()))?;
            Ok(salt)
        }
        Err(error) => Err(failed(error.to_string())),
    }
}

/// The id of the document a manifest line makes: the same on every run with the same salt,
/// importing principal and line content.
pub fn document_id(salt: &str, importer: &str, identity: &str) -> DocumentId {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update([0])
        .chain_update(importer.as_bytes())
        .chain_update([0])
        .chain_update(identity.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DocumentId::derived(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_salt_importer_and_line() {
        let id = document_id("salt", "analyst-rs", "line");
        assert_eq!(id, document_id("salt", "analyst-rs", "line"));
        assert_ne!(id, document_id("other", "analyst-rs", "line"));
        assert_ne!(id, document_id("salt", "analyst-al", "line"));
        assert_ne!(id, document_id("salt", "analyst-rs", "line 2"));
        assert_eq!(DocumentId::parse(&id.to_string()), Some(id), "a canonical id, as a request names it");
    }
}

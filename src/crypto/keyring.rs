//! The keyring: each organisation's key-encryption keys (KEKs), versioned, kept in one file
//! encrypted under a master key that comes from a secret file or the environment — never the
//! database, never the logs. [`Keyring`] is the small interface the platform needs (wrap a data
//! key for an organisation, unwrap one, rotate, destroy); [`FileKeyring`] implements it. An
//! external KMS (Vault Transit, a cloud KMS, a PKCS#11 HSM) would implement the same four calls,
//! its KEKs never leaving it.
//!
//! The file (JSON, mode 0600, written whole to a temporary file and renamed): a check value that
//! proves the master key, and per organisation (`country:organisation`) the current version and
//! every version's KEK sealed under the master key with the organisation and version bound in.
//! Replicas share the file; a lock file serialises changes, and a replica that meets a version it
//! does not know reads the file again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::envelope::DataKey;
use super::wrapping::Kek;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The organisation's keys were destroyed (crypto-shredding): its material is gone.
    #[error("the keys of {0} were destroyed")]
    Destroyed(String),
    #[error("the keyring holds no keys of {0} (organisations are COUNTRY:ORGANISATION, as their documents name them)")]
    NoKeys(String),
    #[error("no key version {version} for {organisation}")]
    UnknownVersion { organisation: String, version: u32 },
    #[error("a wrapped data key did not open: it was altered or belongs elsewhere")]
    Tampered,
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("the master key does not open the keyring {0} (wrong key?)")]
    WrongMasterKey(String),
    #[error("the master key: {0}")]
    MasterKey(String),
    #[error("no randomness from the operating system")]
    Random,
}

/// A data key wrapped under a version of an organisation's KEK: what the database keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub organisation: String,
    pub version: u32,
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct WrappedColumn {
    organisation: String,
    version: u32,
    key: String,
}

impl WrappedKey {
    /// As the database column keeps it: `{"organisation","version","key"}` (key in base64).
    pub fn to_column(&self) -> String {
        let column = WrappedColumn {
            organisation: self.organisation.clone(),
            version: self.version,
            key: BASE64.encode(&self.bytes),
        };
        serde_json::to_string(&column).unwrap_or_default()
    }

    pub fn from_column(text: &str) -> Option<Self> {
        let column: WrappedColumn = serde_json::from_str(text).ok()?;
        Some(Self {
            organisation: column.organisation,
            version: column.version,
            bytes: BASE64.decode(column.key).ok()?,
        })
    }
}

/// What the platform asks of a keyring.
pub trait Keyring: Send + Sync {
    /// Wrap `key` under the current KEK of `organisation` (made on first use).
    fn wrap(&self, organisation: &str, key: &DataKey) -> Result<WrappedKey, KeyringError>;
    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyringError>;
    /// A new KEK version for new objects; older versions still unwrap. The new version.
    fn rotate(&self, organisation: &str) -> Result<u32, KeyringError>;
    /// Destroy every KEK of `organisation`: what they wrapped can never be read again.
    fn destroy(&self, organisation: &str) -> Result<(), KeyringError>;
    /// Whether `organisation`'s keys were destroyed.
    fn destroyed(&self, organisation: &str) -> bool;
}

/// The master key: 32 bytes, given base64-encoded.
pub struct MasterKey {
    bytes: [u8; 32],
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<Self, KeyringError> {
        let decoded =
            Zeroizing::new(BASE64.decode(text.trim()).map_err(|_| {
                KeyringError::MasterKey("is not base64 (make one with `openssl rand -base64 32`)".into())
            })?);
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyringError::MasterKey("must be 32 bytes, base64-encoded".into()))?;
        Ok(Self { bytes })
    }

    /// A new random master key written to `path` (mode 0600; refused if the file exists) — for
    /// the demo, which makes its own; a deployment is given one.
    pub fn create_file(path: &Path) -> Result<Self, KeyringError> {
        let key = Self { bytes: new_kek()? };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create_new(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| file_error(path, e))?;
        file.write_all(format!("{}\n", BASE64.encode(key.bytes)).as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| file_error(path, e))?;
        Ok(key)
    }

    /// From a file readable by its owner only.
    pub fn from_file(path: &Path) -> Result<Self, KeyringError> {
        owner_only(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
        Self::from_base64(&text)
    }

    /// A KEK's bytes sealed under the master key, bound to its organisation and version.
    fn seal(&self, organisation: &str, version: u32, kek: &[u8; 32]) -> Result<String, KeyringError> {
        let sealer =
            Kek::new(&self.bytes, &format!("kek {organisation}"), version).map_err(|_| KeyringError::Random)?;
        Ok(BASE64.encode(sealer.wrap(&DataKey::from_bytes(*kek)).map_err(|_| KeyringError::Random)?))
    }

    fn open(&self, organisation: &str, version: u32, sealed: &str) -> Result<Zeroizing<[u8; 32]>, KeyringError> {
        let opener =
            Kek::new(&self.bytes, &format!("kek {organisation}"), version).map_err(|_| KeyringError::Random)?;
        let bytes = BASE64.decode(sealed).map_err(|_| KeyringError::Tampered)?;
        Ok(Zeroizing::new(*opener.unwrap(&bytes).map_err(|_| KeyringError::Tampered)?.expose()))
    }
}

#[derive(Default, Serialize, Deserialize)]
struct FileContent {
    format: u32,
    /// A known value sealed under the master key: a wrong key fails here, at start.
    check: String,
    organisations: BTreeMap<String, OrganisationKeys>,
}

#[derive(Default, Clone, Serialize, Deserialize)]
struct OrganisationKeys {
    current: u32,
    /// Version → the KEK sealed under the master key. Empty once destroyed.
    versions: BTreeMap<u32, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    destroyed_at: Option<String>,
}

const CHECK_ORGANISATION: &str = "keyring check";

/// The keyring in a file (see the module's note).
pub struct FileKeyring {
    path: PathBuf,
    master: MasterKey,
    /// The file as last read, and which file it was then.
    content: RwLock<(FileContent, Option<FileVersion>)>,
}

impl FileKeyring {
    /// The keyring `[crypto]` configures, with its master key (from the environment or its file).
    pub fn from_config(crypto: &crate::config::CryptoSettings) -> Result<Self, KeyringError> {
        let master = match crypto.master_key.expose() {
            "" => MasterKey::from_file(Path::new(&crypto.master_key_file))?,
            text => MasterKey::from_base64(text)?,
        };
        Self::open(Path::new(&crypto.keyring_file), master)
    }

    /// Open the keyring at `path`, or create an empty one. Refuses a file others may read and a
    /// master key that does not open it. Replicas starting together agree on one file: it is
    /// created under the lock, by whichever comes first.
    pub fn open(path: &Path, master: MasterKey) -> Result<Self, KeyringError> {
        let content = match Self::read_checked(path, &master)? {
            Some(content) => content,
            None => {
                let _lock = lock(path)?;
                match Self::read_checked(path, &master)? {
                    Some(content) => content,
                    None => {
                        let check = master.seal(CHECK_ORGANISATION, 0, &[0u8; 32])?;
                        let content = FileContent { format: 1, check, ..Default::default() };
                        write(path, &content)?;
                        content
                    }
                }
            }
        };
        Ok(Self { path: path.to_owned(), master, content: RwLock::new((content, modified(path))) })
    }

    /// The keyring file, if there is one — readable by its owner only, and opened by `master`.
    fn read_checked(path: &Path, master: &MasterKey) -> Result<Option<FileContent>, KeyringError> {
        if !path.exists() {
            return Ok(None);
        }
        owner_only(path)?;
        let content = read(path)?;
        master
            .open(CHECK_ORGANISATION, 0, &content.check)
            .map_err(|_| KeyringError::WrongMasterKey(path.display().to_string()))?;
        Ok(Some(content))
    }

    /// Change the file under its lock: read it again (another replica may have changed it),
    /// apply `change`, write it whole.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut FileContent, &MasterKey) -> Result<T, KeyringError>,
    ) -> Result<T, KeyringError> {
        let _lock = lock(&self.path)?;
        let mut content = read(&self.path)?;
        let result = change(&mut content, &self.master)?;
        write(&self.path, &content)?;
        *self.content.write().unwrap_or_else(|p| p.into_inner()) = (content, modified(&self.path));
        Ok(result)
    }

    fn kek(&self, organisation: &str, version: Option<u32>) -> Result<Option<Kek>, KeyringError> {
        // Another replica or the operator's command may have changed the file (a rotation, a
        // destruction): one `stat` per use tells.
        let stale = self.content.read().unwrap_or_else(|p| p.into_inner()).1 != modified(&self.path);
        if stale {
            self.reload()?;
        }
        let guard = self.content.read().unwrap_or_else(|p| p.into_inner());
        let content = &guard.0;
        let Some(keys) = content.organisations.get(organisation) else { return Ok(None) };
        if keys.destroyed_at.is_some() {
            return Err(KeyringError::Destroyed(organisation.to_owned()));
        }
        let version = version.unwrap_or(keys.current);
        let Some(sealed) = keys.versions.get(&version) else { return Ok(None) };
        let bytes = self.master.open(organisation, version, sealed)?;
        Kek::new(&bytes, organisation, version).map(Some).map_err(|_| KeyringError::Tampered)
    }

    fn reload(&self) -> Result<(), KeyringError> {
        let when = modified(&self.path);
        let content = read(&self.path)?;
        *self.content.write().unwrap_or_else(|p| p.into_inner()) = (content, when);
        Ok(())
    }
}

/// Which file is at the path: every change is a new file renamed into place (a new inode), and
/// its modification time and size — file times alone are too coarse (a few milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileVersion {
    inode: u64,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

fn modified(path: &Path) -> Option<FileVersion> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileVersion { inode, modified: metadata.modified().ok(), len: metadata.len() })
}

fn new_kek() -> Result<[u8; 32], KeyringError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| KeyringError::Random)?;
    Ok(bytes)
}

impl Keyring for FileKeyring {
    fn wrap(&self, organisation: &str, key: &DataKey) -> Result<WrappedKey, KeyringError> {
        let kek = match self.kek(organisation, None)? {
            Some(kek) => kek,
            None => {
                // First use: make version 1 (unless another replica just did).
                self.change(|content, master| {
                    let keys = content.organisations.entry(organisation.to_owned()).or_default();
                    if keys.destroyed_at.is_some() {
                        return Err(KeyringError::Destroyed(organisation.to_owned()));
                    }
                    if keys.versions.is_empty() {
                        keys.current = 1;
                        keys.versions.insert(1, master.seal(organisation, 1, &new_kek()?)?);
                    }
                    Ok(())
                })?;
                self.kek(organisation, None)?.ok_or_else(|| KeyringError::Destroyed(organisation.to_owned()))?
            }
        };
        let bytes = kek.wrap(key).map_err(|_| KeyringError::Random)?;
        Ok(WrappedKey { organisation: organisation.to_owned(), version: kek.version(), bytes })
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyringError> {
        let kek = self.kek(&wrapped.organisation, Some(wrapped.version))?.ok_or_else(|| {
            KeyringError::UnknownVersion { organisation: wrapped.organisation.clone(), version: wrapped.version }
        })?;
        kek.unwrap(&wrapped.bytes).map_err(|_| KeyringError::Tampered)
    }

    fn rotate(&self, organisation: &str) -> Result<u32, KeyringError> {
        self.change(|content, master| {
            let keys = content.organisations.entry(organisation.to_owned()).or_default();
            if keys.destroyed_at.is_some() {
                return Err(KeyringError::Destroyed(organisation.to_owned()));
            }
            let version = keys.versions.keys().max().copied().unwrap_or(0) + 1;
            keys.versions.insert(version, master.seal(organisation, version, &new_kek()?)?);
            keys.current = version;
            Ok(version)
        })
    }

    fn destroyed(&self, organisation: &str) -> bool {
        matches!(self.kek(organisation, None), Err(KeyringError::Destroyed(_)))
    }

    fn destroy(&self, organisation: &str) -> Result<(), KeyringError> {
        self.change(|content, _| {
            // A misspelt organisation must not report a destruction that destroyed nothing.
            let keys = content
                .organisations
                .get_mut(organisation)
                .ok_or_else(|| KeyringError::NoKeys(organisation.to_owned()))?;
            keys.versions.clear();
            keys.destroyed_at = Some(chrono::Utc::now().to_rfc3339());
            Ok(())
        })
    }
}

/// Hold the keyring's lock file (`keyring.lock` beside it) until the returned file is dropped:
/// one writer at a time across replicas and the operator's commands.
fn lock(path: &Path) -> Result<std::fs::File, KeyringError> {
    let lock_path = path.with_extension("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| file_error(&lock_path, e))?;
    lock.lock().map_err(|e| file_error(&lock_path, e))?;
    Ok(lock)
}

fn file_error(path: &Path, error: impl std::fmt::Display) -> KeyringError {
    KeyringError::File { path: path.display().to_string(), problem: error.to_string() }
}

/// Refuse a key file that anyone but its owner may read or write.
fn owner_only(path: &Path) -> Result<(), KeyringError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| file_error(path, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(file_error(path, format!("mode {:o}: others may read it (chmod 600)", mode & 0o777)));
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<FileContent, KeyringError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let content: FileContent = serde_json::from_str(&text).map_err(|e| file_error(path, e))?;
    if content.format != 1 {
        return Err(file_error(path, format!("format {} is not one this version reads", content.format)));
    }
    Ok(content)
}

/// Write the whole file to a new temporary file beside it (created afresh, owner-only: never an
/// existing file or a link someone left there), synced, renamed into place, and the rename made
/// durable by syncing the folder — a destruction or rotation reported done survives a power cut.
fn write(path: &Path, content: &FileContent) -> Result<(), KeyringError> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let prefix = temporary_prefix(path);
    let mut file = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|e| file_error(folder, e))?;
    let text = serde_json::to_vec_pretty(content).map_err(|e| file_error(path, e))?;
    file.write_all(&text).and_then(|_| file.as_file().sync_all()).map_err(|e| file_error(file.path(), e))?;
    file.persist(path).map_err(|e| file_error(path, e.error))?;
    std::fs::File::open(folder).and_then(|folder| folder.sync_all()).map_err(|e| file_error(folder, e))?;
    remove_leftovers(path, folder, &prefix);
    Ok(())
}

/// The temporary files of the keyring at `path` begin with this (so that two keyrings in one
/// folder never touch each other's).
fn temporary_prefix(path: &Path) -> String {
    format!(".{}-", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
}

/// Remove what a write cut off by a crash left beside the keyring — a copy of it from before,
/// perhaps holding keys destroyed since — and the fixed-name `keyring.tmp` earlier versions
/// wrote. Called under the lock, once the new file is in place: no other write is under way.
fn remove_leftovers(path: &Path, folder: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let old_temporary = path.with_extension("tmp");
    let old_temporary = old_temporary.file_name();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        let leftover =
            (name.starts_with(prefix) && name.ends_with(".tmp")) || Some(file_name.as_os_str()) == old_temporary;
        if leftover && let Err(error) = std::fs::remove_file(entry.path()) {
            tracing::warn!(file = %entry.path().display(), %error, "could not remove a keyring leftover");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn master() -> MasterKey {
        MasterKey::from_base64(MASTER).expect("master key")
    }

    #[test]
    fn a_created_master_key_is_owner_only_never_overwritten_and_opens_its_keyring() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("data").join("master.key");
        MasterKey::create_file(&path).expect("created");
        assert_eq!(std::fs::metadata(&path).expect("file").permissions().mode() & 0o777, 0o600);
        let before = std::fs::read(&path).expect("read");
        assert!(MasterKey::create_file(&path).is_err(), "an existing key is never overwritten");
        assert_eq!(std::fs::read(&path).expect("read"), before);
        let keyring = FileKeyring::open(&dir.path().join("keyring.json"), MasterKey::from_file(&path).expect("read"))
            .expect("keyring");
        let key = DataKey::generate().expect("data key");
        let wrapped = keyring.wrap("RS:RS-MUP", &key).expect("wrap");
        let again = FileKeyring::open(&dir.path().join("keyring.json"), MasterKey::from_file(&path).expect("read"))
            .expect("reopened with the same file");
        assert_eq!(again.unwrap(&wrapped).expect("unwrap").expose(), key.expose());
    }

    #[test]
    fn keys_wrap_unwrap_rotate_and_are_destroyed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keyring.json");
        let keyring = FileKeyring::open(&path, master()).expect("new keyring");
        let data_key = DataKey::generate().expect("data key");
        let first = keyring.wrap("RS:RS-MUP", &data_key).expect("wrap");
        assert_eq!(first.version, 1);
        assert_eq!(keyring.unwrap(&first).expect("unwrap").expose(), data_key.expose());

        // Another replica with the same file and master key reads it; a rotation there is seen here.
        let replica = FileKeyring::open(&path, master()).expect("replica");
        assert_eq!(replica.unwrap(&first).expect("unwrap").expose(), data_key.expose());
        assert_eq!(replica.rotate("RS:RS-MUP").expect("rotate"), 2);
        let second = replica.wrap("RS:RS-MUP", &data_key).expect("wrap");
        assert_eq!(second.version, 2);
        assert_eq!(keyring.unwrap(&second).expect("a new version is read from the file").expose(), data_key.expose());
        assert_eq!(keyring.unwrap(&first).expect("old versions still open").expose(), data_key.expose());

        // Not another organisation's key, not a key presented as another organisation's.
        let albanian = keyring.wrap("AL:AL-ASP", &data_key).expect("wrap");
        let moved = WrappedKey { organisation: "AL:AL-ASP".into(), ..first.clone() };
        assert!(keyring.unwrap(&moved).is_err());

        keyring.destroy("RS:RS-MUP").expect("destroy");
        assert!(matches!(keyring.unwrap(&first), Err(KeyringError::Destroyed(_))));
        assert!(
            matches!(replica.wrap("RS:RS-MUP", &data_key), Err(KeyringError::Destroyed(_))) || {
                replica.reload().expect("reload");
                matches!(replica.wrap("RS:RS-MUP", &data_key), Err(KeyringError::Destroyed(_)))
            }
        );
        assert!(keyring.unwrap(&albanian).is_ok(), "other organisations keep theirs");
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(!text.contains(MASTER), "the master key is not in the file");
    }

    /// A write cut off by a crash leaves a copy of the keyring beside it — perhaps from before
    /// a destruction, holding the destroyed keys. The next write removes it (and the fixed-name
    /// `keyring.tmp` of earlier versions); another keyring's files in the folder stay.
    #[test]
    fn a_write_removes_what_a_cut_off_write_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keyring.json");
        let keyring = FileKeyring::open(&path, master()).expect("new keyring");
        keyring.wrap("RS:RS-MUP", &DataKey::generate().expect("data key")).expect("wrap");
        let before_destruction = std::fs::read(&path).expect("file");
        let leftovers = [dir.path().join(".keyring.json-a1b2c3.tmp"), dir.path().join("keyring.tmp")];
        for leftover in &leftovers {
            std::fs::write(leftover, &before_destruction).expect("leftover");
        }
        let other = dir.path().join(".other.json-d4e5f6.tmp");
        std::fs::write(&other, b"another keyring's write in progress").expect("other");

        keyring.destroy("RS:RS-MUP").expect("destroy");
        for leftover in &leftovers {
            assert!(!leftover.exists(), "{} removed", leftover.display());
        }
        assert!(other.exists(), "another keyring's file stays");
        let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
        assert_eq!(files.len(), 3, "keyring.json, keyring.lock and the other's: {files:?}");
        assert_eq!(std::fs::metadata(&path).expect("file").permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_wrong_master_key_or_an_open_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keyring.json");
        FileKeyring::open(&path, master()).expect("new keyring");
        let other = MasterKey::from_base64(&BASE64.encode([9u8; 32])).expect("key");
        assert!(matches!(FileKeyring::open(&path, other), Err(KeyringError::WrongMasterKey(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(FileKeyring::open(&path, master()), Err(KeyringError::File { .. })));
        }
        assert!(MasterKey::from_base64("short").is_err());
        assert!(MasterKey::from_base64(&BASE64.encode([1u8; 16])).is_err(), "16 bytes is not AES-256");
    }

    #[test]
    fn replicas_starting_together_share_one_keyring() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keyring.json");
        let start = std::sync::Barrier::new(8);
        let wrapped: Vec<(FileKeyring, WrappedKey, [u8; 32])> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let keyring = FileKeyring::open(&path, master()).expect("every replica opens it");
                        let key = DataKey::generate().expect("key");
                        let wrapped = keyring.wrap("RS:RS-MUP", &key).expect("wrap");
                        (keyring, wrapped, *key.expose())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        for (keyring, _, _) in &wrapped {
            for (_, other, bytes) in &wrapped {
                assert_eq!(keyring.unwrap(other).expect("each reads every other's").expose(), bytes);
            }
        }
    }
}

//! Object storage of document bytes behind `object_store`: the local filesystem by default, S3 by
//! configuration. This module owns the key layout — keys are built from server-side ids only,
//! never from user input — and streams bytes in and out without holding a whole file in memory.

mod breaker;
mod sealed;
mod upload;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::chunked::ChunkedStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig};
use uuid::Uuid;

pub use sealed::Sealed;
pub use upload::{ReceivedObject, Upload};

use crate::config::{StorageKind, StorageSettings};
use breaker::Breaker;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage is misconfigured: {0}")]
    Config(String),
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("the upload exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload is empty")]
    Empty,
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The store failed repeatedly just now: not tried (see `breaker`).
    #[error("object store unavailable (breaker open)")]
    Unavailable,
    /// Encrypting an object failed (no randomness, or the keyring).
    #[error("encrypting the object: {0}")]
    Sealing(String),
    /// A stored encrypted object failed authentication: altered, truncated or misplaced. Its
    /// bytes are never served.
    #[error("the stored object failed its integrity check: {0}")]
    Tampered(String),
    /// The keys of the object's organisation were destroyed (crypto-shredding).
    #[error("the object's keys were destroyed")]
    KeysDestroyed,
}

/// Where an object lives. Only the constructors below make keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKey(Path);

impl ObjectKey {
    /// The bytes of one uploaded version: `documents/{uuid}/v{n}`.
    pub fn version(document: Uuid, slot: i32) -> Self {
        Self(Path::from(format!("documents/{document}/v{slot}")))
    }

    /// The extracted text stored next to a version's bytes: `documents/{uuid}/v{n}.txt`.
    pub fn text_of(version_key: &str) -> Self {
        Self(Path::from(format!("{version_key}.txt")))
    }

    /// The encrypted text one extraction attempt stores: `documents/{uuid}/v{n}.{attempt}.txt`.
    /// Each attempt writes its own object, so a worker whose lease lapsed mid-extraction never
    /// overwrites the text another worker recorded (sealed under that worker's data key, it
    /// would fail its integrity check for ever).
    pub fn text_of_attempt(version_key: &str) -> Self {
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        Self(Path::from(format!("{version_key}.{}.txt", &attempt[..8])))
    }

    /// Re-open a key previously produced here and stored in the database.
    pub fn from_stored(key: &str) -> Self {
        Self(Path::from(key))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

/// A byte range of a stored object, as served (`start..end`, end exclusive) with the total size.
pub struct Download {
    pub range: Range<u64>,
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
}

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    breaker: Arc<Breaker>,
    /// Part size of multipart writes: S3's minimum is 5 MiB.
    part_size: usize,
    /// With a keyring, new objects can be encrypted ([`Storage::begin_sealed_upload`]).
    keyring: Option<Arc<dyn crate::crypto::keyring::Keyring>>,
}

/// How much of a local file one read takes (and one piece of a download holds): about 256 KiB,
/// exactly four stored chunks of an encrypted object, so that a download's reads (which start
/// at a chunk) hold whole chunks, opened where they lie without being gathered.
const LOCAL_READ_BYTES: usize = 4 * crate::crypto::envelope::SEALED_CHUNK_LEN;

impl Storage {
    pub fn from_settings(settings: &StorageSettings) -> Result<Self, StorageError> {
        let store: Arc<dyn ObjectStore> = match settings.kind {
            StorageKind::Local => {
                std::fs::create_dir_all(&settings.path)
                    .map_err(|e| StorageError::Config(format!("creating storage.path `{}`: {e}", settings.path)))?;
                let local = LocalFileSystem::new_with_prefix(&settings.path)
                    .map_err(|e| StorageError::Config(format!("storage.path: {e}")))?;
                // Files are read in pieces of LOCAL_READ_BYTES, each on a blocking thread: the
                // store's own 8 KiB made a 1 GiB download cost some 10 CPU seconds in thread
                // hand-offs (`anaspoc bench --transfer`).
                Arc::new(ChunkedStore::new(Arc::new(local), LOCAL_READ_BYTES))
            }
            StorageKind::S3 => {
                // Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (from_env).
                // Bounded: a stalled or dead store fails a request within about
                // read_timeout × (max_retries + 1), never more than retry_timeout past its start.
                let client = ClientOptions::new()
                    .with_allow_http(settings.allow_http)
                    .with_connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
                    .with_read_timeout(Duration::from_millis(settings.read_timeout_ms))
                    .with_timeout_disabled();
                let retry = RetryConfig {
                    max_retries: settings.max_retries,
                    retry_timeout: Duration::from_millis(settings.retry_timeout_ms),
                    ..RetryConfig::default()
                };
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&settings.bucket)
                    .with_region(&settings.region)
                    .with_client_options(client)
                    .with_retry(retry);
                if !settings.endpoint.is_empty() {
                    builder = builder.with_endpoint(&settings.endpoint).with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build().map_err(|e| StorageError::Config(e.to_string()))?)
            }
        };
        // Several deployments (or test runs) can share a bucket, each under its own prefix.
        let prefix = settings.prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> =
            if prefix.is_empty() { store } else { Arc::new(PrefixStore::new(store, Path::from(prefix))) };
        let breaker = Breaker::new(settings.breaker_failures, Duration::from_millis(settings.breaker_cooldown_ms));
        Ok(Self { store, breaker: Arc::new(breaker), part_size: 5 * 1024 * 1024, keyring: None })
    }

    /// Begin streaming a new object to `key`. Nothing is visible at `key` until
    /// [`Upload::finish`]; [`Upload::abort`] (or dropping it) leaves nothing behind.
    pub async fn begin_upload(&self, key: ObjectKey, limit: u64) -> Result<Upload, StorageError> {
        self.breaker.admit()?;
        let multipart = self.guarded(self.store.put_multipart(&key.0).await.map_err(StorageError::from))?;
        Ok(Upload::new(key, multipart, self.part_size, limit, None))
    }

    /// Tell the breaker how a request ended, and pass its result on.
    fn guarded<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        self.breaker.record(&result);
        result
    }

    /// Stream the object, or the byte range `range` of it.
    pub async fn download(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<Download, StorageError> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
        self.breaker.admit()?;
        let result = self.guarded(self.store.get_opts(&key.0, options).await.map_err(|e| match e {
            object_store::Error::NotFound { path, .. } => StorageError::NotFound(path),
            other => StorageError::Store(other),
        }))?;
        let range = result.range.clone();
        let stream = result.into_stream().map_err(StorageError::Store).boxed();
        Ok(Download { range, stream })
    }

    /// Store a small file held in memory in one request, as [`Storage::begin_upload`] would
    /// stream it: refused when empty or over `limit`.
    pub async fn put_received(&self, key: ObjectKey, bytes: Bytes, limit: u64) -> Result<ReceivedObject, StorageError> {
        if bytes.is_empty() {
            return Err(StorageError::Empty);
        }
        if bytes.len() as u64 > limit {
            return Err(StorageError::TooLarge { limit });
        }
        let received = ReceivedObject::of(key, &bytes);
        self.put(received.key(), bytes).await?;
        Ok(received)
    }

    /// Store a small object in one request (extracted text).
    pub async fn put(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StorageError> {
        self.breaker.admit()?;
        self.guarded(self.store.put(&key.0, bytes.into()).await.map_err(StorageError::from))?;
        Ok(())
    }

    /// A small object as UTF-8 text (lossy).
    pub async fn read_to_string(&self, key: &ObjectKey) -> Result<String, StorageError> {
        self.breaker.admit()?;
        let result = self.guarded(self.store.get(&key.0).await.map_err(|e| match e {
            object_store::Error::NotFound { path, .. } => StorageError::NotFound(path),
            other => StorageError::Store(other),
        }))?;
        let bytes = self.guarded(result.bytes().await.map_err(StorageError::from))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.store.delete(&key.0).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        match self.store.head(&key.0).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Keys of the stored objects under `prefix` (operators' consistency checks, tests).
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let prefix = Path::from(prefix);
        Ok(self.store.list(Some(&prefix)).map_ok(|meta| meta.location.to_string()).try_collect().await?)
    }

    /// Readiness: the store answers (a listing of one key under `documents/`).
    pub async fn check_ready(&self) -> Result<(), String> {
        let prefix = Path::from("documents");
        let mut listing = self.store.list(Some(&prefix));
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(format!("object store unreachable: {e}")),
        }
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.store)
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectKey;

    #[test]
    fn each_extraction_attempt_stores_its_text_apart() {
        let version = ObjectKey::version(uuid::Uuid::new_v4(), 3);
        let first = ObjectKey::text_of_attempt(version.as_str());
        let second = ObjectKey::text_of_attempt(version.as_str());
        assert_ne!(first.as_str(), second.as_str(), "a lapsed attempt never writes over the next one's text");
        for text in [&first, &second] {
            let beside = text.as_str().strip_prefix(&format!("{}.", version.as_str()));
            assert!(beside.is_some_and(|rest| rest.ends_with(".txt")), "{}", text.as_str());
        }
    }
}
